using System.Runtime.CompilerServices;

namespace Edge.Kernels;

// GELU, the exact form (PyTorch's nn.GELU(), nanoGPT's MLP): x, y, dy, dx all [n] (any shape, flattened).
//   y = x Phi(x),  Phi(x) = 0.5 erfc(-x / sqrt 2)   (the standard normal CDF)
//   dx += dy * (Phi(x) + x phi(x)),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
// erfc comes from Numerical Recipes' erfcc (a Chebyshev fit, relative error below 1.2e-7 everywhere):
//   erfc(z) = t exp(-z^2 + P(t)),  t = 1 / (1 + z / 2),  z >= 0,
// and Phi takes the tail for the sign: Phi(x) = x < 0 ? erfc(|z|) / 2 : 1 - erfc(|z|) / 2, so the far left tail keeps
// its relative accuracy instead of being 1 minus nearly 1. Exact limits: erfc underflows to 0 for |x| above about 14,
// giving y = x or -0 and a derivative of 1 or 0. Backward takes the forward INPUT x, like Gelu. y may be x (in place).
// It costs more than the tanh form (a division, a 10-term polynomial, and a second exp in the backward);
// GeluBenchmarks in tests/Edge.Benchmarks measures both.
public static class GeluExact
{
    /// <summary>y = x Phi(x).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y) => GeluKernel<ErfGelu>.Forward(x, y);

    /// <summary>dx += dy * (Phi(x) + x phi(x)).</summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) => GeluKernel<ErfGelu>.Backward(x, dy, dx);
}

internal readonly struct ErfGelu : IGeluForm
{
    const float InvSqrt2 = 0.70710678118654752f;
    const float InvSqrt2Pi = 0.39894228040143268f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Value<S, V>(V x) where S : struct, ISimd<V> where V : struct => S.Mul(x, Phi<S, V>(x, out _));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Derivative<S, V>(V x) where S : struct, ISimd<V> where V : struct
    {
        V cdf = Phi<S, V>(x, out V halfSquare);
        V density = S.Mul(S.Splat(InvSqrt2Pi), S.Exp(S.Sub(S.Zero, halfSquare))); // phi(x)
        return S.MulAdd(x, density, cdf);
    }

    /// <summary>Phi(x), and z^2 = x^2 / 2 for the caller's density (x x / 2 rounds once; (|x| / sqrt 2)^2 twice).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static V Phi<S, V>(V x, out V halfSquare) where S : struct, ISimd<V> where V : struct
    {
        V one = S.Splat(1f), half = S.Splat(0.5f);
        V z = S.Mul(S.Abs(x), S.Splat(InvSqrt2));
        halfSquare = S.Mul(half, S.Mul(x, x));
        V t = S.Div(one, S.MulAdd(half, z, one));
        // P(t), Horner from the highest coefficient.
        V p = S.MulAdd(t, S.Splat(0.17087277f), S.Splat(-0.82215223f));
        p = S.MulAdd(t, p, S.Splat(1.48851587f));
        p = S.MulAdd(t, p, S.Splat(-1.13520398f));
        p = S.MulAdd(t, p, S.Splat(0.27886807f));
        p = S.MulAdd(t, p, S.Splat(-0.18628806f));
        p = S.MulAdd(t, p, S.Splat(0.09678418f));
        p = S.MulAdd(t, p, S.Splat(0.37409196f));
        p = S.MulAdd(t, p, S.Splat(1.00002368f));
        p = S.MulAdd(t, p, S.Splat(-1.26551223f));
        V tail = S.Mul(S.Mul(half, t), S.Exp(S.Sub(p, halfSquare))); // erfc(z) / 2 = Phi(-|x|)
        return S.WhereNegative(x, tail, S.Sub(one, tail));
    }
}
