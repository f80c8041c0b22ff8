using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// GELU, tanh approximation (GPT-2, llm.c's gelu_forward/backward): x, y, dy, dx all [n] (any shape, flattened).
//   y = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
// computed as y = x * s with s = sigmoid(2u) = 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)), which is the same function
// and needs only exp (exact limits: exp overflows to +infinity for very negative x, giving s = 0 and y = -0).
// Backward takes the forward INPUT x (unlike Activations, whose backward takes y) and accumulates into dx:
//   dx += dy * (s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 x^2))     [1 - tanh(u)^2 = 4 s (1 - s)]
// y may be x (in place). The derivative is finite for |x| below about 1.8e19, where x^2 overflows (llm.c's is the same).
// The exact (erf) form is GeluExact; both run through GeluKernel, which owns the width dispatch and the loops, and
// splits a long call across the worker pool at multiples of 64 elements (so results do not depend on the thread count).
public static class Gelu
{
    /// <summary>y = gelu(x).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y) => GeluKernel<TanhGelu>.Forward(x, y);

    /// <summary>dx += dy * gelu'(x).</summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) => GeluKernel<TanhGelu>.Backward(x, dy, dx);
}

/// <summary>One GELU form as per-vector functions: the value and the derivative at the forward input x.</summary>
internal interface IGeluForm
{
    static abstract V Value<S, V>(V x) where S : struct, ISimd<V> where V : struct;
    static abstract V Derivative<S, V>(V x) where S : struct, ISimd<V> where V : struct;
}

internal readonly struct TanhGelu : IGeluForm
{
    const float K = 0.7978845608028654f; // sqrt(2 / pi)
    const float A = 0.044715f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Value<S, V>(V x) where S : struct, ISimd<V> where V : struct => S.Mul(x, Sigmoid2U<S, V>(x));

    /// <summary>s + 2K x s (1 - s) (1 + 3A x^2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Derivative<S, V>(V x) where S : struct, ISimd<V> where V : struct
    {
        V one = S.Splat(1f), s = Sigmoid2U<S, V>(x);
        V inner = S.MulAdd(S.Splat(3f * A), S.Mul(x, x), one);
        return S.MulAdd(S.Mul(S.Mul(S.Splat(2f * K), x), S.Mul(s, S.Sub(one, s))), inner, s);
    }

    /// <summary>1 / (1 + exp(-2u)), u = K x (1 + A x^2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static V Sigmoid2U<S, V>(V x) where S : struct, ISimd<V> where V : struct
    {
        V one = S.Splat(1f);
        V inner = S.MulAdd(S.Splat(A), S.Mul(x, x), one);
        V e = S.Exp(S.Mul(S.Splat(-2f * K), S.Mul(x, inner)));
        return S.Div(one, S.Add(one, e));
    }
}

/// <summary>
/// The element loops of both GELU forms, written once: F supplies the value and the derivative per vector, and the
/// JIT specialises the loops per form and width (F is a struct), so the form's functions inline into them.
/// </summary>
internal static class GeluKernel<F> where F : struct, IGeluForm
{
    public static unsafe void Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        fixed (float* px = x, py = y)
        {
            var work = new ForwardWork { X = px, Y = py, Bits = Simd.Bits };
            work.Chunks = Parallelism.Elements(x.Length, WorkPerElement, out int parts);
            WorkerPool.For(ref work, parts);
        }
    }

    // An element costs about as much as 20 multiply-adds (the exp, a division).
    const long WorkPerElement = 20;

    unsafe struct ForwardWork : IPartitionedWork
    {
        public float* X, Y;
        public int Bits;
        public Split Chunks;

        public void Run(int part, int worker)
        {
            int s = Chunks.Start(part), n = Chunks.End(part) - s;
            if (n <= 0) return;
            ref float rx = ref X[s];
            ref float ry = ref Y[s];
            int bits = Bits, i = 0;
            if (bits >= 512) i = Forward<Simd512, F512>(ref rx, ref ry, i, n);
            if (bits >= 256) i = Forward<Simd256, F256>(ref rx, ref ry, i, n);
            if (bits >= 128) i = Forward<Simd128, F128>(ref rx, ref ry, i, n);
            Forward<Scalar, float>(ref rx, ref ry, i, n);
        }
    }

    static int Forward<S, V>(ref float x, ref float y, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        for (; i + S.Count <= n; i += S.Count)
            S.Store(F.Value<S, V>(S.Load(ref Unsafe.Add(ref x, i))), ref Unsafe.Add(ref y, i));
        return i;
    }

    public static unsafe void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        Check.SameLength(x.Length, dy.Length, nameof(dy));
        Check.SameLength(x.Length, dx.Length, nameof(dx));
        fixed (float* px = x, pdy = dy, pdx = dx)
        {
            var work = new BackwardWork { X = px, Dy = pdy, Dx = pdx, Bits = Simd.Bits };
            work.Chunks = Parallelism.Elements(x.Length, WorkPerElement, out int parts);
            WorkerPool.For(ref work, parts);
        }
    }

    unsafe struct BackwardWork : IPartitionedWork
    {
        public float* X, Dy, Dx;
        public int Bits;
        public Split Chunks;

        public void Run(int part, int worker)
        {
            int s = Chunks.Start(part), n = Chunks.End(part) - s;
            if (n <= 0) return;
            ref float rx = ref X[s];
            ref float rdy = ref Dy[s];
            ref float rdx = ref Dx[s];
            int bits = Bits, i = 0;
            if (bits >= 512) i = Backward<Simd512, F512>(ref rx, ref rdy, ref rdx, i, n);
            if (bits >= 256) i = Backward<Simd256, F256>(ref rx, ref rdy, ref rdx, i, n);
            if (bits >= 128) i = Backward<Simd128, F128>(ref rx, ref rdy, ref rdx, i, n);
            Backward<Scalar, float>(ref rx, ref rdy, ref rdx, i, n);
        }
    }

    static int Backward<S, V>(ref float x, ref float dy, ref float dx, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        for (; i + S.Count <= n; i += S.Count)
        {
            V grad = F.Derivative<S, V>(S.Load(ref Unsafe.Add(ref x, i)));
            ref float dxi = ref Unsafe.Add(ref dx, i);
            S.Store(S.MulAdd(S.Load(ref Unsafe.Add(ref dy, i)), grad, S.Load(ref dxi)), ref dxi);
        }
        return i;
    }
}
