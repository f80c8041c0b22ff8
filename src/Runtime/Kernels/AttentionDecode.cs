using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Causal self-attention for ONE new position against a KV cache (incremental decoding).
//   q       [C]        the new position's query (heads concatenated, head h at h*hs .. (h+1)*hs)
//   keys    [P, C]     cached keys of positions 0 .. P-1 (the new position's key already appended)
//   values  [P, C]     cached values, same layout
//   y       [C]        output, heads concatenated (overwritten)
//   scores  [P]        scratch for one head's attention weights (the calling thread's)
// The same arithmetic as Attention.Forward restricted to its last row, so incremental logits match the
// full forward pass to float rounding. Heads are split across the worker pool once the cache is long enough
// (reading it is most of the work: 2 P C floats a layer); each head is computed by one thread in the same
// order whatever the thread count, so results do not depend on it.
public static unsafe class AttentionDecode
{
    public static void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        Span<float> y, Span<float> scores, int positions, int c, int h)
    {
        if (positions < 1) throw new ArgumentOutOfRangeException(nameof(positions));
        if (c % h != 0) throw new ArgumentException($"{h} heads do not divide {c}");
        if (q.Length < c || y.Length < c || keys.Length < positions * c || values.Length < positions * c || scores.Length < positions)
            throw new ArgumentException("attention decode: a buffer is too short for the given shape");
        fixed (float* pq = q, pk = keys, pv = values, py = y, ps = scores)
        {
            var work = new Work { Q = pq, Keys = pk, Values = pv, Y = py, Scores = ps, Positions = positions, C = c, Hs = c / h };
            int parts = Parallelism.Parts(2L * positions * c, h);
            work.Heads = new Split(h, parts, 1);
            WorkerPool.For(ref work, work.Heads.Parts);
        }
    }

    struct Work : IPartitionedWork
    {
        public float* Q, Keys, Values, Y, Scores;
        public int Positions, C, Hs;
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
            int hs = Hs, c = C, positions = Positions;
            float scale = 1f / MathF.Sqrt(hs);
            // 8-float vectors where the hardware has them, 4-float ones on ARM64 (whose widest is 128 bits), else
            // VectorMath's dispatching dot and axpy.
            int width = Simd.Bits >= 256 && Vector256.IsHardwareAccelerated && hs % 8 == 0 ? 256 : Simd.Arm(Simd.Bits) && hs % 4 == 0 ? 128 : 0;
            var s = new Span<float>(scores, positions);
            for (int head = Heads.Start(part); head < Heads.End(part); head++)
            {
                float* qh = Q + head * hs, kh = Keys + head * hs, vh = Values + head * hs;
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
