using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class LinearTests
{
    // n covers one row, a partial block of 4, and blocks plus a remainder; In and Out cover every vector tail.
    static readonly int[] Rows = [1, 3, 7, 17];
    static readonly int[] Ins = [1, 3, 13, 33, 130]; // 13 and 33: a one-row product's eight-, four- and one-row passes
    static readonly int[] Outs = [1, 7, 17, 31, 65];

    // (18, 250, 700): dx through the tiled GEMM in three transposed tiles of w (k = Out = 700: tiles of 96 rows of w).
    // (1, 300, 70): a one-row product cut into Linear.DecodeSlices slices of w's rows (80, 80, 80, 60).
    static IEnumerable<(int N, int In, int Out)> Shapes() =>
        (from n in Rows from i in Ins from o in Outs select (n, i, o)).Append((18, 250, 700)).Append((1, 300, 70));

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LinearForward_MatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(10);
        foreach (var (n, inDim, outDim) in Shapes())
            foreach (bool bias in new[] { true, false })
            {
                float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, inDim * outDim, 0.3f);
                float[] b = bias ? Data.Gaussian(ref rng, outDim) : [];
                // y is sized for one more row than used, and stale: the kernel overwrites its rows and nothing past them.
                float[] y = Data.Gaussian(ref rng, (n + 1) * outDim);
                float[] past = y[(n * outDim)..];
                Linear.Forward(x, w, b, y, n, inDim, outDim);
                Expect.Close(ScalarReference.LinearForward(x, w, b, n, inDim, outDim), y.AsSpan(0, n * outDim), $"y n={n} in={inDim} out={outDim} bias={bias}");
                Assert.Equal(past, y[(n * outDim)..]);
            }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LinearBackward_MatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(11);
        foreach (var (n, inDim, outDim) in Shapes())
        {
            float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, inDim * outDim, 0.3f), dy = Data.Gaussian(ref rng, n * outDim);
            // Non-zero starting gradients: Backward must add to them, not overwrite.
            float[] dx = Data.Gaussian(ref rng, n * inDim), dw = Data.Gaussian(ref rng, inDim * outDim), db = Data.Gaussian(ref rng, outDim);
            var (edx, edw, edb) = ScalarReference.LinearBackward(x, w, dy, dx, dw, db, n, inDim, outDim);
            Linear.Backward(x, w, dy, dx, dw, db, n, inDim, outDim);
            string shape = $"n={n} in={inDim} out={outDim}";
            // A sum of k = Out = 700 float products in order (the scalar path) is good to about 1e-5 of values near 8.
            Expect.Close(edx, dx, $"dx {shape}", abs: outDim >= 500 ? 1e-4 : Expect.Abs);
            Expect.Close(edw, dw, $"dw {shape}");
            Expect.Close(edb, db, $"db {shape}");
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LinearBackward_SkipsEmptyDxAndDb(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(12);
        const int n = 7, inDim = 33, outDim = 17;
        float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, inDim * outDim), dy = Data.Gaussian(ref rng, n * outDim);
        float[] dw = Data.Gaussian(ref rng, inDim * outDim);
        var (_, edw, _) = ScalarReference.LinearBackward(x, w, dy, [], dw, [], n, inDim, outDim);
        Linear.Backward(x, w, dy, [], dw, [], n, inDim, outDim);
        Expect.Close(edw, dw, "dw");
    }

    // The register-tiled MatMulAdd (6 rows x 2 vectors: 16 columns at 256 bits, 32 at 512, 8 at 128) and its edge
    // tiles: m below, at and past multiples of 6 and past a row block of 96; k = 1 (the four-row path), around
    // MinTiledK, and 257 (a k block of 256 plus a one-row tail); cols below, at and past every tile width.
    static readonly int[] TileMs = [1, 5, 6, 7, 13, 100];
    static readonly int[] TileKs = [1, 7, 8, 9, 257];
    static readonly int[] TileCols = [1, 7, 8, 15, 16, 17, 33, 40, 65];

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void MatMulAdd_EdgeTiles_MatchScalarReference_OnEveryWidth(int bits)
    {
        var rng = new Rng(14);
        foreach (int m in TileMs)
            foreach (int k in TileKs)
                foreach (int cols in TileCols)
                    foreach (bool transposed in new[] { false, true })
                    {
                        // A [m, k] stored row-major, or as the transpose of a [k, m] matrix (the dw product);
                        // B and C are column slices of matrices 3 columns wider, so ld > cols.
                        int ld = cols + 3;
                        float[] a = Data.Gaussian(ref rng, m * k), b = Data.Gaussian(ref rng, k * ld, 0.3f);
                        float[] c = Data.Gaussian(ref rng, m * ld);
                        int rowStride = transposed ? 1 : k, colStride = transposed ? m : 1;
                        var expected = new double[m * ld];
                        for (int p = 0; p < m; p++)
                            for (int j = 0; j < ld; j++)
                            {
                                double sum = c[p * ld + j];
                                if (j < cols)
                                    for (int q = 0; q < k; q++) sum += (double)a[p * rowStride + q * colStride] * b[q * ld + j];
                                expected[p * ld + j] = sum;
                            }
                        Linear.MatMulAdd(bits, ref a[0], rowStride, colStride, ref b[0], ref c[0], m, k, cols, ld);
                        Expect.Close(expected, c, $"bits={bits} m={m} k={k} cols={cols} transposed={transposed}", abs: 1e-4);
                    }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void MatMulAdd_TiledAndFourRowPaths_AreBitIdentical_OnEveryWidth(int bits)
    {
        // Thread splits cut C into row blocks of 4 and column chunks of 16, so a row may go through the tiled kernel in
        // one call and the four-row loops in another: both must give the same bits. Here: the whole product at once
        // vs one row per call (m = 1 never tiles) and vs column chunks of 16.
        var rng = new Rng(15);
        foreach (int k in TileKs)
            foreach (int cols in TileCols)
            {
                const int m = 19;
                float[] a = Data.Gaussian(ref rng, m * k), b = Data.Gaussian(ref rng, k * cols), c0 = Data.Gaussian(ref rng, m * cols);
                var (whole, byRow, byChunk) = KernelSelfCheck.MatMulAddThreeWays(bits, a, b, c0, m, k, cols);
                Expect.BitIdentical(whole, byRow, $"by row, bits={bits} k={k} cols={cols}");
                Expect.BitIdentical(whole, byChunk, $"by column chunk, bits={bits} k={k} cols={cols}");
            }
    }

    [Fact]
    public void Linear_RejectsWrongShapes()
    {
        Assert.Throws<ArgumentException>(() => Linear.Forward(new float[6], new float[5], [], new float[6], 2, 3, 2)); // w is 3x2 = 6
        Assert.Throws<ArgumentException>(() => Linear.Forward(new float[5], new float[6], [], new float[4], 2, 3, 2)); // x needs 2x3
        Assert.Throws<ArgumentException>(() => Linear.Forward(new float[6], new float[6], new float[3], new float[4], 2, 3, 2)); // b is [Out]
        Assert.Throws<ArgumentException>(() => Linear.Backward(new float[6], new float[6], new float[4], new float[5], new float[6], [], 2, 3, 2)); // dx needs 2x3
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Linear_AllocatesNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(13);
        const int n = 17, inDim = 33, outDim = 65;
        float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, inDim * outDim), b = Data.Gaussian(ref rng, outDim);
        float[] y = new float[n * outDim], dx = new float[n * inDim], dw = new float[inDim * outDim], db = new float[outDim];
        Expect.AllocatesNothing(() =>
        {
            Linear.Forward(x, w, b, y, n, inDim, outDim);
            Linear.Backward(x, w, y, dx, dw, db, n, inDim, outDim);
        }, "Linear");
    }
}
