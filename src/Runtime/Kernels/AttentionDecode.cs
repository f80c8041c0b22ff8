using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Causal self-attention for ONE new position against a KV cache (incremental decoding), H query heads over KvH
// key/value heads (grouped-query attention: query head h reads kv head h / (H / KvH); GPT-2 has KvH = H).
//   q       [H*hs]      the new position's query (heads concatenated, head h at h*hs .. (h+1)*hs)
//   keys    [P, KvH*hs] cached keys of positions 0 .. P-1 (the new position's key already appended)
//   values  [P, KvH*hs] cached values, same layout
//   y       [H*hs]      output, heads concatenated (overwritten)
//   scores  [P]        scratch for one head's attention weights (the calling thread's)
// The same arithmetic as Attention.Forward restricted to its last row, so incremental logits match the
// full forward pass to float rounding. Heads are split across the worker pool once the cache is long enough
// (reading it is most of the work: 2 P C floats a layer); each head is computed by one thread in the same
// order whatever the thread count, so results do not depend on it.
public static unsafe class AttentionDecode
{
    /// <summary>
    /// A decoding pass's attention, GPT-2's fused rows: qkv [T, 3C] at <paramref name="position"/> (see the overload below).
    /// </summary>
    public static void Chunk(ReadOnlySpan<float> qkv, Span<float> keys, Span<float> values, Span<float> y, Span<float> scores,
        int position, int t, int c, int h)
    {
        Check.AtLeast(qkv.Length, t, 3 * c, nameof(qkv));
        if (c % h != 0) throw new ArgumentException($"{h} heads do not divide {c}");
        Chunk(qkv, qkv[c..], qkv[(2 * c)..], 3 * c, 3 * c, keys, values, y, scores, position, t, h, h, c / h);
    }

    /// <summary>
    /// A decoding pass's attention: T new positions (q [T, qStride], k and v [T, kvStride]) at <paramref name="position"/>.
    /// Their keys and values go to rows position .. position + T - 1 of the caches [Context, KvH * hs]; each new position
    /// attends over every cached one up to itself; y [T, H * hs]. A prompt from position 0 runs the batched causal kernel
    /// (the training forward's arithmetic, so a prefill matches the full forward pass bit for bit), one token the
    /// single-query kernel.
    /// </summary>
    public static void Chunk(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int qStride, int kvStride,
        Span<float> keys, Span<float> values, Span<float> y, Span<float> scores, int position, int t, int h, int kvh, int hs)
    {
        int kvDim = kvh * hs, qDim = h * hs;
        if (position < 0 || t < 1 || (long)(position + t) * kvDim > keys.Length || (long)(position + t) * kvDim > values.Length)
            throw new ArgumentOutOfRangeException(nameof(t), $"positions {position}..{position + t - 1} do not fit the cache");
        Check.AtLeast(y.Length, t, qDim, nameof(y));
        for (int r = 0; r < t; r++)
        {
            k.Slice(r * kvStride, kvDim).CopyTo(keys.Slice((position + r) * kvDim, kvDim));
            v.Slice(r * kvStride, kvDim).CopyTo(values.Slice((position + r) * kvDim, kvDim));
        }
        if (position == 0 && t > 1)
        {
            Attention.Forward(q, k, v, qStride, kvStride, y, default, 1, t, h, kvh, hs);
            return;
        }
        for (int r = 0; r < t; r++)
        {
            int seen = position + r + 1;
            Forward(q.Slice(r * qStride, qDim), keys[..(seen * kvDim)], values[..(seen * kvDim)], y.Slice(r * qDim, qDim), scores, seen, h, kvh, hs);
        }
    }

    /// <summary>One query against the cache, H = KvH heads of C / H (GPT-2).</summary>
    public static void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        Span<float> y, Span<float> scores, int positions, int c, int h)
    {
        if (h <= 0 || c % h != 0) throw new ArgumentException($"{h} heads do not divide {c}");
        Forward(q, keys, values, y, scores, positions, h, h, c / h);
    }

    /// <summary>One query against the cache: H query heads over KvH cached key/value heads of hs.</summary>
    public static void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        Span<float> y, Span<float> scores, int positions, int h, int kvh, int hs)
    {
        if (positions < 1) throw new ArgumentOutOfRangeException(nameof(positions));
        if (kvh <= 0 || h % kvh != 0) throw new ArgumentException($"{kvh} kv heads do not divide {h} heads");
        int qDim = h * hs, kvDim = kvh * hs;
        if (q.Length < qDim || y.Length < qDim || keys.Length < positions * kvDim || values.Length < positions * kvDim || scores.Length < positions)
            throw new ArgumentException("attention decode: a buffer is too short for the given shape");
        fixed (float* pq = q, pk = keys, pv = values, py = y, ps = scores)
        {
            var work = new Work { Q = pq, Keys = pk, Values = pv, Y = py, Scores = ps, Positions = positions, KvDim = kvDim, Group = h / kvh, Hs = hs };
            int parts = Parallelism.Parts(2L * positions * qDim, h);
            work.Heads = new Split(h, parts, 1);
            WorkerPool.For(ref work, work.Heads.Parts);
        }
    }

    struct Work : IPartitionedWork
    {
        public float* Q, Keys, Values, Y, Scores;
        public int Positions, KvDim, Group, Hs;
        public Split Heads;

        public void Run(int part, int worker)
        {
            if (worker == 0)
            {
                RunHeads(part, Scores);
                return;
            }
            // A pool thread's own scratch, grown to a power of two so a growing cache reallocates it only a few times.
            fixed (float* s = WorkerPool.ThreadScratch((int)BitOperations.RoundUpToPowerOf2((uint)Positions)))
                RunHeads(part, s);
        }

        readonly void RunHeads(int part, float* scores)
        {
            int hs = Hs, c = KvDim, positions = Positions;
            float scale = 1f / MathF.Sqrt(hs);
            // 8-float vectors where the hardware has them, 4-float ones on ARM64 (whose widest is 128 bits), else
            // VectorMath's dispatching dot and axpy.
            int width = Simd.Bits >= 256 && Vector256.IsHardwareAccelerated && hs % 8 == 0 ? 256 : Simd.Arm(Simd.Bits) && hs % 4 == 0 ? 128 : 0;
            var s = new Span<float>(scores, positions);
            for (int head = Heads.Start(part); head < Heads.End(part); head++)
            {
                float* qh = Q + head * hs, kh = Keys + head / Group * hs, vh = Values + head / Group * hs;
                float max = float.NegativeInfinity;
                for (int p = 0; p < positions; p++)
                {
                    float* k = kh + (long)p * c;
                    s[p] = width switch
                    {
                        256 => Dot<Simd256, F256>(qh, k, hs),
                        128 => Dot<Simd128, F128>(qh, k, hs),
                        _ => VectorMath.Dot(new ReadOnlySpan<float>(qh, hs), new ReadOnlySpan<float>(k, hs)),
                    } * scale;
                    max = MathF.Max(max, s[p]);
                }
                float sum = 0;
                for (int p = 0; p < positions; p++)
                {
                    s[p] = MathF.Exp(s[p] - max);
                    sum += s[p];
                }
                float inv = 1f / sum;
                var yh = new Span<float>(Y + head * hs, hs);
                yh.Clear();
                for (int p = 0; p < positions; p++)
                {
                    float* v = vh + (long)p * c;
                    if (width == 256) Axpy<Simd256, F256>(s[p] * inv, v, Y + head * hs, hs);
                    else if (width == 128) Axpy<Simd128, F128>(s[p] * inv, v, Y + head * hs, hs);
                    else VectorMath.Axpy(s[p] * inv, new ReadOnlySpan<float>(v, hs), yh);
                }
            }
        }
    }

    // One head's dot product and axpy in whole vectors (n a multiple of S.Count), without the span and width dispatch
    // of VectorMath: at a head size of 64 that overhead is most of the work of a position (VectorMath's pointer entry
    // points, tried in their place: `edge bench generate gpt2 --vocab 50257 --tokens 700 --type q8`, 10.2 against
    // 7.5 ms a token, one run each).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Dot<S, V>(float* x, float* y, int n) where S : struct, ISimd<V> where V : struct
    {
        V acc0 = S.Zero, acc1 = S.Zero;
        int c = S.Count, i = 0;
        for (; i + 2 * c <= n; i += 2 * c)
        {
            acc0 = S.MulAdd(S.Load(ref x[i]), S.Load(ref y[i]), acc0);
            acc1 = S.MulAdd(S.Load(ref x[i + c]), S.Load(ref y[i + c]), acc1);
        }
        if (i < n) acc0 = S.MulAdd(S.Load(ref x[i]), S.Load(ref y[i]), acc0);
        return S.Sum(S.Add(acc0, acc1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Axpy<S, V>(float a, float* x, float* y, int n) where S : struct, ISimd<V> where V : struct
    {
        V va = S.Splat(a);
        for (int i = 0; i < n; i += S.Count)
            S.Store(S.MulAdd(va, S.Load(ref x[i]), S.Load(ref y[i])), ref y[i]);
    }
}
