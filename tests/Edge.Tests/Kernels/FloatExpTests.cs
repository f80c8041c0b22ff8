using System.Runtime.Intrinsics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

/// <summary>
/// The kernels' e^x (<see cref="FloatExp"/>) on each width's ops against the double-precision exp rounded to float: within
/// 2 ulp wherever the result is a normal float, within one subnormal step below that, and the exact limits (0, +infinity,
/// NaN) at the ends. Every lane of a vector is checked, so a lane that mishandles its value would show.
/// </summary>
public class FloatExpTests
{
    static float[] Inputs()
    {
        var rng = new Rng(7);
        var x = new List<float>
        {
            0f, -0f, 1f, -1f, 1e-30f, -1e-30f, 0.34657359f, -0.34657359f, 88f, 88.5f, 88.7228f, 88.73f, 89f, 100f, 1e10f,
            -87.33f, -87.4f, -90f, -100f, -103.27f, -103.98f, -104f, -105f, -1e10f,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue, float.MinValue, float.Epsilon,
        };
        for (int i = 0; i < 20000; i++) x.Add(-104f + 193f * rng.NextFloat());
        for (int i = 0; i < 2000; i++) x.Add(-1f + 2f * rng.NextFloat());
        while (x.Count % 16 != 0) x.Add(0.5f);
        return [.. x];
    }

    static void Check(float x, float got)
    {
        double exact = Math.Exp(x);
        float want = (float)exact;
        if (float.IsNaN(x)) { Assert.True(float.IsNaN(got), $"exp(NaN) = {got}"); return; }
        if (float.IsInfinity(want) || want == 0f)
        {
            // Past the ends: the float result must be the limit (allowing the last finite/subnormal step at the edge).
            bool ok = got == want || (float.IsInfinity(want) && got >= float.MaxValue * 0.999f) || (want == 0f && got <= 2 * float.Epsilon);
            Assert.True(ok, $"exp({x:R}) = {got:R}, expected {want:R}");
            return;
        }
        if (want < 1.1754944e-38f)
        {
            Assert.True(Math.Abs(got - exact) <= 1.5 * float.Epsilon, $"exp({x:R}) = {got:R}, expected {exact:R} (subnormal)");
            return;
        }
        double ulp = (double)MathF.BitIncrement(want) - want;
        Assert.True(Math.Abs(got - exact) <= 2 * ulp, $"exp({x:R}) = {got:R}, expected {exact:R}: {Math.Abs(got - exact) / ulp:F2} ulp");
    }

    [Fact]
    public void ThePolynomialInScalarSteps_IsWithinTwoUlp()
    {
        foreach (float x in Inputs()) Check(x, FloatExp.Exp<Scalar, float>(x));
    }

    [Fact]
    public void TheScalarPath_IsWithinTwoUlp()
    {
        foreach (float x in Inputs()) Check(x, Scalar.Exp(x));
    }

    [Fact]
    public void Vector128_IsWithinTwoUlp_InEveryLane()
    {
        float[] x = Inputs();
        for (int i = 0; i < x.Length; i += 4)
        {
            var y = Simd128.Exp(Vector128.Create(x, i));
            for (int j = 0; j < 4; j++) Check(x[i + j], y[j]);
        }
    }

    [Fact]
    public void Vector256_IsWithinTwoUlp_InEveryLane()
    {
        float[] x = Inputs();
        for (int i = 0; i < x.Length; i += 8)
        {
            var y = Simd256.Exp(Vector256.Create(x, i));
            for (int j = 0; j < 8; j++) Check(x[i + j], y[j]);
        }
    }

    [Fact]
    public void Vector512_IsWithinTwoUlp_InEveryLane()
    {
        float[] x = Inputs();
        for (int i = 0; i < x.Length; i += 16)
        {
            var y = Simd512.Exp(Vector512.Create(x, i));
            for (int j = 0; j < 16; j++) Check(x[i + j], y[j]);
        }
    }
}
