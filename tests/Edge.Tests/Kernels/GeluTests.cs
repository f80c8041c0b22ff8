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
        }, "Gelu");
    }
}
