using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class GeluTests
{
    // Zero, both tails (where exp overflows or vanishes) and values a vector path must not get wrong in its last lane.
    static readonly float[] Extremes = [0f, -0f, 1e-20f, -1e-20f, 5f, -5f, 12f, -12f, 50f, -50f, 1e4f, -1e4f];

    delegate void ForwardKernel(ReadOnlySpan<float> x, Span<float> y);
    delegate void BackwardKernel(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx);

    /// <summary>A GELU form: its kernels and its double-precision reference.</summary>
    sealed record Form(ForwardKernel Forward, BackwardKernel Backward, Func<float[], double[]> Reference,
        Func<double[], double[]> ReferenceOfDoubles, Func<float[], float[], float[], double[]> ReferenceBackward);

    static Form Get(string name) => name switch
    {
        "tanh" => new(Gelu.Forward, Gelu.Backward, ScalarReference.GeluForward, ScalarReference.GeluForward, ScalarReference.GeluBackward),
        "exact" => new(GeluExact.Forward, GeluExact.Backward, ScalarReference.GeluExactForward, ScalarReference.GeluExactForward, ScalarReference.GeluExactBackward),
        _ => throw new ArgumentException(name),
    };

    /// <summary>Every vector width this machine runs, for both forms.</summary>
    public static TheoryData<int, string> WidthsAndForms()
    {
        var data = new TheoryData<int, string>();
        foreach (var bits in Simd.AllBits)
            foreach (var form in new[] { "tanh", "exact" }) data.Add(bits, form);
        return data;
    }

    static float[] Inputs(ref Rng rng, int n)
    {
        float[] x = Data.Gaussian(ref rng, n, 3f);
        for (int i = 0; i < n; i++)
            if (rng.NextInt(4) == 0) x[i] = Extremes[rng.NextInt(Extremes.Length)];
        return x;
    }

    [Theory, MemberData(nameof(WidthsAndForms))]
    public void Forward_MatchesTheFormula_OnEveryWidth(int bits, string name)
    {
        using var _ = Widths.Use(bits);
        var form = Get(name);
        var rng = new Rng(50);
        foreach (int n in Data.Sizes)
        {
            float[] x = Inputs(ref rng, n), y = Data.Gaussian(ref rng, n);
            form.Forward(x, y);
            Expect.Close(form.Reference(x), y, $"n={n}", rel: 1e-5, abs: 1e-6);
            form.Forward(x, x); // in place
            Assert.Equal(y, x);
        }
        float[] extremes = (float[])Extremes.Clone(), ye = new float[Extremes.Length];
        form.Forward(extremes, ye);
        Expect.Close(form.Reference(extremes), ye, "extremes", rel: 1e-5, abs: 1e-6);
        if (name != "exact") return;
        // The erf form's left tail keeps its relative accuracy (no 1 - nearly 1): gelu(-5) = -5 Phi(-5) = -1.4333e-6.
        // (The tanh form's reference, 0.5 x (1 + tanh(u)), itself cancels to 0 there in double precision.)
        float[] left = [-3f, -5f, -8f], yl = new float[3];
        form.Forward(left, yl);
        Expect.Close(form.Reference(left), yl, "left tail", rel: 1e-5, abs: 0);
    }

    [Theory, MemberData(nameof(WidthsAndForms))]
    public void Backward_AccumulatesDyTimesDerivativeAtInput_OnEveryWidth(int bits, string name)
    {
        using var _ = Widths.Use(bits);
        var form = Get(name);
        var rng = new Rng(51);
        foreach (int n in Data.Sizes)
        {
            float[] x = Inputs(ref rng, n), dy = Data.Gaussian(ref rng, n), dx = Data.Gaussian(ref rng, n);
            var expected = form.ReferenceBackward(x, dy, dx);
            form.Backward(x, dy, dx);
            Expect.Close(expected, dx, $"n={n}", rel: 1e-5, abs: 1e-5);
            Assert.All(dx, v => Assert.True(float.IsFinite(v)));
        }
    }

    [Theory, MemberData(nameof(WidthsAndForms))]
    public void Backward_MatchesFiniteDifferencesOfTheDoubleForward(int bits, string name)
    {
        using var _ = Widths.Use(bits);
        var form = Get(name);
        var rng = new Rng(52);
        float[] x = Data.Gaussian(ref rng, 65, 2f), g = Data.Gaussian(ref rng, 65), dx = new float[65];
        form.Backward(x, g, dx);
        double[] xd = ScalarReference.ToDouble(x);
        var numeric = FiniteDifferences.Gradient(v => FiniteDifferences.Weighted(form.ReferenceOfDoubles(v), g), xd);
        Expect.Close(numeric, dx, "dx", rel: 1e-4, abs: 1e-5);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void TheTwoForms_DifferWhereTheyShould(int bits)
    {
        // They agree to 5e-4 at most; a kernel wired to the wrong form would pass a loose check, not this one.
        using var _ = Widths.Use(bits);
        float[] x = [-3f, -2f, -1f, 1f, 2f, 3f], exact = new float[6], tanh = new float[6];
        GeluExact.Forward(x, exact);
        Gelu.Forward(x, tanh);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(exact[i] - tanh[i]) > 1e-5, $"x={x[i]}: exact {exact[i]}, tanh {tanh[i]}");
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
