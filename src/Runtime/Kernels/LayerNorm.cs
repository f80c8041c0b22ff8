using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Layer normalisation over the last dimension (GPT-2, llm.c's layernorm_forward/backward).
//   x, y  [n, C]     weight, bias  [C] (bias may be empty: no shift)     mean, rstd  [n] (saved by Forward for Backward)
//   y = (x - mean) * rstd * weight + bias,  mean = sum(x) / C,  rstd = 1 / sqrt(var + 1e-5),
//   var = sum((x - mean)^2) / C (biased, like torch.nn.LayerNorm).
// Backward accumulates (+=), like llm.c: with norm = (x - mean) * rstd and g = dy * weight,
//   dbias   [C] += sum_r dy
//   dweight [C] += sum_r dy * norm
//   dx   [n, C] += (g - mean_C(g) - norm * mean_C(g * norm)) * rstd
// Activations (x, y, mean, rstd, dy, dx) may be longer than n rows; parameters and their gradients are exactly [C].
public static class LayerNorm
{
    public const float Eps = 1e-5f;

    // A LayerNorm without a shift (nanoGPT's bias = False) passes an empty bias/dbias: the kernels then read a
    // row of zeros and write into a scratch row, kept per thread and grown once, so the hot path stays
    // branch-free and allocation-free after the first call.
    [ThreadStatic] static float[]? t_zeros, t_sink;

    static ReadOnlySpan<float> ZerosIfEmpty(ReadOnlySpan<float> bias, int c)
    {
        if (!bias.IsEmpty) return bias;
        if (t_zeros is null || t_zeros.Length < c) t_zeros = new float[c];
        return t_zeros.AsSpan(0, c);
    }

    /// <summary>The given gradient, or (when empty) this thread's scratch of at least <paramref name="c"/> floats.</summary>
    static Span<float> SinkIfEmpty(Span<float> gradient, int c)
    {
        if (!gradient.IsEmpty) return gradient;
        if (t_sink is null || t_sink.Length < c) t_sink = new float[c];
        return t_sink.AsSpan(0, c);
    }

    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> y, Span<float> mean, Span<float> rstd, int n, int c)
    {
        bias = ZerosIfEmpty(bias, c);
        Check.AtLeast(x.Length, n, c, nameof(x));
        Check.SameLength(c, weight.Length, nameof(weight));
        Check.SameLength(c, bias.Length, nameof(bias));
        Check.AtLeast(y.Length, n, c, nameof(y));
        Check.AtLeast(mean.Length, n, nameof(mean));
        Check.AtLeast(rstd.Length, n, nameof(rstd));
        if (c == 0) throw new ArgumentOutOfRangeException(nameof(c), "c must be positive");

        int bits = Simd.Bits;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rw = ref MemoryMarshal.GetReference(weight);
        ref float rb = ref MemoryMarshal.GetReference(bias);
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref float rmean = ref MemoryMarshal.GetReference(mean);
        ref float rrstd = ref MemoryMarshal.GetReference(rstd);
        for (int r = 0; r < n; r++)
        {
            ref float xr = ref Unsafe.Add(ref rx, (nint)r * c);
            ref float yr = ref Unsafe.Add(ref ry, (nint)r * c);
            float m = VectorMath.Sum(bits, ref xr, c) / c;
            float s = 1f / MathF.Sqrt(SquaredDeviations(bits, ref xr, m, c) / c + Eps);
            int i = 0;
            if (bits >= 512) i = Normalize<Simd512, F512>(ref xr, ref rw, ref rb, ref yr, m, s, i, c);
            if (bits >= 256) i = Normalize<Simd256, F256>(ref xr, ref rw, ref rb, ref yr, m, s, i, c);
            if (bits >= 128) i = Normalize<Simd128, F128>(ref xr, ref rw, ref rb, ref yr, m, s, i, c);
            Normalize<Scalar, float>(ref xr, ref rw, ref rb, ref yr, m, s, i, c);
            Unsafe.Add(ref rmean, r) = m;
            Unsafe.Add(ref rrstd, r) = s;
        }
    }

    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dweight, Span<float> dbias, int n, int c)
    {
        // Empty dweight/dbias: no such parameter, or frozen (LoRA training); their sums go to a scratch row.
        if (dweight.IsEmpty) dweight = SinkIfEmpty(default, 2 * c).Slice(c, c);
        if (dbias.IsEmpty) dbias = SinkIfEmpty(default, 2 * c).Slice(0, c);
        Check.AtLeast(dy.Length, n, c, nameof(dy));
        Check.AtLeast(x.Length, n, c, nameof(x));
        Check.SameLength(c, weight.Length, nameof(weight));
        Check.AtLeast(mean.Length, n, nameof(mean));
        Check.AtLeast(rstd.Length, n, nameof(rstd));
        Check.AtLeast(dx.Length, n, c, nameof(dx));
        Check.SameLength(c, dweight.Length, nameof(dweight));
        Check.SameLength(c, dbias.Length, nameof(dbias));
        if (c == 0) throw new ArgumentOutOfRangeException(nameof(c), "c must be positive");

        int bits = Simd.Bits;
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rw = ref MemoryMarshal.GetReference(weight);
        ref float rdx = ref MemoryMarshal.GetReference(dx);
        ref float rdw = ref MemoryMarshal.GetReference(dweight);
        ref float rdb = ref MemoryMarshal.GetReference(dbias);
        for (int r = 0; r < n; r++)
        {
            ref float dyr = ref Unsafe.Add(ref rdy, (nint)r * c);
            ref float xr = ref Unsafe.Add(ref rx, (nint)r * c);
            ref float dxr = ref Unsafe.Add(ref rdx, (nint)r * c);
            float m = mean[r], s = rstd[r];

            // Pass 1: the two row means dx needs, and the parameter gradients.
            float sumG = 0f, sumGNorm = 0f;
            int i = 0;
            if (bits >= 512) i = ParameterGrads<Simd512, F512>(ref dyr, ref xr, ref rw, ref rdw, ref rdb, m, s, i, c, ref sumG, ref sumGNorm);
            if (bits >= 256) i = ParameterGrads<Simd256, F256>(ref dyr, ref xr, ref rw, ref rdw, ref rdb, m, s, i, c, ref sumG, ref sumGNorm);
            if (bits >= 128) i = ParameterGrads<Simd128, F128>(ref dyr, ref xr, ref rw, ref rdw, ref rdb, m, s, i, c, ref sumG, ref sumGNorm);
            ParameterGrads<Scalar, float>(ref dyr, ref xr, ref rw, ref rdw, ref rdb, m, s, i, c, ref sumG, ref sumGNorm);

            // Pass 2: dx.
            float meanG = sumG / c, meanGNorm = sumGNorm / c;
            i = 0;
            if (bits >= 512) i = InputGrad<Simd512, F512>(ref dyr, ref xr, ref rw, ref dxr, m, s, meanG, meanGNorm, i, c);
            if (bits >= 256) i = InputGrad<Simd256, F256>(ref dyr, ref xr, ref rw, ref dxr, m, s, meanG, meanGNorm, i, c);
            if (bits >= 128) i = InputGrad<Simd128, F128>(ref dyr, ref xr, ref rw, ref dxr, m, s, meanG, meanGNorm, i, c);
            InputGrad<Scalar, float>(ref dyr, ref xr, ref rw, ref dxr, m, s, meanG, meanGNorm, i, c);
        }
    }

    /// <summary>sum_i (x[i] - m)^2, with four accumulators like <see cref="VectorMath"/>'s reductions.</summary>
    static float SquaredDeviations(int bits, ref float x, float m, int n)
    {
        int i = 0;
        float s = 0f;
        if (bits >= 512) s += SquaredDeviations<Simd512, F512>(ref x, m, ref i, n);
        if (bits >= 256) s += SquaredDeviations<Simd256, F256>(ref x, m, ref i, n);
        if (bits >= 128) s += SquaredDeviations<Simd128, F128>(ref x, m, ref i, n);
        return s + SquaredDeviations<Scalar, float>(ref x, m, ref i, n);
    }

    static float SquaredDeviations<S, V>(ref float x, float m, ref int i, int n) where S : struct, ISimd<V> where V : struct
    {
        int c = S.Count;
        if (i + c > n) return 0f;
        V vm = S.Splat(m);
        V a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero;
        for (; i + 4 * c <= n; i += 4 * c)
        {
            V d0 = S.Sub(S.Load(ref Unsafe.Add(ref x, i)), vm);
            V d1 = S.Sub(S.Load(ref Unsafe.Add(ref x, i + c)), vm);
            V d2 = S.Sub(S.Load(ref Unsafe.Add(ref x, i + 2 * c)), vm);
            V d3 = S.Sub(S.Load(ref Unsafe.Add(ref x, i + 3 * c)), vm);
            a0 = S.MulAdd(d0, d0, a0); a1 = S.MulAdd(d1, d1, a1); a2 = S.MulAdd(d2, d2, a2); a3 = S.MulAdd(d3, d3, a3);
        }
        for (; i + c <= n; i += c)
        {
            V d = S.Sub(S.Load(ref Unsafe.Add(ref x, i)), vm);
            a0 = S.MulAdd(d, d, a0);
        }
        return S.Sum(S.Add(S.Add(a0, a1), S.Add(a2, a3)));
    }

    // y = (x - m) * s * w + b
    static int Normalize<S, V>(ref float x, ref float w, ref float b, ref float y, float m, float s, int i, int n)
        where S : struct, ISimd<V> where V : struct
    {
        V vm = S.Splat(m), vs = S.Splat(s);
        for (; i + S.Count <= n; i += S.Count)
        {
            V norm = S.Mul(S.Sub(S.Load(ref Unsafe.Add(ref x, i)), vm), vs);
            S.Store(S.MulAdd(norm, S.Load(ref Unsafe.Add(ref w, i)), S.Load(ref Unsafe.Add(ref b, i))), ref Unsafe.Add(ref y, i));
        }
        return i;
    }

    // db += dy; dw += dy * norm; sumG += sum(dy * w); sumGNorm += sum(dy * w * norm)
    static int ParameterGrads<S, V>(ref float dy, ref float x, ref float w, ref float dw, ref float db, float m, float s,
        int i, int n, ref float sumG, ref float sumGNorm) where S : struct, ISimd<V> where V : struct
    {
        if (i + S.Count > n) return i;
        V vm = S.Splat(m), vs = S.Splat(s);
        V accG = S.Zero, accGNorm = S.Zero;
        for (; i + S.Count <= n; i += S.Count)
        {
            V d = S.Load(ref Unsafe.Add(ref dy, i));
            V norm = S.Mul(S.Sub(S.Load(ref Unsafe.Add(ref x, i)), vm), vs);
            V g = S.Mul(d, S.Load(ref Unsafe.Add(ref w, i)));
            accG = S.Add(accG, g);
            accGNorm = S.MulAdd(g, norm, accGNorm);
            ref float dbi = ref Unsafe.Add(ref db, i);
            S.Store(S.Add(S.Load(ref dbi), d), ref dbi);
            ref float dwi = ref Unsafe.Add(ref dw, i);
            S.Store(S.MulAdd(d, norm, S.Load(ref dwi)), ref dwi);
        }
        sumG += S.Sum(accG);
        sumGNorm += S.Sum(accGNorm);
        return i;
    }

    // dx += (dy * w - meanG - norm * meanGNorm) * s
    static int InputGrad<S, V>(ref float dy, ref float x, ref float w, ref float dx, float m, float s, float meanG, float meanGNorm, int i, int n)
        where S : struct, ISimd<V> where V : struct
    {
        V vm = S.Splat(m), vs = S.Splat(s), vMeanG = S.Splat(meanG), vMeanGNorm = S.Splat(meanGNorm);
        for (; i + S.Count <= n; i += S.Count)
        {
            V norm = S.Mul(S.Sub(S.Load(ref Unsafe.Add(ref x, i)), vm), vs);
            V g = S.Mul(S.Load(ref Unsafe.Add(ref dy, i)), S.Load(ref Unsafe.Add(ref w, i)));
            V t = S.Sub(S.Sub(g, vMeanG), S.Mul(norm, vMeanGNorm));
            ref float dxi = ref Unsafe.Add(ref dx, i);
            S.Store(S.MulAdd(t, vs, S.Load(ref dxi)), ref dxi);
        }
        return i;
    }
}
