using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Causal multi-head self-attention, GPT-2 layout (llm.c's attention_forward/backward, without its preatt buffer).
//   qkv  [B, T, 3C]: row (b, t) is [q (C) | k (C) | v (C)]; head h uses channels h*hs .. (h+1)*hs, hs = C / H
//   att  [B, H, T, T]: softmax probabilities, att[b, h, t1, t2] for t2 <= t1; entries above the diagonal are 0
//   y    [B, T, C]: y[b, t1, head h] = sum_{t2 <= t1} att[b, h, t1, t2] * v[b, t2, head h] (heads concatenated)
//   scores = q . k / sqrt(hs); only the causal half (t2 <= t1) is computed.
// Backward accumulates (+=) into dqkv [B, T, 3C]. Per (b, head, t1), with scale = 1 / sqrt(hs):
//   datt[t2] = dy[t1] . v[t2]                                   (in scratch, at least T floats)
//   dpre[t2] = att[t2] * (datt[t2] - sum_t2' att[t2'] * datt[t2'])
//   dq[t1] += scale * sum_t2 dpre[t2] k[t2];  dk[t2] += scale * dpre[t2] q[t1];  dv[t2] += att[t2] dy[t1]
// Every buffer is indexed with the T passed in (att is dense [B, H, T, T] for that T), and may be longer than
// needed (sized for the largest batch and context). An empty att is an inference pass: each row's probabilities
// live in a per-thread scratch row instead (the same arithmetic, no T x T map kept, so no backward).
// The head-size loops (dot products over hs, axpys into rows of hs) run at the widest allowed vector width whose
// lane count divides hs, with no tail: for hs = 32 or 64 that is Simd.Bits itself; an hs that is not a multiple
// of 4 (possible, but no model uses one) runs scalar. Keys are taken four at a time, so that each load of q (or
// dy) serves four dot products. The softmax over a row uses every width, like the other kernels.
// Parts for Parallelism.Threads are ranges of (batch, head) pairs, which share no output: a pair writes its own att
// rows, its head's channels of y, and (backward) its head's q, k, v channels of dqkv. Backward's scratch is the
// caller's on the calling thread and a per-thread buffer on pool threads. Results do not depend on the thread count.
public static unsafe class Attention
{
    public static void Forward(ReadOnlySpan<float> qkv, Span<float> y, Span<float> att, int b, int t, int c, int h)
    {
        int hs = HeadSize(b, t, c, h);
        Check.AtLeast(qkv.Length, b * t, 3 * c, nameof(qkv));
        Check.AtLeast(y.Length, b * t, c, nameof(y));
        if (!att.IsEmpty) Check.AtLeast(att.Length, b * h * t, t, nameof(att));

        fixed (float* pqkv = qkv, py = y, patt = att)
        {
            var work = new ForwardWork { Qkv = pqkv, Y = py, Att = patt, Keep = !att.IsEmpty, T = t, C = c, H = h, Bits = Simd.Bits };
            int pairs = b * h;
            // Per pair: t (t + 1) / 2 scores and as many axpys over hs, plus the softmax.
            int parts = Parallelism.Parts((long)pairs * t * (t + 1) / 2 * (2 * hs + 8), pairs);
            work.Pairs = new Split(pairs, parts, 1);
            WorkerPool.For(ref work, parts);
        }
    }

    // Pairs (batch, head) [s, e), pair index bb * H + hh: each writes only its own att rows and its head's y channels.
    // Without Keep, every row goes through the thread's scratch row (T floats) instead of att.
    struct ForwardWork : IPartitionedWork
    {
        public float* Qkv, Y, Att;
        public bool Keep;
        public int T, C, H, Bits;
        public Split Pairs;

        public void Run(int part, int worker)
        {
            int s = Pairs.Start(part), e = Pairs.End(part);
            if (s >= e) return;
            int hs = C / H, bits = Bits;
            ref float qkv = ref *Qkv;
            ref float y = ref *Y;
            ref float att = ref Keep ? ref *Att : ref MemoryMarshal.GetReference(WorkerPool.ThreadScratch(T));
            if (bits >= 512 && hs % Simd512.Count == 0) Forward<Simd512, F512>(bits, ref qkv, ref y, ref att, Keep, T, C, H, s, e);
            else if (bits >= 256 && hs % Simd256.Count == 0) Forward<Simd256, F256>(bits, ref qkv, ref y, ref att, Keep, T, C, H, s, e);
            else if (bits >= 128 && hs % Simd128.Count == 0) Forward<Simd128, F128>(bits, ref qkv, ref y, ref att, Keep, T, C, H, s, e);
            else Forward<Scalar, float>(bits, ref qkv, ref y, ref att, Keep, T, C, H, s, e);
        }
    }

    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> qkv, ReadOnlySpan<float> att,
        Span<float> dqkv, Span<float> scratch, int b, int t, int c, int h)
    {
        int hs = HeadSize(b, t, c, h);
        Check.AtLeast(dy.Length, b * t, c, nameof(dy));
        Check.AtLeast(qkv.Length, b * t, 3 * c, nameof(qkv));
        Check.AtLeast(att.Length, b * h * t, t, nameof(att));
        Check.AtLeast(dqkv.Length, b * t, 3 * c, nameof(dqkv));
        Check.AtLeast(scratch.Length, t, nameof(scratch));

        fixed (float* pdy = dy, pqkv = qkv, patt = att, pdqkv = dqkv, ps = scratch)
        {
            var work = new BackwardWork
            {
                Dy = pdy, Qkv = pqkv, Att = patt, Dqkv = pdqkv, Scratch = ps, T = t, C = c, H = h, Bits = Simd.Bits,
            };
            int pairs = b * h;
            // Per pair: t (t + 1) / 2 dot products, three axpys over hs and the softmax backward.
            int parts = Parallelism.Parts((long)pairs * t * (t + 1) / 2 * (4 * hs + 8), pairs);
            work.Pairs = new Split(pairs, parts, 1);
            WorkerPool.For(ref work, parts);
        }
    }

    // Pairs [s, e): a pair adds only into its own head's q, k and v channels of its batch's dqkv rows. The caller's
    // scratch serves the calling thread; a pool thread uses its own.
    struct BackwardWork : IPartitionedWork
    {
        public float* Dy, Qkv, Att, Dqkv, Scratch;
        public int T, C, H, Bits;
        public Split Pairs;

        public void Run(int part, int worker)
        {
            int s = Pairs.Start(part), e = Pairs.End(part);
            if (s >= e) return;
            int hs = C / H, bits = Bits;
            ref float dy = ref *Dy;
            ref float qkv = ref *Qkv;
            ref float att = ref *Att;
            ref float dqkv = ref *Dqkv;
            ref float rs = ref worker == 0 ? ref *Scratch : ref MemoryMarshal.GetReference(WorkerPool.ThreadScratch(T));
            if (bits >= 512 && hs % Simd512.Count == 0) Backward<Simd512, F512>(bits, ref dy, ref qkv, ref att, ref dqkv, ref rs, T, C, H, s, e);
            else if (bits >= 256 && hs % Simd256.Count == 0) Backward<Simd256, F256>(bits, ref dy, ref qkv, ref att, ref dqkv, ref rs, T, C, H, s, e);
            else if (bits >= 128 && hs % Simd128.Count == 0) Backward<Simd128, F128>(bits, ref dy, ref qkv, ref att, ref dqkv, ref rs, T, C, H, s, e);
            else Backward<Scalar, float>(bits, ref dy, ref qkv, ref att, ref dqkv, ref rs, T, C, H, s, e);
        }
    }

    // hs is a multiple of S.Count; bits is for the softmax rows. Pairs [p0, p1), pair = bb * h + hh. Without keep, att is
    // one scratch row that every row reuses.
    static void Forward<S, V>(int bits, ref float qkv, ref float y, ref float att, bool keep, int t, int c, int h, int p0, int p1)
        where S : struct, ISimd<V> where V : struct
    {
        int hs = c / h;
        float scale = 1f / MathF.Sqrt(hs);
        nint c3 = 3 * c;
        for (int pair = p0; pair < p1; pair++)
        {
            int bb = pair / h, hh = pair % h;
            ref float qkvB = ref Unsafe.Add(ref qkv, bb * t * c3);
            ref float q0 = ref Unsafe.Add(ref qkvB, hh * hs);
            ref float k0 = ref Unsafe.Add(ref q0, c);
            ref float v0 = ref Unsafe.Add(ref q0, 2 * c);
            for (int t1 = 0; t1 < t; t1++)
            {
                ref float row = ref keep ? ref Unsafe.Add(ref att, (((nint)bb * h + hh) * t + t1) * t) : ref att;
                int len = t1 + 1;

                // Scores q . k[t2] * scale for t2 <= t1, then the softmax in place.
                float max = Dots<S, V>(ref Unsafe.Add(ref q0, t1 * c3), ref k0, c3, hs, len, scale, ref row);
                float sum = ExpShifted(bits, ref row, max, len);
                VectorMath.Scale(bits, 1f / sum, ref row, len);
                if (keep) MemoryMarshal.CreateSpan(ref Unsafe.Add(ref row, len), t - len).Clear();

                // y[t1] = sum_t2 att[t2] v[t2]
                ref float yr = ref Unsafe.Add(ref y, ((nint)bb * t + t1) * c + hh * hs);
                MemoryMarshal.CreateSpan(ref yr, hs).Clear();
                for (int t2 = 0; t2 < len; t2++)
                    Axpy<S, V>(Unsafe.Add(ref row, t2), ref Unsafe.Add(ref v0, t2 * c3), ref yr, hs);
            }
        }
    }

    static void Backward<S, V>(int bits, ref float dy, ref float qkv, ref float att, ref float dqkv, ref float scratch, int t, int c, int h, int p0, int p1)
        where S : struct, ISimd<V> where V : struct
    {
        int hs = c / h;
        float scale = 1f / MathF.Sqrt(hs);
        nint c3 = 3 * c;
        for (int pair = p0; pair < p1; pair++)
        {
            int bb = pair / h, hh = pair % h;
            ref float qkvB = ref Unsafe.Add(ref qkv, bb * t * c3);
            ref float dqkvB = ref Unsafe.Add(ref dqkv, bb * t * c3);
            ref float q0 = ref Unsafe.Add(ref qkvB, hh * hs);
            ref float k0 = ref Unsafe.Add(ref q0, c);
            ref float v0 = ref Unsafe.Add(ref q0, 2 * c);
            ref float dq0 = ref Unsafe.Add(ref dqkvB, hh * hs);
            ref float dk0 = ref Unsafe.Add(ref dq0, c);
            ref float dv0 = ref Unsafe.Add(ref dq0, 2 * c);
            for (int t1 = 0; t1 < t; t1++)
            {
                ref float row = ref Unsafe.Add(ref att, (((nint)bb * h + hh) * t + t1) * t);
                ref float dyr = ref Unsafe.Add(ref dy, ((nint)bb * t + t1) * c + hh * hs);
                int len = t1 + 1;

                // datt[t2] = dy[t1] . v[t2] (into scratch); dv[t2] += att[t2] dy[t1]
                Dots<S, V>(ref dyr, ref v0, c3, hs, len, 1f, ref scratch);
                for (int t2 = 0; t2 < len; t2++)
                    Axpy<S, V>(Unsafe.Add(ref row, t2), ref dyr, ref Unsafe.Add(ref dv0, t2 * c3), hs);

                // Softmax backward: g[t2] = att[t2] (datt[t2] - sum att * datt) * scale, in place in scratch.
                float weighted = VectorMath.Dot(bits, ref row, ref scratch, len);
                for (int t2 = 0; t2 < len; t2++)
                {
                    ref float g = ref Unsafe.Add(ref scratch, t2);
                    g = Unsafe.Add(ref row, t2) * (g - weighted) * scale;
                }

                // dq[t1] += sum_t2 g[t2] k[t2]; dk[t2] += g[t2] q[t1]
                ref float q = ref Unsafe.Add(ref q0, t1 * c3);
                ref float dq = ref Unsafe.Add(ref dq0, t1 * c3);
                for (int d = 0; d < hs; d += S.Count)
                {
                    V qv = S.Load(ref Unsafe.Add(ref q, d));
                    V acc = S.Load(ref Unsafe.Add(ref dq, d));
                    ref float kd = ref Unsafe.Add(ref k0, d);
                    ref float dkd = ref Unsafe.Add(ref dk0, d);
                    for (int t2 = 0; t2 < len; t2++)
                    {
                        V g = S.Splat(Unsafe.Add(ref scratch, t2));
                        nint at = t2 * c3;
                        acc = S.MulAdd(g, S.Load(ref Unsafe.Add(ref kd, at)), acc);
                        ref float dk = ref Unsafe.Add(ref dkd, at);
                        S.Store(S.MulAdd(g, qv, S.Load(ref dk)), ref dk);
                    }
                    S.Store(acc, ref Unsafe.Add(ref dq, d));
                }
            }
        }
    }

    /// <summary>
    /// out[t2] = (a . m[t2]) * scale for t2 &lt; len, the rows m[t2] of length hs at stride <paramref name="stride"/>;
    /// returns the largest. Four rows at a time share each load of a.
    /// </summary>
    static float Dots<S, V>(ref float a, ref float m, nint stride, int hs, int len, float scale, ref float result)
        where S : struct, ISimd<V> where V : struct
    {
        float max = float.NegativeInfinity;
        int t2 = 0;
        for (; t2 + 4 <= len; t2 += 4)
        {
            ref float m0 = ref Unsafe.Add(ref m, t2 * stride);
            ref float m1 = ref Unsafe.Add(ref m0, stride);
            ref float m2 = ref Unsafe.Add(ref m1, stride);
            ref float m3 = ref Unsafe.Add(ref m2, stride);
            V s0 = S.Zero, s1 = S.Zero, s2 = S.Zero, s3 = S.Zero;
            for (int d = 0; d < hs; d += S.Count)
            {
                V av = S.Load(ref Unsafe.Add(ref a, d));
                s0 = S.MulAdd(av, S.Load(ref Unsafe.Add(ref m0, d)), s0);
                s1 = S.MulAdd(av, S.Load(ref Unsafe.Add(ref m1, d)), s1);
                s2 = S.MulAdd(av, S.Load(ref Unsafe.Add(ref m2, d)), s2);
                s3 = S.MulAdd(av, S.Load(ref Unsafe.Add(ref m3, d)), s3);
            }
            ref float r = ref Unsafe.Add(ref result, t2);
            float r0 = S.Sum(s0) * scale, r1 = S.Sum(s1) * scale, r2 = S.Sum(s2) * scale, r3 = S.Sum(s3) * scale;
            r = r0; Unsafe.Add(ref r, 1) = r1; Unsafe.Add(ref r, 2) = r2; Unsafe.Add(ref r, 3) = r3;
            max = MathF.Max(max, MathF.Max(MathF.Max(r0, r1), MathF.Max(r2, r3)));
        }
        for (; t2 < len; t2++)
        {
            ref float m0 = ref Unsafe.Add(ref m, t2 * stride);
            V s0 = S.Zero;
            for (int d = 0; d < hs; d += S.Count)
                s0 = S.MulAdd(S.Load(ref Unsafe.Add(ref a, d)), S.Load(ref Unsafe.Add(ref m0, d)), s0);
            float r0 = S.Sum(s0) * scale;
            Unsafe.Add(ref result, t2) = r0;
            max = MathF.Max(max, r0);
        }
        return max;
    }

    /// <summary>y += a * x over hs floats (a multiple of S.Count).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Axpy<S, V>(float a, ref float x, ref float y, int hs) where S : struct, ISimd<V> where V : struct
    {
        V va = S.Splat(a);
        for (int d = 0; d < hs; d += S.Count)
        {
            ref float yd = ref Unsafe.Add(ref y, d);
            S.Store(S.MulAdd(va, S.Load(ref Unsafe.Add(ref x, d)), S.Load(ref yd)), ref yd);
        }
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
