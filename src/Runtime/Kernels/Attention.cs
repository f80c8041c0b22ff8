using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Causal multi-head self-attention (llm.c's attention_forward/backward, without its preatt buffer), with grouped-query
// attention: H query heads share KvH key/value heads, query head h reading kv head h / (H / KvH).
//   q    [B, T, qStride]: head h at channels h*hs .. (h+1)*hs       k, v  [B, T, kvStride]: kv head g at g*hs
//   GPT-2's fused rows qkv [B, T, 3C] = [q (C) | k (C) | v (C)] are q = qkv, k = qkv + C, v = qkv + 2C, strides 3C, KvH = H
//   att  [B, H, T, T]: softmax probabilities, att[b, h, t1, t2] for t2 <= t1; entries above the diagonal are 0
//   y    [B, T, H*hs]: y[b, t1, head h] = sum_{t2 <= t1} att[b, h, t1, t2] * v[b, t2, kv head of h] (heads concatenated)
//   scores = q . k / sqrt(hs); only the causal half (t2 <= t1) is computed.
// Backward accumulates (+=) into dq, dk, dv (the same layouts as q, k, v). Per (b, head, t1), with scale = 1 / sqrt(hs):
//   datt[t2] = dy[t1] . v[t2]                                   (in scratch, at least T floats)
//   dpre[t2] = att[t2] * (datt[t2] - sum_t2' att[t2'] * datt[t2'])
//   dq[t1] += scale * sum_t2 dpre[t2] k[t2];  dk[t2] += scale * dpre[t2] q[t1];  dv[t2] += att[t2] dy[t1]
// Every buffer is indexed with the T passed in (att is dense [B, H, T, T] for that T), and may be longer than
// needed (sized for the largest batch and context). An empty att is an inference pass: each row's probabilities
// live in a per-thread scratch row instead (the same arithmetic, no T x T map kept, so no backward).
// The loops run at the widest allowed vector width whose lane count divides hs: for hs = 32 or 64 that is Simd.Bits
// itself; an hs that is not a multiple of 4 (possible, but no model uses one) runs scalar. A group's keys (and, in
// backward, values) are transposed once into a per-thread buffer [hs][T], so that a row's scores (and datt) are
// vectors across keys, each score summed over d in order with one fused multiply-add (no horizontal sums, and the
// same value at every width); y sums its rows in registers. The softmax over a row uses every width.
// Parts for Parallelism.Threads are ranges of (batch, kv head) groups, which share no output: a group writes its heads'
// att rows and channels of y, and (backward) their q channels and its kv head's k, v channels (the query heads of a
// group run in order on one thread, so the k and v gradients they share add up in the same order on any thread count).
// Backward's scratch is the caller's on the calling thread and a per-thread buffer on pool threads.
public static unsafe class Attention
{
    /// <summary>GPT-2's fused layout: qkv [B, T, 3C] -> y [B, T, C], H heads of C / H.</summary>
    public static void Forward(ReadOnlySpan<float> qkv, Span<float> y, Span<float> att, int b, int t, int c, int h)
    {
        int hs = HeadSize(b, t, c, h);
        Check.AtLeast(qkv.Length, b * t, 3 * c, nameof(qkv));
        Forward(qkv, qkv[c..], qkv[(2 * c)..], 3 * c, 3 * c, y, att, b, t, h, h, hs);
    }

    /// <summary>
    /// q [B, T, qStride], k and v [B, T, kvStride] -> y [B, T, H * hs]; att [B, H, T, T] keeps the probabilities for the
    /// backward pass, or is empty (an inference pass: each row's probabilities live in a scratch row instead).
    /// </summary>
    public static void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int qStride, int kvStride,
        Span<float> y, Span<float> att, int b, int t, int h, int kvh, int hs)
    {
        CheckShape(q, k, v, qStride, kvStride, b, t, h, kvh, hs);
        Check.AtLeast(y.Length, b * t, h * hs, nameof(y));
        if (!att.IsEmpty) Check.AtLeast(att.Length, b * h * t, t, nameof(att));

        fixed (float* pq = q, pk = k, pv = v, py = y, patt = att)
        {
            var work = new ForwardWork
            {
                Q = pq, K = pk, V = pv, Y = py, Att = patt, Keep = !att.IsEmpty, QStride = qStride, KvStride = kvStride,
                T = t, H = h, Group = h / kvh, Hs = hs, Bits = Simd.Bits,
            };
            int groups = b * kvh;
            // Per head: t (t + 1) / 2 scores and as many axpys over hs, plus the softmax.
            int parts = Parallelism.Parts((long)b * h * t * (t + 1) / 2 * (2 * hs + 8), groups);
            work.Groups = new Split(groups, parts, 1);
            WorkerPool.For(ref work, parts);
        }
    }

    // Groups (batch, kv head) [s, e), index bb * KvH + g: each writes only its heads' att rows and y channels.
    // Without Keep, every row goes through the thread's scratch row (T floats) instead of att.
    struct ForwardWork : IPartitionedWork
    {
        public float* Q, K, V, Y, Att;
        public bool Keep;
        public int QStride, KvStride, T, H, Group, Hs, Bits;
        public Split Groups;

        public void Run(int part, int worker)
        {
            int s = Groups.Start(part), e = Groups.End(part);
            if (s >= e) return;
            int hs = Hs, bits = Bits;
            var l = new Heads(Q, K, V, QStride, KvStride, T, H, Group, Hs);
            ref float y = ref *Y;
            ref float att = ref Keep ? ref *Att : ref MemoryMarshal.GetReference(WorkerPool.ThreadScratch(T));
            if (bits >= 512 && hs % Simd512.Count == 0) Forward<Simd512, F512>(bits, l, ref y, ref att, Keep, s, e);
            else if (bits >= 256 && hs % Simd256.Count == 0) Forward<Simd256, F256>(bits, l, ref y, ref att, Keep, s, e);
            else if (bits >= 128 && hs % Simd128.Count == 0) Forward<Simd128, F128>(bits, l, ref y, ref att, Keep, s, e);
            else Forward<Scalar, float>(bits, l, ref y, ref att, Keep, s, e);
        }
    }

    /// <summary>GPT-2's fused layout: dy [B, T, C] -> dqkv [B, T, 3C] (accumulated).</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> qkv, ReadOnlySpan<float> att,
        Span<float> dqkv, Span<float> scratch, int b, int t, int c, int h)
    {
        int hs = HeadSize(b, t, c, h);
        Check.AtLeast(qkv.Length, b * t, 3 * c, nameof(qkv));
        Check.AtLeast(dqkv.Length, b * t, 3 * c, nameof(dqkv));
        Backward(dy, qkv, qkv[c..], qkv[(2 * c)..], 3 * c, 3 * c, att, dqkv, dqkv[c..], dqkv[(2 * c)..], scratch, b, t, h, h, hs);
    }

    /// <summary>dy [B, T, H * hs] -> dq, dk, dv (accumulated, in the layouts of q, k, v), from the forward's att.</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        int qStride, int kvStride, ReadOnlySpan<float> att, Span<float> dq, Span<float> dk, Span<float> dv, Span<float> scratch,
        int b, int t, int h, int kvh, int hs)
    {
        CheckShape(q, k, v, qStride, kvStride, b, t, h, kvh, hs);
        CheckShape(dq, dk, dv, qStride, kvStride, b, t, h, kvh, hs);
        Check.AtLeast(dy.Length, b * t, h * hs, nameof(dy));
        Check.AtLeast(att.Length, b * h * t, t, nameof(att));
        Check.AtLeast(scratch.Length, t, nameof(scratch));

        fixed (float* pdy = dy, pq = q, pk = k, pv = v, patt = att, pdq = dq, pdk = dk, pdv = dv, ps = scratch)
        {
            var work = new BackwardWork
            {
                Dy = pdy, Q = pq, K = pk, V = pv, Att = patt, Dq = pdq, Dk = pdk, Dv = pdv, Scratch = ps,
                QStride = qStride, KvStride = kvStride, T = t, H = h, Group = h / kvh, Hs = hs, Bits = Simd.Bits,
            };
            int groups = b * kvh;
            // Per head: t (t + 1) / 2 dot products, three axpys over hs and the softmax backward.
            int parts = Parallelism.Parts((long)b * h * t * (t + 1) / 2 * (4 * hs + 8), groups);
            work.Groups = new Split(groups, parts, 1);
            WorkerPool.For(ref work, parts);
        }
    }

    // Groups [s, e): a group adds only into its heads' q channels and its kv head's k and v channels. The caller's
    // scratch serves the calling thread; a pool thread uses its own.
    struct BackwardWork : IPartitionedWork
    {
        public float* Dy, Q, K, V, Att, Dq, Dk, Dv, Scratch;
        public int QStride, KvStride, T, H, Group, Hs, Bits;
        public Split Groups;

        public void Run(int part, int worker)
        {
            int s = Groups.Start(part), e = Groups.End(part);
            if (s >= e) return;
            int hs = Hs, bits = Bits;
            var l = new Heads(Q, K, V, QStride, KvStride, T, H, Group, Hs);
            var d = new Heads(Dq, Dk, Dv, QStride, KvStride, T, H, Group, Hs);
            ref float dy = ref *Dy;
            ref float att = ref *Att;
            ref float rs = ref worker == 0 ? ref *Scratch : ref MemoryMarshal.GetReference(WorkerPool.ThreadScratch(T));
            if (bits >= 512 && hs % Simd512.Count == 0) Backward<Simd512, F512>(bits, ref dy, l, ref att, d, ref rs, s, e);
            else if (bits >= 256 && hs % Simd256.Count == 0) Backward<Simd256, F256>(bits, ref dy, l, ref att, d, ref rs, s, e);
            else if (bits >= 128 && hs % Simd128.Count == 0) Backward<Simd128, F128>(bits, ref dy, l, ref att, d, ref rs, s, e);
            else Backward<Scalar, float>(bits, ref dy, l, ref att, d, ref rs, s, e);
        }
    }

    /// <summary>Where a head's rows start: query head hh of batch bb, and its kv head (hh / Group).</summary>
    readonly struct Heads(float* q, float* k, float* v, int qStride, int kvStride, int t, int h, int group, int hs)
    {
        public readonly int QStride = qStride, KvStride = kvStride, T = t, H = h, Group = group, Hs = hs;
        public ref float Q(int bb, int hh) => ref *(q + (nint)bb * T * QStride + hh * Hs);
        public ref float K(int bb, int hh) => ref *(k + (nint)bb * T * KvStride + hh / Group * Hs);
        public ref float V(int bb, int hh) => ref *(v + (nint)bb * T * KvStride + hh / Group * Hs);
    }

    // hs is a multiple of S.Count; bits is for the softmax rows. Groups [g0, g1), group = bb * KvH + kv head; a group's
    // query heads in order. Without keep, att is one scratch row that every row reuses.
    static void Forward<S, V>(int bits, Heads l, ref float y, ref float att, bool keep, int g0, int g1)
        where S : struct, ISimd<V> where V : struct
    {
        int hs = l.Hs, t = l.T, h = l.H, kvh = h / l.Group;
        float scale = 1f / MathF.Sqrt(hs);
        nint qs = l.QStride, kvs = l.KvStride, ys = (nint)h * hs;
        ref float kt = ref MemoryMarshal.GetArrayDataReference(TransposedScratch(hs * t + TransposedPad));
        for (int group = g0; group < g1; group++)
        {
            int bb = group / kvh, first = group % kvh * l.Group;
            // The group's keys once, transposed: kt [hs][T], so a row's scores are vectors across keys.
            TransposeRows(ref l.K(bb, first), kvs, t, hs, ref kt);
            for (int hh = first, end = first + l.Group; hh < end; hh++)
            {
                ref float q0 = ref l.Q(bb, hh);
                ref float v0 = ref l.V(bb, hh);
                for (int t1 = 0; t1 < t; t1++)
                {
                    ref float row = ref keep ? ref Unsafe.Add(ref att, (((nint)bb * h + hh) * t + t1) * t) : ref att;
                    int len = t1 + 1;

                    // Scores q . k[t2] * scale for t2 <= t1, then the softmax in place.
                    float max = DotsAcross<S, V>(ref Unsafe.Add(ref q0, t1 * qs), ref kt, t, hs, len, scale, ref row);
                    float sum = ExpShifted(bits, ref row, max, len);
                    VectorMath.Scale(bits, 1f / sum, ref row, len);
                    if (keep) MemoryMarshal.CreateSpan(ref Unsafe.Add(ref row, len), t - len).Clear();

                    // y[t1] = sum_t2 att[t2] v[t2]
                    WeightedRows<S, V>(ref row, ref v0, kvs, len, hs, ref Unsafe.Add(ref y, ((nint)bb * t + t1) * ys + hh * hs));
                }
            }
        }
    }

    [ThreadStatic] static float[]? t_transposed;

    /// <summary>This thread's buffer for a head's transposed keys (or values), grown once: no allocation per call.</summary>
    static float[] TransposedScratch(int length) =>
        t_transposed is { } a && a.Length >= length ? a : t_transposed = new float[Math.Max(length, 1024)];

    /// <summary>dst [hs][t] = rows [t][hs] (rows <paramref name="stride"/> apart).</summary>
    static void TransposeRows(ref float rows, nint stride, int t, int hs, ref float dst)
    {
        for (int t2 = 0; t2 < t; t2++)
        {
            ref float r = ref Unsafe.Add(ref rows, t2 * stride);
            for (int d = 0; d < hs; d++) Unsafe.Add(ref dst, (nint)d * t + t2) = Unsafe.Add(ref r, d);
        }
    }

    /// <summary>
    /// out[t2] = (a . m[t2]) * scale for t2 &lt; len from the transposed rows mt [hs][ld] (m[t2][d] = mt[d * ld + t2]);
    /// returns the largest. Vectors run across t2, four at a time sharing each broadcast of a[d], so there are no
    /// horizontal sums and four independent chains of multiply-adds; the last, partial vector is computed whole (mt must
    /// have <see cref="TransposedPad"/> readable floats past its end) and only its first lanes are kept. Each score is its
    /// hs products summed in order of d, one fused multiply-add each, so it is the same value whatever the width.
    /// </summary>
    static float DotsAcross<S, V>(ref float a, ref float mt, nint ld, int hs, int len, float scale, ref float result)
        where S : struct, ISimd<V> where V : struct
    {
        int w = S.Count;
        V vmax = S.Splat(float.NegativeInfinity), vs = S.Splat(scale);
        float max = float.NegativeInfinity;
        for (int t2 = 0; t2 < len; t2 += 4 * w)
        {
            V s0 = S.Zero, s1 = S.Zero, s2 = S.Zero, s3 = S.Zero;
            ref float m = ref Unsafe.Add(ref mt, t2);
            for (int d = 0; d < hs; d++, m = ref Unsafe.Add(ref m, ld))
            {
                V ad = S.Splat(Unsafe.Add(ref a, d));
                s0 = S.MulAdd(ad, S.Load(ref m), s0);
                s1 = S.MulAdd(ad, S.Load(ref Unsafe.Add(ref m, w)), s1);
                s2 = S.MulAdd(ad, S.Load(ref Unsafe.Add(ref m, 2 * w)), s2);
                s3 = S.MulAdd(ad, S.Load(ref Unsafe.Add(ref m, 3 * w)), s3);
            }
            ref float r = ref Unsafe.Add(ref result, t2);
            int left = len - t2;
            Keep<S, V>(S.Mul(s0, vs), ref r, left, ref vmax, ref max);
            if (left > w) Keep<S, V>(S.Mul(s1, vs), ref Unsafe.Add(ref r, w), left - w, ref vmax, ref max);
            if (left > 2 * w) Keep<S, V>(S.Mul(s2, vs), ref Unsafe.Add(ref r, 2 * w), left - 2 * w, ref vmax, ref max);
            if (left > 3 * w) Keep<S, V>(S.Mul(s3, vs), ref Unsafe.Add(ref r, 3 * w), left - 3 * w, ref vmax, ref max);
        }
        return MathF.Max(max, S.MaxAcross(vmax));
    }

    /// <summary>Stores the first <paramref name="count"/> lanes of v (all when count &gt;= the width) and takes their maximum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Keep<S, V>(V v, ref float dst, int count, ref V vmax, ref float max) where S : struct, ISimd<V> where V : struct
    {
        if (count >= S.Count)
        {
            S.Store(v, ref dst);
            vmax = S.Max(vmax, v);
            return;
        }
        for (int j = 0; j < count; j++)
        {
            float x = Unsafe.Add(ref Unsafe.As<V, float>(ref v), j);
            Unsafe.Add(ref dst, j) = x;
            max = MathF.Max(max, x);
        }
    }

    /// <summary>Floats a transposed buffer has readable past hs * T: the widest vector's four blocks.</summary>
    const int TransposedPad = 64;

    /// <summary>
    /// y [hs] = sum_t2 p[t2] v[t2] over t2 &lt; len (v rows <paramref name="stride"/> apart), in order of t2 with one
    /// fused multiply-add each, y's vectors in registers (two at a time) across the whole sum.
    /// </summary>
    static void WeightedRows<S, V>(ref float p, ref float v, nint stride, int len, int hs, ref float y)
        where S : struct, ISimd<V> where V : struct
    {
        int w = S.Count, d = 0;
        for (; d + 2 * w <= hs; d += 2 * w)
        {
            V y0 = S.Zero, y1 = S.Zero;
            ref float vd = ref Unsafe.Add(ref v, d);
            for (int t2 = 0; t2 < len; t2++, vd = ref Unsafe.Add(ref vd, stride))
            {
                V pt = S.Splat(Unsafe.Add(ref p, t2));
                y0 = S.MulAdd(pt, S.Load(ref vd), y0);
                y1 = S.MulAdd(pt, S.Load(ref Unsafe.Add(ref vd, w)), y1);
            }
            S.Store(y0, ref Unsafe.Add(ref y, d));
            S.Store(y1, ref Unsafe.Add(ref y, d + w));
        }
        for (; d < hs; d += w)
        {
            V y0 = S.Zero;
            ref float vd = ref Unsafe.Add(ref v, d);
            for (int t2 = 0; t2 < len; t2++, vd = ref Unsafe.Add(ref vd, stride))
                y0 = S.MulAdd(S.Splat(Unsafe.Add(ref p, t2)), S.Load(ref vd), y0);
            S.Store(y0, ref Unsafe.Add(ref y, d));
        }
    }

    static void Backward<S, V>(int bits, ref float dy, Heads l, ref float att, Heads d, ref float scratch, int g0, int g1)
        where S : struct, ISimd<V> where V : struct
    {
        int hs = l.Hs, t = l.T, h = l.H, kvh = h / l.Group;
        float scale = 1f / MathF.Sqrt(hs);
        nint qs = l.QStride, kvs = l.KvStride, ys = (nint)h * hs;
        ref float vt = ref MemoryMarshal.GetArrayDataReference(TransposedScratch(hs * t + TransposedPad));
        for (int group = g0; group < g1; group++)
        {
            int first = group % kvh * l.Group;
            // The group's values once, transposed: vt [hs][T], for the datt dot products across keys.
            TransposeRows(ref l.V(group / kvh, first), kvs, t, hs, ref vt);
            for (int hh = first, end = first + l.Group; hh < end; hh++)
            {
                int bb = group / kvh;
                ref float q0 = ref l.Q(bb, hh);
                ref float k0 = ref l.K(bb, hh);
                ref float dq0 = ref d.Q(bb, hh);
                ref float dk0 = ref d.K(bb, hh);
                ref float dv0 = ref d.V(bb, hh);
                for (int t1 = 0; t1 < t; t1++)
                {
                    ref float row = ref Unsafe.Add(ref att, (((nint)bb * h + hh) * t + t1) * t);
                    ref float dyr = ref Unsafe.Add(ref dy, ((nint)bb * t + t1) * ys + hh * hs);
                    int len = t1 + 1;

                    // datt[t2] = dy[t1] . v[t2] (into scratch); dv[t2] += att[t2] dy[t1]
                    DotsAcross<S, V>(ref dyr, ref vt, t, hs, len, 1f, ref scratch);
                    AddOuter<S, V>(ref row, ref dyr, ref dv0, kvs, len, hs);

                    // Softmax backward: g[t2] = att[t2] (datt[t2] - sum att * datt) * scale, in place in scratch.
                    float weighted = VectorMath.Dot(bits, ref row, ref scratch, len);
                    SoftmaxBackwardRow<S, V>(ref row, ref scratch, weighted, scale, len);

                    // dq[t1] += sum_t2 g[t2] k[t2]; dk[t2] += g[t2] q[t1]
                    ref float q = ref Unsafe.Add(ref q0, t1 * qs);
                    ref float dq = ref Unsafe.Add(ref dq0, t1 * qs);
                    int w = S.Count, dd = 0;
                    for (; dd + 2 * w <= hs; dd += 2 * w)
                    {
                        V qa = S.Load(ref Unsafe.Add(ref q, dd)), qb = S.Load(ref Unsafe.Add(ref q, dd + w));
                        V acca = S.Load(ref Unsafe.Add(ref dq, dd)), accb = S.Load(ref Unsafe.Add(ref dq, dd + w));
                        ref float kd = ref Unsafe.Add(ref k0, dd);
                        ref float dkd = ref Unsafe.Add(ref dk0, dd);
                        for (int t2 = 0; t2 < len; t2++, kd = ref Unsafe.Add(ref kd, kvs), dkd = ref Unsafe.Add(ref dkd, kvs))
                        {
                            V g = S.Splat(Unsafe.Add(ref scratch, t2));
                            acca = S.MulAdd(g, S.Load(ref kd), acca);
                            accb = S.MulAdd(g, S.Load(ref Unsafe.Add(ref kd, w)), accb);
                            S.Store(S.MulAdd(g, qa, S.Load(ref dkd)), ref dkd);
                            ref float dkb = ref Unsafe.Add(ref dkd, w);
                            S.Store(S.MulAdd(g, qb, S.Load(ref dkb)), ref dkb);
                        }
                        S.Store(acca, ref Unsafe.Add(ref dq, dd));
                        S.Store(accb, ref Unsafe.Add(ref dq, dd + w));
                    }
                    for (; dd < hs; dd += w)
                    {
                        V qv = S.Load(ref Unsafe.Add(ref q, dd));
                        V acc = S.Load(ref Unsafe.Add(ref dq, dd));
                        ref float kd = ref Unsafe.Add(ref k0, dd);
                        ref float dkd = ref Unsafe.Add(ref dk0, dd);
                        for (int t2 = 0; t2 < len; t2++, kd = ref Unsafe.Add(ref kd, kvs), dkd = ref Unsafe.Add(ref dkd, kvs))
                        {
                            V g = S.Splat(Unsafe.Add(ref scratch, t2));
                            acc = S.MulAdd(g, S.Load(ref kd), acc);
                            S.Store(S.MulAdd(g, qv, S.Load(ref dkd)), ref dkd);
                        }
                        S.Store(acc, ref Unsafe.Add(ref dq, dd));
                    }
                }
            }
        }
    }

    /// <summary>m[t2] += p[t2] x for t2 &lt; len (m rows <paramref name="stride"/> apart, hs floats each); x's vectors stay in registers.</summary>
    static void AddOuter<S, V>(ref float p, ref float x, ref float m, nint stride, int len, int hs) where S : struct, ISimd<V> where V : struct
    {
        int w = S.Count, d = 0;
        for (; d + 2 * w <= hs; d += 2 * w)
        {
            V xa = S.Load(ref Unsafe.Add(ref x, d)), xb = S.Load(ref Unsafe.Add(ref x, d + w));
            ref float md = ref Unsafe.Add(ref m, d);
            for (int t2 = 0; t2 < len; t2++, md = ref Unsafe.Add(ref md, stride))
            {
                V pt = S.Splat(Unsafe.Add(ref p, t2));
                S.Store(S.MulAdd(pt, xa, S.Load(ref md)), ref md);
                ref float mb = ref Unsafe.Add(ref md, w);
                S.Store(S.MulAdd(pt, xb, S.Load(ref mb)), ref mb);
            }
        }
        for (; d < hs; d += w)
        {
            V xa = S.Load(ref Unsafe.Add(ref x, d));
            ref float md = ref Unsafe.Add(ref m, d);
            for (int t2 = 0; t2 < len; t2++, md = ref Unsafe.Add(ref md, stride))
                S.Store(S.MulAdd(S.Splat(Unsafe.Add(ref p, t2)), xa, S.Load(ref md)), ref md);
        }
    }

    /// <summary>g[t2] = att[t2] (g[t2] - weighted) * scale for t2 &lt; len, in whole vectors and a scalar tail (the same arithmetic).</summary>
    static void SoftmaxBackwardRow<S, V>(ref float att, ref float g, float weighted, float scale, int len) where S : struct, ISimd<V> where V : struct
    {
        int t2 = 0;
        V vw = S.Splat(weighted), vs = S.Splat(scale);
        for (; t2 + S.Count <= len; t2 += S.Count)
        {
            ref float gt = ref Unsafe.Add(ref g, t2);
            S.Store(S.Mul(S.Mul(S.Load(ref Unsafe.Add(ref att, t2)), S.Sub(S.Load(ref gt), vw)), vs), ref gt);
        }
        for (; t2 < len; t2++)
        {
            ref float gt = ref Unsafe.Add(ref g, t2);
            gt = Unsafe.Add(ref att, t2) * (gt - weighted) * scale;
        }
    }

    static void CheckShape(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int qStride, int kvStride,
        int b, int t, int h, int kvh, int hs)
    {
        if (b < 0 || t < 0) throw new ArgumentOutOfRangeException(nameof(b), "b and t must not be negative");
        if (h <= 0 || kvh <= 0 || h % kvh != 0) throw new ArgumentOutOfRangeException(nameof(kvh), kvh, $"{kvh} kv heads must divide {h} query heads");
        if (hs <= 0 || qStride < h * hs || kvStride < kvh * hs) throw new ArgumentOutOfRangeException(nameof(hs), hs, "the strides must hold every head");
        long rows = (long)b * t;
        if (rows == 0) return;
        if (q.Length < (rows - 1) * qStride + h * hs) throw new ArgumentException($"q has length {q.Length}, too short for {rows} rows", nameof(q));
        if (k.Length < (rows - 1) * kvStride + kvh * hs) throw new ArgumentException($"k has length {k.Length}, too short for {rows} rows", nameof(k));
        if (v.Length < (rows - 1) * kvStride + kvh * hs) throw new ArgumentException($"v has length {v.Length}, too short for {rows} rows", nameof(v));
    }

    static int HeadSize(int b, int t, int c, int h)
    {
        if (b < 0) throw new ArgumentOutOfRangeException(nameof(b), b, "b must not be negative");
        if (t < 0) throw new ArgumentOutOfRangeException(nameof(t), t, "t must not be negative");
        if (h <= 0) throw new ArgumentOutOfRangeException(nameof(h), h, "h must be positive");
        if (c <= 0 || c % h != 0) throw new ArgumentOutOfRangeException(nameof(c), c, $"c must be a positive multiple of h = {h}");
        return c / h;
    }

    /// <summary>x = exp(x - shift) in place; returns sum(x).</summary>
    static float ExpShifted(int bits, ref float x, float shift, int n)
    {
        int i = 0;
        float s = 0f;
        if (bits >= 512) s += ExpShifted<Simd512, F512>(ref x, shift, ref i, n);
        if (bits >= 256) s += ExpShifted<Simd256, F256>(ref x, shift, ref i, n);
        if (bits >= 128) s += ExpShifted<Simd128, F128>(ref x, shift, ref i, n);
        return s + ExpShifted<Scalar, float>(ref x, shift, ref i, n);
    }

    static float ExpShifted<S, V>(ref float x, float shift, ref int i, int n) where S : struct, ISimd<V> where V : struct
    {
        if (i + S.Count > n) return 0f;
        V vs = S.Splat(shift), acc = S.Zero;
        for (; i + S.Count <= n; i += S.Count)
        {
            ref float xi = ref Unsafe.Add(ref x, i);
            V e = S.Exp(S.Sub(S.Load(ref xi), vs));
            S.Store(e, ref xi);
            acc = S.Add(acc, e);
        }
        return S.Sum(acc);
    }
}
