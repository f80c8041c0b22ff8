using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Edge.Kernels;

// One kernel body serves every width: it is written once as a generic method over S (an ops struct) and
// V (its vector type), and the JIT/AOT compiler specialises it per struct, so every S.Op call inlines to one
// instruction. Each body processes whole vectors from index i while they fit and returns where it stopped;
// a caller runs the widths it allows from widest to narrowest and finishes with Scalar (Count 1), which is
// both the scalar path (Simd.Bits == 0) and the tail of every vector path:
//
//     if (bits >= 512) i = Core<Simd512, Vector512<float>>(..., i, n);
//     if (bits >= 256) i = Core<Simd256, Vector256<float>>(..., i, n);
//     if (bits >= 128) i = Core<Simd128, Vector128<float>>(..., i, n);
//     Core<Scalar, float>(..., i, n);
//
// S must be a struct: generic code over a struct is specialised, over a class it is shared and slow.
internal interface ISimd<V> where V : struct
{
    static abstract int Count { get; }
    static abstract V Zero { get; }
    static abstract V Splat(float a);
    static abstract V Load(ref float p);
    static abstract void Store(V v, ref float p);
    static abstract V Add(V a, V b);
    static abstract V Sub(V a, V b);
    static abstract V Mul(V a, V b);
    static abstract V Div(V a, V b);
    /// <summary>a * b + c, fused where the hardware has FMA.</summary>
    static abstract V MulAdd(V a, V b, V c);
    /// <summary>NaN-propagating, like MathF.Max.</summary>
    static abstract V Max(V a, V b);
    static abstract V Sqrt(V a);
    /// <summary>
    /// e^a per element (+infinity on overflow, 0 on underflow, NaN for NaN): on the vector paths <see cref="FloatExp"/>'s
    /// polynomial in float, about 1 ulp, where .NET's own vector Exp widens to double (about 3 ns an element); the
    /// scalar path (and every vector path's tail) is MathF.Exp.
    /// </summary>
    static abstract V Exp(V a);
    /// <summary>NaN-propagating, like MathF.Min.</summary>
    static abstract V Min(V a, V b);
    /// <summary>To the nearest integer, ties to even (MathF.Round).</summary>
    static abstract V Round(V a);
    /// <summary>p * 2^n for integral n in [-252, 252] (two exact power-of-two factors, so 2^n need not be a normal float).</summary>
    static abstract V ScaleByPowerOfTwo(V p, V n);
    /// <summary>m > 0 ? v : 0 per element (ReLU and its gradient).</summary>
    static abstract V WherePositive(V m, V v);
    /// <summary>m &lt; 0 ? a : b per element.</summary>
    static abstract V WhereNegative(V m, V a, V b);
    static abstract V Abs(V a);
    static abstract float Sum(V v);
    static abstract float MaxAcross(V v);
}

internal readonly struct Simd512 : ISimd<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Splat(float a) => Vector512.Create(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(ref float p) => Vector512.LoadUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, ref float p) => v.StoreUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MulAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sqrt(Vector512<float> a) => Vector512.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Exp(Vector512<float> a) => FloatExp.Exp<Simd512, Vector512<float>>(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> a, Vector512<float> b) => Vector512.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Round(Vector512<float> a) => Vector512.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> ScaleByPowerOfTwo(Vector512<float> p, Vector512<float> n)
    {
        var k = Vector512.ConvertToInt32(n);
        var half = Vector512.ShiftRightArithmetic(k, 1);
        var f1 = Vector512.ShiftLeft(half + Vector512.Create(127), 23).AsSingle();
        var f2 = Vector512.ShiftLeft(k - half + Vector512.Create(127), 23).AsSingle();
        return p * f1 * f2;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> WherePositive(Vector512<float> m, Vector512<float> v) => Vector512.GreaterThan(m, Vector512<float>.Zero) & v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> WhereNegative(Vector512<float> m, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(Vector512.LessThan(m, Vector512<float>.Zero), a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Abs(Vector512<float> a) => Vector512.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> v) => Vector512.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Vector512<float> v) => Simd256.MaxAcross(Vector256.Max(v.GetLower(), v.GetUpper()));
}

internal readonly struct Simd256 : ISimd<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Splat(float a) => Vector256.Create(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(ref float p) => Vector256.LoadUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, ref float p) => v.StoreUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> a) => Vector256.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Exp(Vector256<float> a) => FloatExp.Exp<Simd256, Vector256<float>>(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Round(Vector256<float> a) => Vector256.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> ScaleByPowerOfTwo(Vector256<float> p, Vector256<float> n)
    {
        var k = Vector256.ConvertToInt32(n);
        var half = Vector256.ShiftRightArithmetic(k, 1);
        var f1 = Vector256.ShiftLeft(half + Vector256.Create(127), 23).AsSingle();
        var f2 = Vector256.ShiftLeft(k - half + Vector256.Create(127), 23).AsSingle();
        return p * f1 * f2;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> WherePositive(Vector256<float> m, Vector256<float> v) => Vector256.GreaterThan(m, Vector256<float>.Zero) & v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> WhereNegative(Vector256<float> m, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(Vector256.LessThan(m, Vector256<float>.Zero), a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> v) => Vector256.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Vector256<float> v) => Simd128.MaxAcross(Vector128.Max(v.GetLower(), v.GetUpper()));
}

internal readonly struct Simd128 : ISimd<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Splat(float a) => Vector128.Create(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(ref float p) => Vector128.LoadUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> v, ref float p) => v.StoreUnsafe(ref p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Div(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MulAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sqrt(Vector128<float> a) => Vector128.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Exp(Vector128<float> a) => FloatExp.Exp<Simd128, Vector128<float>>(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Min(Vector128<float> a, Vector128<float> b) => Vector128.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Round(Vector128<float> a) => Vector128.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> ScaleByPowerOfTwo(Vector128<float> p, Vector128<float> n)
    {
        var k = Vector128.ConvertToInt32(n);
        var half = Vector128.ShiftRightArithmetic(k, 1);
        var f1 = Vector128.ShiftLeft(half + Vector128.Create(127), 23).AsSingle();
        var f2 = Vector128.ShiftLeft(k - half + Vector128.Create(127), 23).AsSingle();
        return p * f1 * f2;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> WherePositive(Vector128<float> m, Vector128<float> v) => Vector128.GreaterThan(m, Vector128<float>.Zero) & v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> WhereNegative(Vector128<float> m, Vector128<float> a, Vector128<float> b) => Vector128.ConditionalSelect(Vector128.LessThan(m, Vector128<float>.Zero), a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Abs(Vector128<float> a) => Vector128.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector128<float> v) => Vector128.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Vector128<float> v) => MathF.Max(MathF.Max(v.GetElement(0), v.GetElement(1)), MathF.Max(v.GetElement(2), v.GetElement(3)));
}

/// <summary>The scalar path and every vector path's tail: a "vector" of one float.</summary>
internal readonly struct Scalar : ISimd<float>
{
    public static int Count => 1;
    public static float Zero => 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Splat(float a) => a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(ref float p) => p;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float v, ref float p) => p = v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float a, float b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sub(float a, float b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Mul(float a, float b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Div(float a, float b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MulAdd(float a, float b, float c) => a * b + c;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Max(float a, float b) => MathF.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float a) => MathF.Sqrt(a);
    // The C runtime's expf: correctly rounded or nearly, and about 3 ns where the polynomial's scalar steps take 18.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Exp(float a) => MathF.Exp(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Min(float a, float b) => MathF.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Round(float a) => MathF.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ScaleByPowerOfTwo(float p, float n)
    {
        int k = (int)n, half = k >> 1;
        return p * BitConverter.Int32BitsToSingle((half + 127) << 23) * BitConverter.Int32BitsToSingle((k - half + 127) << 23);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float WherePositive(float m, float v) => m > 0f ? v : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float WhereNegative(float m, float a, float b) => m < 0f ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Abs(float a) => MathF.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(float v) => v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(float v) => v;
}

/// <summary>
/// e^x in float arithmetic, the same steps at every vector width (Cephes' expf): n = round(x log2 e), r = x - n ln 2 (ln 2 in
/// two parts, so r is exact), e^r by a degree-7 polynomial on |r| &lt;= ln(2)/2, times 2^n. About 1 ulp against the
/// double-precision exp over the whole range (checked in the tests); x is first clamped to [-104, 89], beyond which
/// the result is 0 or +infinity anyway, and the power of two is applied as two factors so that subnormal results
/// round as they should. A NaN stays NaN (the clamp and the rounding propagate it).
/// </summary>
internal static class FloatExp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V Exp<S, V>(V x) where S : struct, ISimd<V> where V : struct
    {
        x = S.Max(S.Min(x, S.Splat(89f)), S.Splat(-104f));
        V n = S.Round(S.Mul(x, S.Splat(1.44269504088896341f)));
        V r = S.MulAdd(n, S.Splat(-0.693359375f), x);
        r = S.MulAdd(n, S.Splat(2.12194440e-4f), r);
        V p = S.MulAdd(S.Splat(1.9875691500e-4f), r, S.Splat(1.3981999507e-3f));
        p = S.MulAdd(p, r, S.Splat(8.3334519073e-3f));
        p = S.MulAdd(p, r, S.Splat(4.1665795894e-2f));
        p = S.MulAdd(p, r, S.Splat(1.6666665459e-1f));
        p = S.MulAdd(p, r, S.Splat(5.0000001201e-1f));
        p = S.MulAdd(S.Mul(p, r), r, S.Add(r, S.Splat(1f)));
        return S.ScaleByPowerOfTwo(p, n);
    }
}

/// <summary>Argument checks shared by the kernels: one per argument per call, never per element.</summary>
internal static class Check
{
    public static void SameLength(int expected, int actual, string name)
    {
        if (actual != expected) Throw(name, $"has length {actual}, expected {expected}");
    }

    /// <summary>A span holding at least count items (it may be longer: a buffer sized for the largest batch).</summary>
    public static void AtLeast(int length, int count, string name)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(name, $"count {count} must not be negative");
        if (length < count) Throw(name, $"has length {length}, needs at least {count}");
    }

    /// <summary>A span holding a [rows, cols] matrix (it may be longer: a buffer sized for the largest batch).</summary>
    public static void AtLeast(int length, int rows, int cols, string name)
    {
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(name, $"dimensions [{rows}, {cols}] must not be negative");
        if (length < (long)rows * cols) Throw(name, $"has length {length}, needs at least {rows} x {cols}");
    }

    /// <summary>A parameter tensor: exactly [rows, cols].</summary>
    public static void Exactly(int length, int rows, int cols, string name)
    {
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(name, $"dimensions [{rows}, {cols}] must not be negative");
        if (length != (long)rows * cols) Throw(name, $"has length {length}, expected {rows} x {cols}");
    }

    public static void Index(int value, int count, string name)
    {
        if ((uint)value >= (uint)count) ThrowIndex(value, count, name);
    }

    [DoesNotReturn]
    static void Throw(string name, string what) => throw new ArgumentException($"{name} {what}", name);

    [DoesNotReturn]
    static void ThrowIndex(int value, int count, string name) =>
        throw new ArgumentOutOfRangeException(name, value, $"{name} contains {value}, outside [0, {count})");
}
