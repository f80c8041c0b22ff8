using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class VectorMathTests
{
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Dot_MatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(1);
        foreach (int n in Data.Sizes)
        {
            float[] x = Data.Gaussian(ref rng, n), y = Data.Gaussian(ref rng, n);
            Expect.Close(ScalarReference.Dot(x, y), VectorMath.Dot(x, y), $"n={n}");
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Axpy_AddsScaledXIntoY_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(2);
        foreach (int n in Data.Sizes)
        {
            float[] x = Data.Gaussian(ref rng, n), y = Data.Gaussian(ref rng, n);
            var expected = ScalarReference.Axpy(-0.75f, x, y);
            VectorMath.Axpy(-0.75f, x, y);
            Expect.Close(expected, y, $"n={n}");
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Scale_MultipliesInPlace_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(3);
        foreach (int n in Data.Sizes)
        {
            float[] x = Data.Gaussian(ref rng, n);
            var expected = ScalarReference.Scale(1.5f, x);
            VectorMath.Scale(1.5f, x);
            Expect.Close(expected, x, $"n={n}");
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Add_AccumulatesXIntoY_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(4);
        foreach (int n in Data.Sizes)
        {
            float[] x = Data.Gaussian(ref rng, n), y = Data.Gaussian(ref rng, n);
            var expected = ScalarReference.Add(x, y);
            VectorMath.Add(x, y);
            Expect.Close(expected, y, $"n={n}");
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void SumAndMax_MatchScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(5);
        foreach (int n in Data.Sizes)
        {
            float[] x = Data.Gaussian(ref rng, n);
            Expect.Close(ScalarReference.Sum(x), VectorMath.Sum(x), $"sum n={n}");
            Assert.Equal(ScalarReference.Max(x), VectorMath.Max(x)); // max is exact
            x[rng.NextInt(n)] = 1000f; // the maximum anywhere: first vector, middle, tail
            Assert.Equal(1000f, VectorMath.Max(x));
        }
        Assert.Equal(0f, VectorMath.Sum([]));
        Assert.Equal(float.NegativeInfinity, VectorMath.Max([]));
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void AddTo_WritesTheSumOfTheFirstCountElements_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(8);
        foreach (int n in Data.Sizes)
        {
            // Buffers longer than count: nothing past it is read into y or written.
            float[] a = Data.Gaussian(ref rng, n + 3), b = Data.Gaussian(ref rng, n + 5), y = Data.Gaussian(ref rng, n + 2);
            float[] past = y[n..];
            var expected = ScalarReference.AddTo(a, b, n);
            VectorMath.AddTo(a, b, y, n);
            Expect.Close(expected, y.AsSpan(0, n), $"n={n}");
            Assert.Equal(past, y[n..]);
            VectorMath.AddTo(a, b, a, n); // y may be a (a residual added in place)
            Assert.Equal(y[..n], a[..n]);
        }
        Assert.Throws<ArgumentException>(() => VectorMath.AddTo(new float[3], new float[2], new float[3], 3));
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Zero_ClearsEveryElement(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(6);
        float[] x = Data.Gaussian(ref rng, 33);
        VectorMath.Zero(x);
        Assert.All(x, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void MismatchedLengths_Throw()
    {
        Assert.Throws<ArgumentException>(() => VectorMath.Dot(new float[3], new float[4]));
        Assert.Throws<ArgumentException>(() => VectorMath.Axpy(1f, new float[3], new float[4]));
        Assert.Throws<ArgumentException>(() => VectorMath.Add(new float[3], new float[2]));
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void VectorMath_AllocatesNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(7);
        float[] x = Data.Gaussian(ref rng, 130), y = Data.Gaussian(ref rng, 130);
        float sink = 0;
        Expect.AllocatesNothing(() =>
        {
            sink += VectorMath.Dot(x, y) + VectorMath.Sum(x) + VectorMath.Max(x);
            VectorMath.Axpy(1e-3f, x, y);
            VectorMath.Add(x, y);
            VectorMath.Scale(0.5f, y);
            VectorMath.AddTo(x, y, y, 130);
            VectorMath.Zero(y);
        }, "VectorMath");
        Assert.False(float.IsNaN(sink));
    }
}
