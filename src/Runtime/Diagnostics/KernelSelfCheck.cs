using System.Diagnostics;
using Edge.Kernels;
using Edge.Quantization;

namespace Edge.Diagnostics;

/// <summary>
/// Every kernel on every path this machine runs natively (<see cref="Simd.MachinePaths"/>: each accelerated vector
/// width with its instruction sets, then scalar) against the double-precision <see cref="ScalarReference"/>: what
/// `edge doctor` runs on a device, so that a binary built elsewhere (cross-compiled for ARM64, say) proves its
/// kernels where it runs, and what the test suite runs in-process. Sizes are small and awkward (vector tails, whole
/// and partial micro-kernel tiles, thread splits, every quantised format): well under a second a path natively.
/// Paths are forced process-wide (<see cref="Simd.Force(int, SimdIsa)"/>), so nothing else may run kernels meanwhile.
/// </summary>
public static class KernelSelfCheck
{
    /// <summary>A kernel's check: runs at the current path and returns null, or what differed first.</summary>
    public sealed record Kernel(string Name, Func<string?> Run);

    /// <summary>One kernel on one path: <see cref="Mismatch"/> is null when it agreed with the reference.</summary>
    public sealed record Result(string Kernel, int Bits, SimdIsa Isa, string? Mismatch, TimeSpan Elapsed)
    {
        public bool Passed => Mismatch is null;
        public string Path => Simd.PathName(Bits, Isa);
    }

    /// <summary>Every kernel family in Kernels/, each checked forward and backward where it has both.</summary>
    public static IReadOnlyList<Kernel> Kernels { get; } =
    [
        new("vector math", VectorMathCheck),
        new("activations", ActivationsCheck),
        new("gelu", () => GeluCheck(Gelu.Forward, Gelu.Backward, ScalarReference.GeluForward, ScalarReference.GeluBackward)),
        new("gelu exact", () => GeluCheck(GeluExact.Forward, GeluExact.Backward, ScalarReference.GeluExactForward, ScalarReference.GeluExactBackward)),
        new("layernorm", LayerNormCheck),
        new("embedding", EmbeddingCheck),
        new("softmax cross-entropy", SoftmaxCrossEntropyCheck),
        new("dropout", DropoutCheck),
        new("optimizers", OptimizersCheck),
        new("linear", () => ProductCheck(10, Linear.Forward, Linear.Backward, ScalarReference.LinearForward, ScalarReference.LinearBackward)),
        new("linear tiles", LinearTilesCheck),
        new("linear rows", () => ProductCheck(12, LinearRows.Forward, LinearRows.Backward, ScalarReference.LinearRowsForward, ScalarReference.LinearRowsBackward)),
        new("attention", AttentionCheck),
        new("attention decode", AttentionDecodeCheck),
        new("quantised activations", QuantizedActivationsCheck),
        new("quantised linear q8_0", () => QuantizedLinearCheck(QuantType.Q8_0)),
        new("quantised linear q4_0", () => QuantizedLinearCheck(QuantType.Q4_0)),
        new("quantised linear q4_1", () => QuantizedLinearCheck(QuantType.Q4_1)),
    ];

    /// <summary>
    /// Runs <paramref name="kernels"/> (default: all) on each of <paramref name="paths"/> (default: this machine's),
    /// reporting each result as it comes; a kernel that throws fails with the exception's message.
    /// </summary>
    public static List<Result> Run(IEnumerable<(int Bits, SimdIsa Isa)>? paths = null, IEnumerable<Kernel>? kernels = null, Action<Result>? done = null)
    {
        var results = new List<Result>();
        foreach (var (bits, isa) in paths ?? Simd.MachinePaths())
            using (Simd.Force(bits, isa))
                foreach (var kernel in kernels ?? Kernels)
                {
                    long start = Stopwatch.GetTimestamp();
                    string? mismatch;
                    try { mismatch = kernel.Run(); }
                    catch (Exception e) { mismatch = $"threw {e.GetType().Name}: {e.Message}"; }
                    var result = new Result(kernel.Name, bits, isa, mismatch, Stopwatch.GetElapsedTime(start));
                    results.Add(result);
                    done?.Invoke(result);
                }
        return results;
    }

    // Lengths that leave a tail at every width (4, 8 and 16 floats), and one long enough for the four-accumulator loops.
    static readonly int[] Sizes = [1, 7, 33, 130];

    static float[] Gaussian(ref Rng rng, int n, float scale = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = scale * rng.NextGaussian();
        return a;
    }

    static int[] Ints(ref Rng rng, int n, int below)
    {
        var a = new int[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextInt(below);
        return a;
    }

    const double Rel = 1e-5, Abs = 1e-5;

    static string? VectorMathCheck()
    {
        var rng = new Rng(1);
        foreach (int n in Sizes)
        {
            float[] x = Gaussian(ref rng, n), y = Gaussian(ref rng, n), z = (float[])y.Clone(), s = (float[])x.Clone();
            var axpy = ScalarReference.Axpy(-0.75f, x, y);
            var add = ScalarReference.Add(x, z);
            var scaled = ScalarReference.Scale(1.5f, s);
            VectorMath.Axpy(-0.75f, x, y);
            VectorMath.Add(x, z);
            VectorMath.Scale(1.5f, s);
            if ((Compare.Close(ScalarReference.Dot(x, s), VectorMath.Dot(x, s), $"dot n={n}", Rel, Abs)
                ?? Compare.Close(axpy, y, $"axpy n={n}", Rel, Abs)
                ?? Compare.Close(add, z, $"add n={n}", Rel, Abs)
                ?? Compare.Close(scaled, s, $"scale n={n}", Rel, Abs)
                ?? Compare.Close(ScalarReference.Sum(x), VectorMath.Sum(x), $"sum n={n}", Rel, Abs)
                ?? Compare.Close(ScalarReference.Max(x), VectorMath.Max(x), $"max n={n}", 0, 0)) is { } mismatch) return mismatch;
        }
        return null;
    }

    static string? ActivationsCheck()
    {
        var rng = new Rng(2);
        foreach (int n in Sizes)
        {
            float[] x = Gaussian(ref rng, n, 2f), tanh = new float[n], relu = new float[n];
            float[] dy = Gaussian(ref rng, n), dxTanh = Gaussian(ref rng, n), dxRelu = Gaussian(ref rng, n);
            Activations.TanhForward(x, tanh);
            Activations.ReluForward(x, relu);
            var eTanh = ScalarReference.TanhBackward(tanh, dy, dxTanh);
            var eRelu = ScalarReference.ReluBackward(relu, dy, dxRelu);
            Activations.TanhBackward(tanh, dy, dxTanh);
            Activations.ReluBackward(relu, dy, dxRelu);
            if ((Compare.Close(ScalarReference.TanhForward(x), tanh, $"tanh n={n}", Rel, Abs)
                ?? Compare.Close(ScalarReference.ReluForward(x), relu, $"relu n={n}", 0, 0)
                ?? Compare.Close(eTanh, dxTanh, $"tanh backward n={n}", Rel, Abs)
                ?? Compare.Close(eRelu, dxRelu, $"relu backward n={n}", Rel, Abs)) is { } mismatch) return mismatch;
        }
        return null;
    }

    delegate void ElementwiseForward(ReadOnlySpan<float> x, Span<float> y);
    delegate void ElementwiseBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx);

    static string? GeluCheck(ElementwiseForward forward, ElementwiseBackward backward, Func<float[], double[]> reference,
        Func<float[], float[], float[], double[]> referenceBackward)
    {
        var rng = new Rng(3);
        foreach (int n in Sizes)
        {
            // Both tails too, where exp overflows or vanishes.
            float[] x = Gaussian(ref rng, n, 3f), y = new float[n], dy = Gaussian(ref rng, n), dx = Gaussian(ref rng, n);
            if (n > 2) { x[0] = 12f; x[1] = -12f; }
            forward(x, y);
            var expected = referenceBackward(x, dy, dx);
            backward(x, dy, dx);
            if ((Compare.Close(reference(x), y, $"forward n={n}", Rel, 1e-6)
                ?? Compare.Close(expected, dx, $"backward n={n}", Rel, Abs)) is { } mismatch) return mismatch;
        }
        return null;
    }

    static string? LayerNormCheck()
    {
        var rng = new Rng(4);
        foreach (int c in new[] { 33, 64, 130 })
        {
            const int n = 5;
            float[] x = Gaussian(ref rng, n * c, 2f), w = Gaussian(ref rng, c), b = Gaussian(ref rng, c);
            for (int i = 0; i < x.Length; i++) x[i] += 3f; // an offset, so the mean matters
            float[] y = new float[n * c], mean = new float[n], rstd = new float[n];
            LayerNorm.Forward(x, w, b, y, mean, rstd, n, c);
            var (ey, emean, erstd) = ScalarReference.LayerNormForward(x, w, b, n, c);
            float[] dy = Gaussian(ref rng, n * c), dx = Gaussian(ref rng, n * c), dw = Gaussian(ref rng, c), db = Gaussian(ref rng, c);
            var (edx, edw, edb) = ScalarReference.LayerNormBackward(dy, x, w, dx, dw, db, n, c);
            LayerNorm.Backward(dy, x, w, mean, rstd, dx, dw, db, n, c);
            if ((Compare.Close(ey, y, $"y c={c}", Rel, 1e-4)
                ?? Compare.Close(emean, mean, $"mean c={c}", Rel, Abs)
                ?? Compare.Close(erstd, rstd, $"rstd c={c}", 1e-4, Abs)
                ?? Compare.Close(edx, dx, $"dx c={c}", 1e-4, 1e-4)
                ?? Compare.Close(edw, dw, $"dw c={c}", 1e-4, 1e-4)
                ?? Compare.Close(edb, db, $"db c={c}", Rel, Abs)) is { } mismatch) return mismatch;
        }
        return null;
    }

    static string? EmbeddingCheck()
    {
        var rng = new Rng(5);
        foreach (int dim in Sizes)
        {
            const int vocab = 5, count = 9, b = 3, t = 3; // few tokens, so rows repeat and gradients add up
            float[] table = Gaussian(ref rng, vocab * dim), y = new float[count * dim], dy = Gaussian(ref rng, count * dim);
            float[] dtable = Gaussian(ref rng, vocab * dim), wpe = Gaussian(ref rng, t * dim), dwpe = Gaussian(ref rng, t * dim);
            int[] tokens = Ints(ref rng, count, vocab);
            Embedding.Forward(tokens, table, y, count, dim);
            var forward = Compare.Close(ScalarReference.EmbeddingForward(tokens, table, dim), y, $"forward dim={dim}", 0, 0);
            var positions = ScalarReference.AddPositions(y, wpe, b, t, dim);
            var edtable = ScalarReference.EmbeddingBackward(tokens, dy, dtable, dim);
            var edwpe = ScalarReference.PositionsBackward(dy, dwpe, b, t, dim);
            Embedding.AddPositions(y, wpe, b, t, dim);
            Embedding.Backward(tokens, dy, dtable, count, dim);
            Embedding.PositionsBackward(dy, dwpe, b, t, dim);
            if ((forward
                ?? Compare.Close(positions, y, $"positions dim={dim}", Rel, Abs)
                ?? Compare.Close(edtable, dtable, $"backward dim={dim}", Rel, Abs)
                ?? Compare.Close(edwpe, dwpe, $"positions backward dim={dim}", Rel, Abs)) is { } mismatch) return mismatch;
        }
        return null;
    }

    static string? SoftmaxCrossEntropyCheck()
    {
        var rng = new Rng(6);
        foreach (int vocab in Sizes)
        {
            const int n = 3;
            float[] logits = Gaussian(ref rng, n * vocab, 3f), probs = new float[n * vocab], dlogits = Gaussian(ref rng, n * vocab);
            int[] targets = Ints(ref rng, n, vocab);
            var (eprobs, eloss) = ScalarReference.SoftmaxCrossEntropyForward(logits, targets, n, vocab);
            float loss = SoftmaxCrossEntropy.Forward(logits, targets, probs, n, vocab);
            var expected = ScalarReference.SoftmaxCrossEntropyBackward(probs, targets, dlogits, n, vocab, 1f / n);
            SoftmaxCrossEntropy.Backward(probs, targets, dlogits, n, vocab, 1f / n);
            if ((Compare.Close(eprobs, probs, $"probs V={vocab}", Rel, Abs)
                ?? Compare.Close(eloss, loss, $"loss V={vocab}", Rel, Abs)
                ?? Compare.Close(expected, dlogits, $"dlogits V={vocab}", Rel, Abs)) is { } mismatch) return mismatch;
        }
        return null;
    }

    static string? DropoutCheck()
    {
        var data = new Rng(7);
        foreach (int n in Sizes)
        {
            float[] x = Gaussian(ref data, n), y = new float[n], mask = new float[n], dy = Gaussian(ref data, n), dx = Gaussian(ref data, n);
            var rng = new Rng(8);
            Dropout.Forward(x, y, mask, n, 0.3f, ref rng);
            var expectedMask = ScalarReference.DropoutMask(8, n, 0.3f);
            var expectedY = new double[n];
            var expectedDx = new double[n];
            for (int i = 0; i < n; i++)
            {
                expectedY[i] = x[i] * expectedMask[i];
                expectedDx[i] = dx[i] + (double)dy[i] * expectedMask[i];
            }
            Dropout.Backward(dy, mask, dx, n);
            if ((Compare.BitIdentical(expectedMask, mask, $"mask n={n}")
                ?? Compare.Close(expectedY, y, $"y n={n}", Rel, 0)
                ?? Compare.Close(expectedDx, dx, $"dx n={n}", Rel, Abs)) is { } mismatch) return mismatch;
        }
        return null;
    }

    static string? OptimizersCheck()
    {
        var rng = new Rng(9);
        const float lr = 0.01f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, wd = 0.1f;
        foreach (int n in Sizes)
        {
            float[] w = Gaussian(ref rng, n), g = Gaussian(ref rng, n);
            var sgd = ScalarReference.Sgd(w, g, 0.1, wd);
            Sgd.Update(w, g, 0.1f, wd);
            if ((Compare.Close(sgd, w, $"sgd n={n}", Rel, Abs)
                ?? Compare.Close(ScalarReference.SumOfSquares(g), GradientNorm.SumOfSquares(g), $"sum of squares n={n}", Rel, Abs)) is { } mismatch) return mismatch;
            float[] m = new float[n], v = new float[n];
            double[] ew = [.. w.Select(f => (double)f)], em = new double[n], ev = new double[n];
            for (int step = 1; step <= 3; step++)
            {
                g = Gaussian(ref rng, n);
                ScalarReference.AdamW(ew, g, em, ev, lr, beta1, beta2, eps, wd, step);
                AdamW.Update(w, g, m, v, lr, beta1, beta2, eps, wd, step);
                if ((Compare.Close(ew, w, $"adamw w n={n} step={step}", Rel, Abs)
                    ?? Compare.Close(em, m, $"adamw m n={n} step={step}", Rel, Abs)
                    ?? Compare.Close(ev, v, $"adamw v n={n} step={step}", Rel, Abs)) is { } adamw) return adamw;
            }
        }
        return null;
    }

    // Shapes for the matrix products: decoding (one row), rows past whole micro-kernel tiles (6 on x86, 8 on ARM64)
    // and columns past whole tiles (16 or 12) with vector and scalar tails; k past the tiling threshold.
    static readonly (int N, int In, int Out)[] LinearShapes = [(1, 33, 40), (13, 40, 37), (20, 9, 70)];

    delegate void ProductForward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y, int n, int inDim, int outDim);
    delegate void ProductBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, Span<float> dx, Span<float> dw, Span<float> db, int n, int inDim, int outDim);
    delegate double[] ProductReference(float[] x, float[] w, float[] b, int n, int inDim, int outDim);
    delegate (double[] Dx, double[] Dw, double[] Db) ProductBackwardReference(float[] x, float[] w, float[] dy, float[] dx, float[] dw, float[] db, int n, int inDim, int outDim);

    /// <summary>A dense product forward and backward (Linear's w [in, out], or LinearRows' w [out, in]).</summary>
    static string? ProductCheck(ulong seed, ProductForward forward, ProductBackward backward, ProductReference reference, ProductBackwardReference referenceBackward)
    {
        var rng = new Rng(seed);
        foreach (var (n, inDim, outDim) in LinearShapes)
        {
            float[] x = Gaussian(ref rng, n * inDim), w = Gaussian(ref rng, inDim * outDim, 0.3f), b = Gaussian(ref rng, outDim);
            float[] y = Gaussian(ref rng, n * outDim), dy = Gaussian(ref rng, n * outDim);
            float[] dx = Gaussian(ref rng, n * inDim), dw = Gaussian(ref rng, inDim * outDim), db = Gaussian(ref rng, outDim);
            forward(x, w, b, y, n, inDim, outDim);
            var (edx, edw, edb) = referenceBackward(x, w, dy, dx, dw, db, n, inDim, outDim);
            backward(x, w, dy, dx, dw, db, n, inDim, outDim);
            string shape = $"n={n} in={inDim} out={outDim}";
            if ((Compare.Close(reference(x, w, b, n, inDim, outDim), y, $"y {shape}", Rel, Abs)
                ?? Compare.Close(edx, dx, $"dx {shape}", Rel, Abs)
                ?? Compare.Close(edw, dw, $"dw {shape}", Rel, Abs)
                ?? Compare.Close(edb, db, $"db {shape}", Rel, Abs)) is { } mismatch) return mismatch;
        }
        return null;
    }

    /// <summary>
    /// The register-tiled micro-kernel and the four-row loops give every element the same bits (thread splits cut a
    /// product into row blocks and column chunks that may take either): the whole product at once, one row per call
    /// (a row never tiles) and column chunks of 16, at this path's width, against each other and the reference.
    /// </summary>
    static string? LinearTilesCheck()
    {
        var rng = new Rng(11);
        int bits = Simd.Bits;
        foreach (int k in new[] { 9, 257 })
            foreach (int cols in new[] { 12, 17, 40, 65 })
            {
                const int m = 19;
                float[] a = Gaussian(ref rng, m * k), b = Gaussian(ref rng, k * cols, 0.3f), c0 = Gaussian(ref rng, m * cols);
                var (whole, byRow, byChunk) = MatMulAddThreeWays(bits, a, b, c0, m, k, cols);
                var expected = ScalarReference.LinearForward(a, b, [], m, k, cols);
                for (int i = 0; i < expected.Length; i++) expected[i] += c0[i];
                if ((Compare.Close(expected, whole, $"k={k} cols={cols}", Rel, 1e-4)
                    ?? Compare.BitIdentical(whole, byRow, $"one row per call, k={k} cols={cols}")
                    ?? Compare.BitIdentical(whole, byChunk, $"column chunks, k={k} cols={cols}")) is { } mismatch) return mismatch;
            }
        return null;
    }

    // Head sizes 16, 4 and 64: the widest width whose lanes divide the head, the 128-bit lanes, the models' head size.
    static readonly (int B, int T, int C, int H)[] AttentionShapes = [(2, 9, 32, 2), (1, 5, 12, 3), (1, 17, 128, 2)];

    /// <summary>
    /// c0 + a [m, k] @ b [k, cols] by <see cref="Linear.MatMulAdd"/> three ways: the whole product in one call, one row
    /// per call (a row never tiles) and column chunks of 16 (as thread splits cut it).
    /// </summary>
    internal static (float[] Whole, float[] ByRow, float[] ByChunk) MatMulAddThreeWays(int bits, float[] a, float[] b, float[] c0, int m, int k, int cols)
    {
        float[] whole = (float[])c0.Clone(), byRow = (float[])c0.Clone(), byChunk = (float[])c0.Clone();
        Linear.MatMulAdd(bits, ref a[0], k, 1, ref b[0], ref whole[0], m, k, cols, cols);
        for (int p = 0; p < m; p++)
            Linear.MatMulAdd(bits, ref a[p * k], k, 1, ref b[0], ref byRow[p * cols], 1, k, cols, cols);
        for (int j = 0; j < cols; j += 16)
            Linear.MatMulAdd(bits, ref a[0], k, 1, ref b[j], ref byChunk[j], m, k, Math.Min(16, cols - j), cols);
        return (whole, byRow, byChunk);
    }

    static string? AttentionCheck()
    {
        var rng = new Rng(13);
        foreach (var (b, t, c, h) in AttentionShapes)
        {
            float[] qkv = Gaussian(ref rng, b * t * 3 * c), y = new float[b * t * c], att = new float[b * h * t * t];
            float[] dy = Gaussian(ref rng, b * t * c), dqkv = Gaussian(ref rng, b * t * 3 * c), scratch = new float[t];
            Attention.Forward(qkv, y, att, b, t, c, h);
            var (ey, eatt) = ScalarReference.AttentionForward(qkv, b, t, c, h);
            var edqkv = ScalarReference.AttentionBackward(dy, qkv, dqkv, b, t, c, h);
            Attention.Backward(dy, qkv, att, dqkv, scratch, b, t, c, h);
            string shape = $"B={b} T={t} C={c} H={h}";
            if ((Compare.Close(eatt, att, $"att {shape}", Rel, Abs)
                ?? Compare.Close(ey, y, $"y {shape}", Rel, Abs)
                ?? Compare.Close(edqkv, dqkv, $"dqkv {shape}", 1e-4, Abs)) is { } mismatch) return mismatch;
        }
        return null;
    }

    /// <summary>One new position against a KV cache equals the last row of the full causal pass (heads of 32, 12 and
    /// 64; the last cache long enough to split its heads across threads).</summary>
    static string? AttentionDecodeCheck()
    {
        var rng = new Rng(14);
        foreach (var (positions, c, h) in new[] { (7, 64, 2), (5, 24, 2), (130, 256, 4) })
        {
            float[] qkv = Gaussian(ref rng, positions * 3 * c), keys = new float[positions * c], values = new float[positions * c];
            for (int p = 0; p < positions; p++)
            {
                qkv.AsSpan(p * 3 * c + c, c).CopyTo(keys.AsSpan(p * c));
                qkv.AsSpan(p * 3 * c + 2 * c, c).CopyTo(values.AsSpan(p * c));
            }
            float[] y = new float[c], scores = new float[positions];
            AttentionDecode.Forward(qkv.AsSpan((positions - 1) * 3 * c, c), keys, values, y, scores, positions, c, h);
            var expected = ScalarReference.AttentionForward(qkv, 1, positions, c, h).Y.AsSpan((positions - 1) * c, c);
            if (Compare.Close(expected, y, $"y positions={positions} C={c} H={h}", Rel, Abs) is { } mismatch) return mismatch;
        }
        return null;
    }

    /// <summary>
    /// The activations' quantiser at this path gives the scalar quantiser's scales, codes and code sums exactly (round
    /// half to even included: a block built so x / scale lands on .5), and its sums of x to float rounding.
    /// </summary>
    static unsafe string? QuantizedActivationsCheck()
    {
        var rng = new Rng(15);
        const int blocks = 12, n = 2;
        float[] x = Gaussian(ref rng, n * blocks * 32, 3f);
        x.AsSpan(0, 32).Clear(); // an all-zero block: scale 0, codes 0
        for (int i = 0; i < 32; i++) x[32 + i] = i == 0 ? 127f : (i - 16) + 0.5f; // scale 1: codes on .5 ties
        for (int i = 0; i < 32; i++) x[64 + i] = -x[32 + i];
        sbyte[] codes = new sbyte[x.Length], expectedCodes = new sbyte[x.Length];
        float[] sums = new float[3 * n * blocks], expected = new float[3 * n * blocks];
        QuantizedLinear.QuantizeActivations(x, codes, sums, n, blocks * 32);
        fixed (float* px = x, pe = expected)
        fixed (sbyte* pq = expectedCodes)
            for (int r = 0; r < n; r++)
                for (int k = 0; k < blocks; k++)
                {
                    int at = (r * blocks + k) * 32;
                    float* xSum = pe + n * blocks + 2 * r * blocks + k;
                    QuantizedLinear.QuantizeBlockScalar(px + at, pq + at, pe + r * blocks + k, xSum, xSum + blocks);
                }
        for (int i = 0; i < codes.Length; i++)
            if (codes[i] != expectedCodes[i]) return $"code[{i}] of x = {x[i]:R}: expected {expectedCodes[i]}, got {codes[i]}";
        for (int r = 0; r < n; r++)
        {
            int at = n * blocks + 2 * r * blocks;
            var xSums = expected.AsSpan(at, blocks).ToArray().Select(v => (double)v).ToArray();
            if ((Compare.BitIdentical(expected.AsSpan(r * blocks, blocks), sums.AsSpan(r * blocks, blocks), $"row {r} scale")
                ?? Compare.Close(xSums, sums.AsSpan(at, blocks), $"row {r} sum of x", Rel, 1e-4)
                ?? Compare.BitIdentical(expected.AsSpan(at + blocks, blocks), sums.AsSpan(at + blocks, blocks), $"row {r} code sum")) is { } mismatch)
                return mismatch;
        }
        return null;
    }

    /// <summary>
    /// Decoding (one row: the whole-part row loop), a batch (rows four at a time on AVX2), a part split, and batches
    /// of many rows on every path that serves them: the dequantise-a-tile path (fp32 activations, checked against the
    /// dequantised reference) and, with AVX2, the integer tiles (checked against their quantised reference).
    /// </summary>
    static string? QuantizedLinearCheck(QuantType type)
    {
        var rng = new Rng(16 + (ulong)type);
        int many = QuantizedLinear.DequantiseFromRows; // many rows for every path: the tiles start at 5 or 9
        foreach (var (n, inDim, outDim) in new[] { (1, 64, 40), (6, 96, 24), (1, 256, 300), (many, 96, 24), (many + 7, 256, 200) })
        {
            float[] wf = Gaussian(ref rng, inDim * outDim, 0.1f), x = Gaussian(ref rng, n * inDim), b = Gaussian(ref rng, outDim);
            var w = QuantizedMatrix.Create(wf, inDim, outDim, transposed: false, type);
            var y = new float[n * outDim];
            QuantizedLinear.Forward(x, w, b, y, n, inDim, outDim);
            if (Compare.Close(ScalarReference.QuantizedLinearForwardAuto(w, x, b, n), y, $"y n={n} in={inDim} out={outDim}", 1e-4, 1e-4) is { } mismatch)
                return mismatch;
            if (n < many) continue;
            QuantizedLinear.Forward(x, w, b, y, n, inDim, outDim, QuantizedLinear.Path.Dequantised);
            if (Compare.Close(ScalarReference.DequantisedLinearForward(w, x, b, n), y, $"dequantised tiles n={n} in={inDim} out={outDim}", 1e-4, 1e-4) is { } tiles)
                return tiles;
            if (!QuantizedTiles.Serve) continue;
            QuantizedLinear.Forward(x, w, b, y, n, inDim, outDim, QuantizedLinear.Path.IntegerTiles);
            if (Compare.Close(ScalarReference.QuantizedTilesForward(w, x, b, n), y, $"integer tiles n={n} in={inDim} out={outDim}", 1e-4, 1e-4) is { } integer)
                return integer;
        }
        return null;
    }
}
