using System.Numerics;

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
            var s = new Span<float>(scores, positions);
            for (int head = Heads.Start(part); head < Heads.End(part); head++)
            {
                var qh = new ReadOnlySpan<float>(Q + head * hs, hs);
                float max = float.NegativeInfinity;
                for (int p = 0; p < positions; p++)
                {
                    s[p] = VectorMath.Dot(qh, new ReadOnlySpan<float>(Keys + (long)p * c + head * hs, hs)) * scale;
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
                    VectorMath.Axpy(s[p] * inv, new ReadOnlySpan<float>(Values + (long)p * c + head * hs, hs), yh);
            }
        }
    }
}
