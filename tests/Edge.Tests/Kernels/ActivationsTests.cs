using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class ActivationsTests
{
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void TanhForward_MatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(30);
        foreach (int n in Data.Sizes)
        {
            float[] x = Data.Gaussian(ref rng, n, 2f), y = new float[n];
            Activations.TanhForward(x, y);
            Expect.Close(ScalarReference.TanhForward(x), y, $"n={n}");
            Activations.TanhForward(x, x); // in place
            Assert.Equal(y, x);
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void TanhBackward_AccumulatesFromOutput_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(31);
        foreach (int n in Data.Sizes)
        {
            float[] y = Data.Gaussian(ref rng, n).Select(MathF.Tanh).ToArray(), dy = Data.Gaussian(ref rng, n), dx = Data.Gaussian(ref rng, n);
            var expected = ScalarReference.TanhBackward(y, dy, dx);
            Activations.TanhBackward(y, dy, dx);
            Expect.Close(expected, dx, $"n={n}");
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void ReluForward_MatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(32);
        foreach (int n in Data.Sizes)
        {
            float[] x = Data.Gaussian(ref rng, n), y = Data.Gaussian(ref rng, n);
            Activations.ReluForward(x, y);
            Expect.Close(ScalarReference.ReluForward(x), y, $"n={n}", rel: 0, abs: 0);
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void ReluBackward_PassesGradientWhereOutputPositive_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(33);
        foreach (int n in Data.Sizes)
        {
            // y from a real forward pass, so about half of it is exactly 0 (which must block the gradient).
            float[] y = new float[n], dy = Data.Gaussian(ref rng, n), dx = Data.Gaussian(ref rng, n);
            Activations.ReluForward(Data.Gaussian(ref rng, n), y);
            var expected = ScalarReference.ReluBackward(y, dy, dx);
            Activations.ReluBackward(y, dy, dx);
            Expect.Close(expected, dx, $"n={n}");
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Activations_AllocateNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(34);
        float[] x = Data.Gaussian(ref rng, 130), y = new float[130], dx = new float[130];
        Expect.AllocatesNothing(() =>
        {
            Activations.TanhForward(x, y);
            Activations.TanhBackward(y, x, dx);
            Activations.ReluForward(x, y);
            Activations.ReluBackward(y, x, dx);
        }, "Activations");
    }
}
