using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class OptimizersTests
{
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void SgdUpdate_MatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(50);
        foreach (int n in Data.Sizes)
            foreach (float wd in new[] { 0f, 0.1f })
            {
                float[] w = Data.Gaussian(ref rng, n), g = Data.Gaussian(ref rng, n);
                var expected = ScalarReference.Sgd(w, g, 0.1, wd);
                Sgd.Update(w, g, 0.1f, wd);
                Expect.Close(expected, w, $"n={n} wd={wd}");
            }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void AdamWUpdate_MatchesPyTorchFormulaOverThreeSteps_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(51);
        const float lr = 0.01f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, wd = 0.1f;
        foreach (int n in Data.Sizes)
        {
            float[] w = Data.Gaussian(ref rng, n), m = new float[n], v = new float[n];
            double[] ew = w.Select(x => (double)x).ToArray(), em = new double[n], ev = new double[n];
            for (int step = 1; step <= 3; step++)
            {
                float[] g = Data.Gaussian(ref rng, n);
                ScalarReference.AdamW(ew, g, em, ev, lr, beta1, beta2, eps, wd, step);
                AdamW.Update(w, g, m, v, lr, beta1, beta2, eps, wd, step);
                Expect.Close(ew, w, $"w n={n} step={step}");
                Expect.Close(em, m, $"m n={n} step={step}");
                Expect.Close(ev, v, $"v n={n} step={step}");
            }
        }
    }

    [Fact]
    public void AdamWUpdate_RejectsStepZero() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => AdamW.Update(new float[1], new float[1], new float[1], new float[1], 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 0));

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void GradientNormSumOfSquares_MatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(52);
        foreach (int n in Data.Sizes.Append(10_000)) // 10000 crosses the 4096-element blocks
        {
            float[] g = Data.Gaussian(ref rng, n);
            Expect.Close(ScalarReference.SumOfSquares(g), GradientNorm.SumOfSquares(g), $"n={n}");
        }
        Assert.Equal(0.0, GradientNorm.SumOfSquares([]));
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Optimizers_AllocateNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(53);
        float[] w = Data.Gaussian(ref rng, 130), g = Data.Gaussian(ref rng, 130), m = new float[130], v = new float[130];
        double sink = 0;
        int step = 0;
        Expect.AllocatesNothing(() =>
        {
            Sgd.Update(w, g, 1e-3f, 0.01f);
            AdamW.Update(w, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, ++step);
            sink += GradientNorm.SumOfSquares(g);
        }, "Optimizers");
        Assert.False(double.IsNaN(sink));
    }
}
