using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class LayerNormTests
{
    // C covers a single channel, every vector tail, and the model sizes' multiples of 16 and 64.
    static readonly int[] Rows = [1, 5, 17];
    static readonly int[] Channels = [1, 3, 12, 20, 33, 64, 130];

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LayerNormForward_MatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(40);
        foreach (int n in Rows)
            foreach (int c in Channels)
            {
                // Rows with an offset and a spread, so that the mean and variance both matter.
                float[] x = Data.Gaussian(ref rng, n * c, 2f).Select(v => v + 3f).ToArray();
                float[] w = Data.Gaussian(ref rng, c), b = Data.Gaussian(ref rng, c);
                // Activations sized for one more row than used, and stale: nothing past n rows is written.
                float[] y = Data.Gaussian(ref rng, (n + 1) * c), mean = Data.Gaussian(ref rng, n + 1), rstd = Data.Gaussian(ref rng, n + 1);
                float[] yPast = y[(n * c)..];
                float meanPast = mean[n], rstdPast = rstd[n];
                LayerNorm.Forward(x, w, b, y, mean, rstd, n, c);
                var (ey, emean, erstd) = ScalarReference.LayerNormForward(x, w, b, n, c);
                string shape = $"n={n} c={c}";
                Expect.Close(ey, y.AsSpan(0, n * c), $"y {shape}", rel: 1e-5, abs: 1e-4);
                Expect.Close(emean, mean.AsSpan(0, n), $"mean {shape}");
                Expect.Close(erstd, rstd.AsSpan(0, n), $"rstd {shape}", rel: 1e-4);
                Assert.Equal(yPast, y[(n * c)..]);
                Assert.Equal(meanPast, mean[n]);
                Assert.Equal(rstdPast, rstd[n]);
            }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LayerNormBackward_AccumulatesAndMatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(41);
        foreach (int n in Rows)
            foreach (int c in Channels)
            {
                float[] x = Data.Gaussian(ref rng, n * c), w = Data.Gaussian(ref rng, c), b = Data.Gaussian(ref rng, c);
                float[] y = new float[n * c], mean = new float[n], rstd = new float[n];
                LayerNorm.Forward(x, w, b, y, mean, rstd, n, c);
                float[] dy = Data.Gaussian(ref rng, n * c);
                // Non-zero starting gradients: Backward must add to them, not overwrite.
                float[] dx = Data.Gaussian(ref rng, n * c), dw = Data.Gaussian(ref rng, c), db = Data.Gaussian(ref rng, c);
                var (edx, edw, edb) = ScalarReference.LayerNormBackward(dy, x, w, dx, dw, db, n, c);
                LayerNorm.Backward(dy, x, w, mean, rstd, dx, dw, db, n, c);
                string shape = $"n={n} c={c}";
                Expect.Close(edx, dx, $"dx {shape}", rel: 1e-4, abs: 1e-4);
                Expect.Close(edw, dw, $"dw {shape}", rel: 1e-4, abs: 1e-4);
                Expect.Close(edb, db, $"db {shape}");
            }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LayerNormBackward_MatchesFiniteDifferencesOfTheDoubleForward(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(42);
        foreach (var (n, c) in new[] { (1, 1), (2, 12), (3, 20), (2, 33) })
        {
            float[] x = Data.Gaussian(ref rng, n * c), w = Data.Gaussian(ref rng, c), b = Data.Gaussian(ref rng, c);
            float[] g = Data.Gaussian(ref rng, n * c); // loss = sum(y * g), so dy = g
            float[] y = new float[n * c], mean = new float[n], rstd = new float[n];
            float[] dx = new float[n * c], dw = new float[c], db = new float[c];
            LayerNorm.Forward(x, w, b, y, mean, rstd, n, c);
            LayerNorm.Backward(g, x, w, mean, rstd, dx, dw, db, n, c);

            double[] xd = ScalarReference.ToDouble(x), wd = ScalarReference.ToDouble(w), bd = ScalarReference.ToDouble(b);
            double Loss() => FiniteDifferences.Weighted(ScalarReference.LayerNormForward(xd, wd, bd, n, c).Y, g);
            string shape = $"n={n} c={c}";
            // The kernel works in float; the numeric gradient is exact to ~1e-9.
            Expect.Close(FiniteDifferences.Gradient(_ => Loss(), xd), dx, $"dx {shape}", rel: 1e-4, abs: 1e-4);
            Expect.Close(FiniteDifferences.Gradient(_ => Loss(), wd), dw, $"dw {shape}", rel: 1e-4, abs: 1e-4);
            Expect.Close(FiniteDifferences.Gradient(_ => Loss(), bd), db, $"db {shape}", rel: 1e-4, abs: 1e-4);
        }
    }

    [Fact]
    public void LayerNorm_RejectsWrongShapes()
    {
        float[] x = new float[6], p = new float[3], stats = new float[2];
        Assert.Throws<ArgumentException>(() => LayerNorm.Forward(new float[5], p, p, x, stats, stats, 2, 3)); // x needs 2x3
        Assert.Throws<ArgumentException>(() => LayerNorm.Forward(x, new float[4], p, x, stats, stats, 2, 3)); // weight is [C]
        Assert.Throws<ArgumentException>(() => LayerNorm.Forward(x, p, p, x, new float[1], stats, 2, 3)); // mean is [n]
        Assert.Throws<ArgumentException>(() => LayerNorm.Backward(x, x, p, stats, stats, x, p, new float[2], 2, 3)); // dbias is [C]
        Assert.Throws<ArgumentOutOfRangeException>(() => LayerNorm.Forward([], [], [], [], stats, stats, 2, 0));
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void LayerNorm_AllocatesNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(43);
        const int n = 17, c = 130;
        float[] x = Data.Gaussian(ref rng, n * c), w = Data.Gaussian(ref rng, c), b = Data.Gaussian(ref rng, c);
        float[] y = new float[n * c], mean = new float[n], rstd = new float[n], dx = new float[n * c], dw = new float[c], db = new float[c];
        Expect.AllocatesNothing(() =>
        {
            LayerNorm.Forward(x, w, b, y, mean, rstd, n, c);
            LayerNorm.Backward(y, x, w, mean, rstd, dx, dw, db, n, c);
        }, "LayerNorm");
    }
}
