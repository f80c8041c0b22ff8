using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Element-wise activations: x, y, dy, dx all [n] (any shape, flattened); y may be x (in place).
// Backward takes the forward OUTPUT y (what the training graph keeps) and accumulates into dx.
public static class Activations
{
    /// <summary>y = tanh(x).</summary>
    public static void TanhForward(ReadOnlySpan<float> x, Span<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        if (Simd.Bits != 0)
        {
            TensorPrimitives.Tanh(x, y); // vectorised at the widest width the machine has
            return;
        }
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        for (int i = 0; i < x.Length; i++) Unsafe.Add(ref ry, i) = MathF.Tanh(Unsafe.Add(ref rx, i));
    }

    /// <summary>dx += dy * (1 - y^2).</summary>
    public static void TanhBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        Check.SameLength(y.Length, dy.Length, nameof(dy));
        Check.SameLength(y.Length, dx.Length, nameof(dx));
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rdx = ref MemoryMarshal.GetReference(dx);
        int bits = Simd.Bits, i = 0, n = y.Length;
        if (bits >= 512) i = TanhBackward<Simd512, F512>(ref ry, ref rdy, ref rdx, i, n);
        if (bits >= 256) i = TanhBackward<Simd256, F256>(ref ry, ref rdy, ref rdx, i, n);
        if (bits >= 128) i = TanhBackward<Simd128, F128>(ref ry, ref rdy, ref rdx, i, n);
        TanhBackward<Scalar, float>(ref ry, ref rdy, ref rdx, i, n);
    }

    static int TanhBackward<S, V>(ref float y, ref float dy, ref float dx, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        V one = S.Splat(1f);
        for (; i + S.Count <= n; i += S.Count)
        {
            V yi = S.Load(ref Unsafe.Add(ref y, i));
            ref float dxi = ref Unsafe.Add(ref dx, i);
            S.Store(S.MulAdd(S.Load(ref Unsafe.Add(ref dy, i)), S.Sub(one, S.Mul(yi, yi)), S.Load(ref dxi)), ref dxi);
        }
        return i;
    }

    /// <summary>y = max(x, 0) (0 for NaN).</summary>
    public static void ReluForward(ReadOnlySpan<float> x, Span<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int bits = Simd.Bits, i = 0, n = x.Length;
        if (bits >= 512) i = ReluForward<Simd512, F512>(ref rx, ref ry, i, n);
        if (bits >= 256) i = ReluForward<Simd256, F256>(ref rx, ref ry, i, n);
        if (bits >= 128) i = ReluForward<Simd128, F128>(ref rx, ref ry, i, n);
        ReluForward<Scalar, float>(ref rx, ref ry, i, n);
    }

    static int ReluForward<S, V>(ref float x, ref float y, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        for (; i + S.Count <= n; i += S.Count)
        {
            V xi = S.Load(ref Unsafe.Add(ref x, i));
            S.Store(S.WherePositive(xi, xi), ref Unsafe.Add(ref y, i));
        }
        return i;
    }

    /// <summary>dx += y > 0 ? dy : 0.</summary>
    public static void ReluBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        Check.SameLength(y.Length, dy.Length, nameof(dy));
        Check.SameLength(y.Length, dx.Length, nameof(dx));
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rdx = ref MemoryMarshal.GetReference(dx);
        int bits = Simd.Bits, i = 0, n = y.Length;
        if (bits >= 512) i = ReluBackward<Simd512, F512>(ref ry, ref rdy, ref rdx, i, n);
        if (bits >= 256) i = ReluBackward<Simd256, F256>(ref ry, ref rdy, ref rdx, i, n);
        if (bits >= 128) i = ReluBackward<Simd128, F128>(ref ry, ref rdy, ref rdx, i, n);
        ReluBackward<Scalar, float>(ref ry, ref rdy, ref rdx, i, n);
    }

    static int ReluBackward<S, V>(ref float y, ref float dy, ref float dx, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        for (; i + S.Count <= n; i += S.Count)
        {
            ref float dxi = ref Unsafe.Add(ref dx, i);
            V g = S.WherePositive(S.Load(ref Unsafe.Add(ref y, i)), S.Load(ref Unsafe.Add(ref dy, i)));
            S.Store(S.Add(S.Load(ref dxi), g), ref dxi);
        }
        return i;
    }
}
