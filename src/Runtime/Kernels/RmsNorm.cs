using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Root-mean-square normalisation over the last dimension (Llama's RMSNorm: no mean, no shift).
//   x, y  [n, C]     weight  [C]     rstd  [n] (saved by Forward for Backward)
//   y = x * rstd * weight,  rstd = 1 / sqrt(sum(x^2) / C + eps)
// Backward accumulates (+=): with norm = x * rstd and g = dy * weight,
//   dweight [C] += sum_r dy * norm
//   dx   [n, C] += (g - norm * mean_C(g * norm)) * rstd
public static class RmsNorm
{
    [ThreadStatic] static float[]? t_sink;

    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, Span<float> rstd, int n, int c, float eps)
    {
        Check.AtLeast(x.Length, n, c, nameof(x));
        Check.SameLength(c, weight.Length, nameof(weight));
        Check.AtLeast(y.Length, n, c, nameof(y));
        Check.AtLeast(rstd.Length, n, nameof(rstd));
        if (c == 0) throw new ArgumentOutOfRangeException(nameof(c), "c must be positive");
        int bits = Simd.Bits;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rw = ref MemoryMarshal.GetReference(weight);
        ref float ry = ref MemoryMarshal.GetReference(y);
        for (int r = 0; r < n; r++)
        {
            ref float xr = ref Unsafe.Add(ref rx, (nint)r * c);
            ref float yr = ref Unsafe.Add(ref ry, (nint)r * c);
            float s = 1f / MathF.Sqrt(VectorMath.Dot(bits, ref xr, ref xr, c) / c + eps);
            int i = 0;
            if (bits >= 512) i = Scale<Simd512, F512>(ref xr, ref rw, ref yr, s, i, c);
            if (bits >= 256) i = Scale<Simd256, F256>(ref xr, ref rw, ref yr, s, i, c);
            if (bits >= 128) i = Scale<Simd128, F128>(ref xr, ref rw, ref yr, s, i, c);
            Scale<Scalar, float>(ref xr, ref rw, ref yr, s, i, c);
            rstd[r] = s;
        }
    }

    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> rstd,
        Span<float> dx, Span<float> dweight, int n, int c)
    {
        // Empty dweight: frozen weights (LoRA training); its sums go to a scratch row.
        if (dweight.IsEmpty)
        {
            if (t_sink is null || t_sink.Length < c) t_sink = new float[c];
            dweight = t_sink.AsSpan(0, c);
        }
        Check.AtLeast(dy.Length, n, c, nameof(dy));
        Check.AtLeast(x.Length, n, c, nameof(x));
        Check.SameLength(c, weight.Length, nameof(weight));
        Check.AtLeast(rstd.Length, n, nameof(rstd));
        Check.AtLeast(dx.Length, n, c, nameof(dx));
        Check.SameLength(c, dweight.Length, nameof(dweight));
        int bits = Simd.Bits;
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rw = ref MemoryMarshal.GetReference(weight);
        ref float rdx = ref MemoryMarshal.GetReference(dx);
        ref float rdw = ref MemoryMarshal.GetReference(dweight);
        for (int r = 0; r < n; r++)
        {
            ref float dyr = ref Unsafe.Add(ref rdy, (nint)r * c);
            ref float xr = ref Unsafe.Add(ref rx, (nint)r * c);
            ref float dxr = ref Unsafe.Add(ref rdx, (nint)r * c);
            float s = rstd[r], sumGNorm = 0f;
            int i = 0;
            if (bits >= 512) i = WeightGrad<Simd512, F512>(ref dyr, ref xr, ref rw, ref rdw, s, i, c, ref sumGNorm);
            if (bits >= 256) i = WeightGrad<Simd256, F256>(ref dyr, ref xr, ref rw, ref rdw, s, i, c, ref sumGNorm);
            if (bits >= 128) i = WeightGrad<Simd128, F128>(ref dyr, ref xr, ref rw, ref rdw, s, i, c, ref sumGNorm);
            WeightGrad<Scalar, float>(ref dyr, ref xr, ref rw, ref rdw, s, i, c, ref sumGNorm);
            float meanGNorm = sumGNorm / c;
            i = 0;
            if (bits >= 512) i = InputGrad<Simd512, F512>(ref dyr, ref xr, ref rw, ref dxr, s, meanGNorm, i, c);
            if (bits >= 256) i = InputGrad<Simd256, F256>(ref dyr, ref xr, ref rw, ref dxr, s, meanGNorm, i, c);
            if (bits >= 128) i = InputGrad<Simd128, F128>(ref dyr, ref xr, ref rw, ref dxr, s, meanGNorm, i, c);
            InputGrad<Scalar, float>(ref dyr, ref xr, ref rw, ref dxr, s, meanGNorm, i, c);
        }
    }

    // y = x * s * w
    static int Scale<S, V>(ref float x, ref float w, ref float y, float s, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        V vs = S.Splat(s);
        for (; i + S.Count <= n; i += S.Count)
            S.Store(S.Mul(S.Mul(S.Load(ref Unsafe.Add(ref x, i)), vs), S.Load(ref Unsafe.Add(ref w, i))), ref Unsafe.Add(ref y, i));
        return i;
    }

    // dw += dy * norm; sumGNorm += sum(dy * w * norm)
    static int WeightGrad<S, V>(ref float dy, ref float x, ref float w, ref float dw, float s, int i, int n, ref float sumGNorm)
        where S : struct, ISimd<V> where V : struct
    {
        if (i + S.Count > n) return i;
        V vs = S.Splat(s), acc = S.Zero;
        for (; i + S.Count <= n; i += S.Count)
        {
            V d = S.Load(ref Unsafe.Add(ref dy, i));
            V norm = S.Mul(S.Load(ref Unsafe.Add(ref x, i)), vs);
            acc = S.MulAdd(S.Mul(d, S.Load(ref Unsafe.Add(ref w, i))), norm, acc);
            ref float dwi = ref Unsafe.Add(ref dw, i);
            S.Store(S.MulAdd(d, norm, S.Load(ref dwi)), ref dwi);
        }
        sumGNorm += S.Sum(acc);
        return i;
    }

    // dx += (dy * w - norm * meanGNorm) * s
    static int InputGrad<S, V>(ref float dy, ref float x, ref float w, ref float dx, float s, float meanGNorm, int i, int n)
        where S : struct, ISimd<V> where V : struct
    {
        V vs = S.Splat(s), vm = S.Splat(meanGNorm);
        for (; i + S.Count <= n; i += S.Count)
        {
            V norm = S.Mul(S.Load(ref Unsafe.Add(ref x, i)), vs);
            V g = S.Mul(S.Load(ref Unsafe.Add(ref dy, i)), S.Load(ref Unsafe.Add(ref w, i)));
            ref float dxi = ref Unsafe.Add(ref dx, i);
            S.Store(S.MulAdd(S.Sub(g, S.Mul(norm, vm)), vs, S.Load(ref dxi)), ref dxi);
        }
        return i;
    }
}
