using System.Collections.Concurrent;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

/// <summary>
/// The kernels that split their work across threads give the same bits for every thread count: each output
/// element is computed by one thread, with the same operations in the same order as on one thread.
/// </summary>
[Collection(SimdWidthCollection.Name)]
public class ParallelKernelTests
{
    // The forward product's splits: rows when n >= Out (203: blocks of 4), columns otherwise, in multiples of 96 once
    // there are rows for a tile (40 x 500: a prompt pass; 64 and 67 rows against 80 columns stay one part) and of 16
    // for decoding (n = 1 and 3); a one-row product with In >= 256 cuts w's rows into Linear.DecodeSlices slices
    // (1 x 300: slices of 80, 80, 80, 60); all large enough to cut into several parts. The tiled transposed products
    // split columns for the first two and rows for (203, 48, 40) (more rows than In and Out).
    static readonly (int N, int In, int Out)[] DenseShapes =
        [(64, 96, 80), (67, 96, 80), (203, 48, 40), (40, 64, 500), (3, 128, 400), (1, 128, 1000), (1, 300, 440)];

    // hs = 16, 8 and 5 (the scalar path); B x H pairs from 4 to 9.
    static readonly (int B, int T, int C, int H)[] AttentionShapes = [(2, 33, 64, 4), (3, 40, 24, 3), (1, 48, 20, 4)];

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Linear_IsBitIdenticalForEveryThreadCount(int bits)
    {
        using var _ = Widths.Use(bits);
        foreach (var (n, inDim, outDim) in DenseShapes)
            foreach (bool full in new[] { true, false })
                SameForEveryThreadCount(() => Dense(rows: false, n, inDim, outDim, bias: full, withDx: full),
                    (long)n * inDim * outDim, $"Linear n={n} in={inDim} out={outDim} bias/dx={full}", ["y", "dx", "dw", "db"]);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LinearRows_IsBitIdenticalForEveryThreadCount(int bits)
    {
        using var _ = Widths.Use(bits);
        foreach (var (n, inDim, outDim) in DenseShapes)
            foreach (bool full in new[] { true, false })
                SameForEveryThreadCount(() => Dense(rows: true, n, inDim, outDim, bias: full, withDx: full),
                    (long)n * inDim * outDim, $"LinearRows n={n} in={inDim} out={outDim} bias/dx={full}", ["y", "dx", "dw", "db"]);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Attention_IsBitIdenticalForEveryThreadCount(int bits)
    {
        using var _ = Widths.Use(bits);
        foreach (var (b, t, c, h) in AttentionShapes)
            SameForEveryThreadCount(() => Attend(b, t, c, h), (long)b * h * t * (t + 1) / 2 * (2 * (c / h) + 8),
                $"Attention B={b} T={t} C={c} H={h}", ["y", "att", "dqkv"]);
    }

    /// <summary>
    /// The elementwise and row kernels that split across threads (GELU in both forms, AdamW, the gradient's sum of
    /// squares, the cross-entropy forward): lengths that end in every vector tail, the same bits at every thread count.
    /// </summary>
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void ElementwiseAndRowKernels_AreBitIdenticalForEveryThreadCount(int bits)
    {
        using var _ = Widths.Use(bits);
        foreach (int n in new[] { 20_000, 20_037 })
        {
            SameForEveryThreadCount(() => Elementwise(n), 8L * n, $"elementwise n={n}", ["gelu", "gelu'", "gelu exact", "gelu exact'", "w", "m", "v", "sum of squares"]);
            SameForEveryThreadCount(() => CrossEntropy(rows: n / 200, vocab: 203), 20L * n, $"cross-entropy rows={n / 200}", ["probs", "loss"]);
        }
    }

    static float[][] Elementwise(int n)
    {
        var rng = new Rng((ulong)n);
        float[] x = Data.Gaussian(ref rng, n, 3f), dy = Data.Gaussian(ref rng, n);
        float[] y = new float[n], dx = Data.Gaussian(ref rng, n), ye = new float[n], dxe = Data.Gaussian(ref rng, n);
        Gelu.Forward(x, y);
        Gelu.Backward(x, dy, dx);
        GeluExact.Forward(x, ye);
        GeluExact.Backward(x, dy, dxe);
        float[] w = Data.Gaussian(ref rng, n), m = Data.Gaussian(ref rng, n, 0.1f), v = Data.Gaussian(ref rng, n, 0.1f);
        for (int i = 0; i < n; i++) v[i] = MathF.Abs(v[i]);
        AdamW.Update(w, dy, m, v, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 7);
        long sum = BitConverter.DoubleToInt64Bits(GradientNorm.SumOfSquares(x)); // the double's bits, as two floats
        return [y, dx, ye, dxe, w, m, v, [BitConverter.Int32BitsToSingle((int)sum), BitConverter.Int32BitsToSingle((int)(sum >> 32))]];
    }

    static float[][] CrossEntropy(int rows, int vocab)
    {
        var rng = new Rng((ulong)(rows * vocab));
        float[] logits = Data.Gaussian(ref rng, rows * vocab, 2f), probs = new float[rows * vocab];
        int[] targets = new int[rows];
        for (int r = 0; r < rows; r++) targets[r] = r % 7 == 3 ? SoftmaxCrossEntropy.IgnoredTarget : rng.NextInt(vocab);
        float loss = SoftmaxCrossEntropy.Forward(logits, targets, probs, rows, vocab);
        return [probs, [loss]];
    }

    /// <summary>
    /// Decoding attention splits heads across threads once the cache is long: the same bits at every thread count,
    /// and the last row of the full causal pass over the same positions (to float rounding).
    /// </summary>
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void AttentionDecode_IsBitIdenticalForEveryThreadCount_AndIsTheFullPassesLastRow(int bits)
    {
        using var _ = Widths.Use(bits);
        foreach (var (t, c, h) in new[] { (300, 128, 4), (130, 768, 12), (840, 40, 8) })
        {
            var rng = new Rng((ulong)(t * 31 + c));
            float[] qkv = Data.Gaussian(ref rng, t * 3 * c);
            SameForEveryThreadCount(() => [Decode(qkv, t, c, h)], 2L * t * c, $"AttentionDecode T={t} C={c} H={h}", ["y"]);
            float[] y = new float[t * c], att = new float[h * t * t];
            Attention.Forward(qkv, y, att, 1, t, c, h);
            double[] last = y.AsSpan((t - 1) * c, c).ToArray().Select(v => (double)v).ToArray();
            Expect.Close(last, Decode(qkv, t, c, h), $"AttentionDecode T={t} C={c} H={h} vs the full pass");
        }
    }

    /// <summary>The last position's attention from a KV cache laid out as decoding keeps it: keys [T, C], values [T, C].</summary>
    static float[] Decode(float[] qkv, int t, int c, int h)
    {
        var rng = new Rng(5);
        float[] keys = new float[t * c], values = new float[t * c], y = Data.Gaussian(ref rng, c), scores = new float[t]; // y stale: overwritten
        for (int p = 0; p < t; p++)
        {
            qkv.AsSpan(p * 3 * c + c, c).CopyTo(keys.AsSpan(p * c));
            qkv.AsSpan(p * 3 * c + 2 * c, c).CopyTo(values.AsSpan(p * c));
        }
        AttentionDecode.Forward(qkv.AsSpan((t - 1) * 3 * c, c), keys, values, y, scores, t, c, h);
        return y;
    }

    [Theory, InlineData(2), InlineData(4)]
    public void ParallelKernels_AllocateNothingAfterWarmUp(int threads)
    {
        using var _ = ThreadCounts.Use(threads);
        var rng = new Rng(300);
        const int n = 64, inDim = 96, outDim = 80;
        float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, inDim * outDim, 0.3f), b = Data.Gaussian(ref rng, outDim);
        float[] y = new float[n * outDim], dx = new float[n * inDim], dw = new float[inDim * outDim], db = new float[outDim];
        float[] xd = Data.Gaussian(ref rng, inDim), yd = new float[outDim], dxr = new float[n * outDim];
        const int bb = 2, t = 33, c = 64, h = 4;
        float[] qkv = Data.Gaussian(ref rng, bb * t * 3 * c), ya = new float[bb * t * c], att = new float[bb * h * t * t];
        float[] dqkv = new float[bb * t * 3 * c], scratch = new float[t];
        Expect.AllocatesNothing(() =>
        {
            Linear.Forward(x, w, b, y, n, inDim, outDim);
            Linear.Backward(x, w, y, dx, dw, db, n, inDim, outDim);
            Linear.Forward(xd, w, b, yd, 1, inDim, outDim);
            LinearRows.Forward(y, w, [], dx, n, outDim, inDim);
            LinearRows.Backward(y, w, dx, dxr, dw, [], n, outDim, inDim);
            Attention.Forward(qkv, ya, att, bb, t, c, h);
            Attention.Backward(ya, qkv, att, dqkv, scratch, bb, t, c, h);
        }, $"parallel kernels, {threads} threads");
    }

    [Fact]
    public void ConcurrentCallersFromSeveralThreads_GetTheSingleThreadedResults()
    {
        // Each caller gets the pool or, while another holds it, runs its parts inline: either way its own results.
        const int callers = 3, rounds = 40;
        var expected = new float[callers][][];
        using (ThreadCounts.Use(1))
            for (int i = 0; i < callers; i++) expected[i] = Mixed((ulong)(400 + i));

        using var _ = ThreadCounts.Use(2);
        var failures = new ConcurrentQueue<string>();
        var threads = new Thread[callers];
        for (int i = 0; i < callers; i++)
        {
            int caller = i;
            threads[i] = new Thread(() =>
            {
                try
                {
                    for (int r = 0; r < rounds; r++)
                    {
                        var actual = Mixed((ulong)(400 + caller));
                        for (int k = 0; k < actual.Length; k++)
                            if (!actual[k].AsSpan().SequenceEqual(expected[caller][k]))
                                failures.Enqueue($"caller {caller} round {r}: output {k} differs");
                    }
                }
                catch (Exception e)
                {
                    failures.Enqueue($"caller {caller}: {e}");
                }
            });
            threads[i].Start();
        }
        foreach (var thread in threads) thread.Join();
        Assert.Empty(failures);
    }

    [Fact]
    public void Threads_RejectsLessThanOne()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.Threads = 0);
        Assert.True(Parallelism.Threads >= 1);
    }

    /// <summary>Runs <paramref name="compute"/> at 1 thread, then at every other count, and compares every output bit for bit.</summary>
    static void SameForEveryThreadCount(Func<float[][]> compute, long work, string what, string[] names)
    {
        float[][] single;
        using (ThreadCounts.Use(1)) single = compute();
        foreach (int threads in ThreadCounts.All)
        {
            if (threads == 1) continue;
            using var _ = ThreadCounts.Use(threads);
            Assert.True(Parallelism.Parts(work, int.MaxValue) > 1, $"{what}: too small to split across {threads} threads");
            var actual = compute();
            for (int k = 0; k < names.Length; k++)
                Expect.BitIdentical(single[k], actual[k], $"{what} threads={threads} {names[k]}");
        }
    }

    /// <summary>Linear or LinearRows forward, then backward into non-zero gradients; returns y, dx, dw, db.</summary>
    static float[][] Dense(bool rows, int n, int inDim, int outDim, bool bias, bool withDx)
    {
        var rng = new Rng((ulong)(n * 7919 + inDim * 31 + outDim));
        float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, inDim * outDim, 0.3f), dy = Data.Gaussian(ref rng, n * outDim);
        float[] b = bias ? Data.Gaussian(ref rng, outDim) : [];
        float[] y = Data.Gaussian(ref rng, n * outDim), dx = withDx ? Data.Gaussian(ref rng, n * inDim) : [];
        float[] dw = Data.Gaussian(ref rng, inDim * outDim), db = bias ? Data.Gaussian(ref rng, outDim) : [];
        if (rows)
        {
            LinearRows.Forward(x, w, b, y, n, inDim, outDim);
            LinearRows.Backward(x, w, dy, dx, dw, db, n, inDim, outDim);
        }
        else
        {
            Linear.Forward(x, w, b, y, n, inDim, outDim);
            Linear.Backward(x, w, dy, dx, dw, db, n, inDim, outDim);
        }
        return [y, dx, dw, db];
    }

    /// <summary>Attention forward into stale buffers, backward into a non-zero gradient with scratch of exactly T; returns y, att, dqkv.</summary>
    static float[][] Attend(int b, int t, int c, int h)
    {
        var rng = new Rng((ulong)(b * 1000 + t * 10 + h));
        float[] qkv = Data.Gaussian(ref rng, b * t * 3 * c), dy = Data.Gaussian(ref rng, b * t * c);
        float[] y = Data.Gaussian(ref rng, b * t * c), att = Data.Gaussian(ref rng, b * h * t * t);
        float[] dqkv = Data.Gaussian(ref rng, b * t * 3 * c), scratch = Data.Gaussian(ref rng, t);
        Attention.Forward(qkv, y, att, b, t, c, h);
        Attention.Backward(dy, qkv, att, dqkv, scratch, b, t, c, h);
        return [y, att, dqkv];
    }

    static float[][] Mixed(ulong seed)
    {
        var rng = new Rng(seed);
        int n = 48 + (int)(seed % 3) * 8, inDim = 64, outDim = 96;
        float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, inDim * outDim, 0.3f);
        float[] y = new float[n * outDim], dx = new float[n * inDim], dw = new float[inDim * outDim], db = new float[outDim];
        Linear.Forward(x, w, [], y, n, inDim, outDim);
        Linear.Backward(x, w, y, dx, dw, db, n, inDim, outDim);
        float[] yr = new float[n * inDim], dwr = new float[inDim * outDim];
        LinearRows.Forward(y, w, [], yr, n, outDim, inDim);
        LinearRows.Backward(y, w, yr, [], dwr, [], n, outDim, inDim);
        const int b = 2, t = 24, c = 32, h = 4;
        float[] qkv = Data.Gaussian(ref rng, b * t * 3 * c), ya = new float[b * t * c], att = new float[b * h * t * t];
        float[] dqkv = new float[b * t * 3 * c], scratch = new float[t];
        Attention.Forward(qkv, ya, att, b, t, c, h);
        Attention.Backward(ya, qkv, att, dqkv, scratch, b, t, c, h);
        return [y, dx, dw, db, yr, dwr, ya, att, dqkv];
    }
}
