using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class GeluTests
{
    // Zero, both tails (where exp overflows or vanishes) and values a vector path must not get wrong in its last lane.
    static readonly float[] Extremes = [0f, -0f, 1e-20f, -1e-20f, 5f, -5f, 12f, -12f, 50f, -50f, 1e4f, -1e4f];

    static float[] Inputs(ref Rng rng, int n)
    {
        float[] x = Data.Gaussian(ref rng, n, 3f);
        for (int i = 0; i < n; i++)
            if (rng.NextInt(4) == 0) x[i] = Extremes[rng.NextInt(Extremes.Length)];
        return x;
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void GeluForward_MatchesTanhFormula_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(50);
        foreach (int n in Data.Sizes)
        {
            float[] x = Inputs(ref rng, n), y = Data.Gaussian(ref rng, n);
            Gelu.Forward(x, y);
            Expect.Close(ScalarReference.GeluForward(x), y, $"n={n}", rel: 1e-5, abs: 1e-6);
            Gelu.Forward(x, x); // in place
            Assert.Equal(y, x);
        }
        float[] extremes = (float[])Extremes.Clone(), ye = new float[Extremes.Length];
        Gelu.Forward(extremes, ye);
        Expect.Close(ScalarReference.GeluForward(extremes), ye, "extremes", rel: 1e-5, abs: 1e-6);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void GeluBackward_AccumulatesDyTimesDerivativeAtInput_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(51);
        foreach (int n in Data.Sizes)
        {
            float[] x = Inputs(ref rng, n), dy = Data.Gaussian(ref rng, n), dx = Data.Gaussian(ref rng, n);
            var expected = ScalarReference.GeluBackward(x, dy, dx);
            Gelu.Backward(x, dy, dx);
            Expect.Close(expected, dx, $"n={n}", rel: 1e-5, abs: 1e-5);
            Assert.All(dx, v => Assert.True(float.IsFinite(v)));
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void GeluBackward_MatchesFiniteDifferencesOfTheDoubleForward(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(52);
        float[] x = Data.Gaussian(ref rng, 65, 2f), g = Data.Gaussian(ref rng, 65), dx = new float[65];
        Gelu.Backward(x, g, dx);
        double[] xd = ScalarReference.ToDouble(x);
        var numeric = FiniteDifferences.Gradient(v => FiniteDifferences.Weighted(ScalarReference.GeluForward(v), g), xd);
        Expect.Close(numeric, dx, "dx", rel: 1e-4, abs: 1e-5);
    }

    [Fact]
    public void ErfcReference_MatchesKnownValues()
    {
        // erfc at 0, 0.5, 1, 2, 3, 5 (Abramowitz and Stegun table 7.1 and its tail), across the series/fraction switch.
        (double z, double erfc)[] known = [(0, 1), (0.5, 0.4795001221869535), (1, 0.15729920705028513),
            (2, 0.004677734981047266), (3, 2.209049699858544e-05), (5, 1.5374597944280349e-12)];
        foreach (var (z, erfc) in known)
            Assert.Equal(erfc, ScalarReference.Erfc(z), erfc * 1e-10);
        Assert.Equal(ScalarReference.Erfc(2.9999999), ScalarReference.Erfc(3.0000001), 1e-10);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void GeluExactForward_MatchesErfFormula_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(54);
        foreach (int n in Data.Sizes)
        {
            float[] x = Inputs(ref rng, n), y = Data.Gaussian(ref rng, n);
            GeluExact.Forward(x, y);
            Expect.Close(ScalarReference.GeluExactForward(x), y, $"n={n}", rel: 1e-5, abs: 1e-6);
            GeluExact.Forward(x, x); // in place
            Assert.Equal(y, x);
        }
        float[] extremes = (float[])Extremes.Clone(), ye = new float[Extremes.Length];
        GeluExact.Forward(extremes, ye);
        Expect.Close(ScalarReference.GeluExactForward(extremes), ye, "extremes", rel: 1e-5, abs: 1e-6);
        // The left tail keeps its relative accuracy (no 1 - nearly 1): gelu(-5) = -5 Phi(-5) = -1.4333e-6.
        float[] left = [-3f, -5f, -8f], yl = new float[3];
        GeluExact.Forward(left, yl);
        Expect.Close(ScalarReference.GeluExactForward(left), yl, "left tail", rel: 1e-5, abs: 0);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void GeluExact_DiffersFromTheTanhForm(int bits)
    {
        // The two forms agree to about 1e-3 at most; a kernel wired to the wrong one would pass a loose check.
        using var _ = Widths.Use(bits);
        float[] x = [-3f, -2f, -1f, 1f, 2f, 3f], exact = new float[6], tanh = new float[6];
        GeluExact.Forward(x, exact);
        Gelu.Forward(x, tanh);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(exact[i] - tanh[i]) > 1e-5, $"x={x[i]}: exact {exact[i]}, tanh {tanh[i]}");
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void GeluExactBackward_AccumulatesDyTimesDerivativeAtInput_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(55);
        foreach (int n in Data.Sizes)
        {
            float[] x = Inputs(ref rng, n), dy = Data.Gaussian(ref rng, n), dx = Data.Gaussian(ref rng, n);
            var expected = ScalarReference.GeluExactBackward(x, dy, dx);
            GeluExact.Backward(x, dy, dx);
            Expect.Close(expected, dx, $"n={n}", rel: 1e-5, abs: 1e-5);
            Assert.All(dx, v => Assert.True(float.IsFinite(v)));
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void GeluExactBackward_MatchesFiniteDifferencesOfTheDoubleForward(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(56);
        float[] x = Data.Gaussian(ref rng, 65, 2f), g = Data.Gaussian(ref rng, 65), dx = new float[65];
        GeluExact.Backward(x, g, dx);
        double[] xd = ScalarReference.ToDouble(x);
        var numeric = FiniteDifferences.Gradient(v => FiniteDifferences.Weighted(ScalarReference.GeluExactForward(v), g), xd);
        Expect.Close(numeric, dx, "dx", rel: 1e-4, abs: 1e-5);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Gelu_AllocatesNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(53);
        float[] x = Data.Gaussian(ref rng, 130), y = new float[130], dx = new float[130];
        Expect.AllocatesNothing(() =>
        {
            Gelu.Forward(x, y);
            Gelu.Backward(x, y, dx);
            GeluExact.Forward(x, y);
            GeluExact.Backward(x, y, dx);
        }, "Gelu");
    }
}
