using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class LinearRowsTests
{
    // n covers one row, a partial block of 4, and blocks plus a remainder; In and Out cover every vector tail
    // (Out = 65 is the character vocabulary of the tied output head).
    static readonly int[] Rows = [1, 3, 7, 17];
    static readonly int[] Ins = [1, 3, 20, 33, 130];
    static readonly int[] Outs = [1, 7, 17, 65];

    // The last shape: the forward through the tiled GEMM in three transposed tiles of w (k = In = 700: tiles of 96 rows of w).
    static IEnumerable<(int N, int In, int Out)> Shapes() =>
        (from n in Rows from i in Ins from o in Outs select (n, i, o)).Append((18, 700, 250));

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LinearRowsForward_MatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(80);
        foreach (var (n, inDim, outDim) in Shapes())
            foreach (bool bias in new[] { true, false })
            {
                float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, outDim * inDim, 0.3f);
                float[] b = bias ? Data.Gaussian(ref rng, outDim) : [];
                // y is sized for one more row than used, and stale: the kernel overwrites its rows and nothing past them.
                float[] y = Data.Gaussian(ref rng, (n + 1) * outDim);
                float[] past = y[(n * outDim)..];
                LinearRows.Forward(x, w, b, y, n, inDim, outDim);
                // A sum of k = In = 700 float products in order (the scalar path) is good to about 1e-5 of values near 8.
                Expect.Close(ScalarReference.LinearRowsForward(x, w, b, n, inDim, outDim), y.AsSpan(0, n * outDim),
                    $"y n={n} in={inDim} out={outDim} bias={bias}", abs: inDim >= 500 ? 1e-4 : Expect.Abs);
                Assert.Equal(past, y[(n * outDim)..]);
            }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LinearRowsBackward_AccumulatesAndMatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(81);
        foreach (var (n, inDim, outDim) in Shapes())
        {
            float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, outDim * inDim, 0.3f), dy = Data.Gaussian(ref rng, n * outDim);
            // Non-zero starting gradients: Backward must add to them, not overwrite.
            float[] dx = Data.Gaussian(ref rng, n * inDim), dw = Data.Gaussian(ref rng, outDim * inDim), db = Data.Gaussian(ref rng, outDim);
            var (edx, edw, edb) = ScalarReference.LinearRowsBackward(x, w, dy, dx, dw, db, n, inDim, outDim);
            LinearRows.Backward(x, w, dy, dx, dw, db, n, inDim, outDim);
            string shape = $"n={n} in={inDim} out={outDim}";
            Expect.Close(edx, dx, $"dx {shape}");
            Expect.Close(edw, dw, $"dw {shape}");
            Expect.Close(edb, db, $"db {shape}");
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LinearRowsBackward_SkipsEmptyDxAndDb(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(82);
        const int n = 7, inDim = 33, outDim = 17;
        float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, outDim * inDim), dy = Data.Gaussian(ref rng, n * outDim);
        float[] dw = Data.Gaussian(ref rng, outDim * inDim);
        var (_, edw, _) = ScalarReference.LinearRowsBackward(x, w, dy, [], dw, [], n, inDim, outDim);
        LinearRows.Backward(x, w, dy, [], dw, [], n, inDim, outDim);
        Expect.Close(edw, dw, "dw");
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LinearRowsBackward_MatchesFiniteDifferencesOfTheDoubleForward(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(83);
        foreach (var (n, inDim, outDim) in new[] { (1, 3, 7), (5, 20, 13), (6, 33, 17) })
        {
            float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, outDim * inDim, 0.3f), b = Data.Gaussian(ref rng, outDim);
            float[] g = Data.Gaussian(ref rng, n * outDim);
            float[] dx = new float[n * inDim], dw = new float[outDim * inDim], db = new float[outDim];
            LinearRows.Backward(x, w, g, dx, dw, db, n, inDim, outDim);
            double[] xd = ScalarReference.ToDouble(x), wd = ScalarReference.ToDouble(w), bd = ScalarReference.ToDouble(b);
            double Loss() => FiniteDifferences.Weighted(ScalarReference.LinearRowsForward(xd, wd, bd, n, inDim, outDim), g);
            string shape = $"n={n} in={inDim} out={outDim}";
            Expect.Close(FiniteDifferences.Gradient(_ => Loss(), xd), dx, $"dx {shape}", rel: 1e-4, abs: 1e-5);
            Expect.Close(FiniteDifferences.Gradient(_ => Loss(), wd), dw, $"dw {shape}", rel: 1e-4, abs: 1e-5);
            Expect.Close(FiniteDifferences.Gradient(_ => Loss(), bd), db, $"db {shape}", rel: 1e-4, abs: 1e-5);
        }
    }

    [Fact]
    public void LinearRows_RejectsWrongShapes()
    {
        Assert.Throws<ArgumentException>(() => LinearRows.Forward(new float[6], new float[5], [], new float[6], 2, 3, 2)); // w is 2x3 = 6
        Assert.Throws<ArgumentException>(() => LinearRows.Forward(new float[5], new float[6], [], new float[4], 2, 3, 2)); // x needs 2x3
        Assert.Throws<ArgumentException>(() => LinearRows.Forward(new float[6], new float[6], new float[3], new float[4], 2, 3, 2)); // b is [Out]
        Assert.Throws<ArgumentException>(() => LinearRows.Backward(new float[6], new float[6], new float[4], new float[5], new float[6], [], 2, 3, 2)); // dx needs 2x3
        Assert.Throws<ArgumentException>(() => LinearRows.Backward(new float[6], new float[6], new float[4], [], new float[7], [], 2, 3, 2)); // dw is 2x3
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LinearRows_AllocatesNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(84);
        const int n = 17, inDim = 33, outDim = 65;
        float[] x = Data.Gaussian(ref rng, n * inDim), w = Data.Gaussian(ref rng, outDim * inDim), b = Data.Gaussian(ref rng, outDim);
        float[] y = new float[n * outDim], dx = new float[n * inDim], dw = new float[outDim * inDim], db = new float[outDim];
        Expect.AllocatesNothing(() =>
        {
            LinearRows.Forward(x, w, b, y, n, inDim, outDim);
            LinearRows.Backward(x, w, y, dx, dw, db, n, inDim, outDim);
        }, "LinearRows");
    }
}
