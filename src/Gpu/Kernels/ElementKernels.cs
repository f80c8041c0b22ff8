using ILGPU;

namespace Edge.Gpu.Kernels;

/// <summary>
/// Element-wise kernels over n elements (auto-grouped; thread t takes elements t, t + stride, ...: a launch of fewer
/// threads than elements amortises each thread's cost, which is high on ILGPU's CPU accelerator), with the formulas of Edge.Kernels: activations (the
/// backward ones accumulate into dx, as the CPU kernels do), residual sums, dropout and the copies between slots.
/// </summary>
static class ElementKernels
{
    const float SqrtTwoOverPi = 0.7978845608028654f;
    const float GeluA = 0.044715f;
    const float InvSqrt2 = 0.70710678118654752f;
    const float InvSqrt2Pi = 0.39894228040143268f;

    public static void Copy(Index1D index, ArrayView<float> x, ArrayView<float> y, int n, int stride)
    {
        for (int i = index; i < n; i += stride) y[i] = x[i];
    }

    /// <summary>y = a + b.</summary>
    public static void AddTo(Index1D index, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, int n, int stride)
    {
        for (int i = index; i < n; i += stride) y[i] = a[i] + b[i];
    }

    /// <summary>y += x.</summary>
    public static void Accumulate(Index1D index, ArrayView<float> x, ArrayView<float> y, int n, int stride)
    {
        for (int i = index; i < n; i += stride) y[i] += x[i];
    }

    /// <summary>x *= factor.</summary>
    public static void Scale(Index1D index, ArrayView<float> x, float factor, int n, int stride)
    {
        for (int i = index; i < n; i += stride) x[i] *= factor;
    }

    public static void TanhForward(Index1D index, ArrayView<float> x, ArrayView<float> y, int n, int stride)
    {
        for (int i = index; i < n; i += stride) y[i] = MathF.Tanh(x[i]);
    }

    /// <summary>dx += dy * (1 - y^2), from the forward's output y.</summary>
    public static void TanhBackward(Index1D index, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int n, int stride)
    {
        for (int i = index; i < n; i += stride) dx[i] += dy[i] * (1f - y[i] * y[i]);
    }

    public static void ReluForward(Index1D index, ArrayView<float> x, ArrayView<float> y, int n, int stride)
    {
        for (int i = index; i < n; i += stride) y[i] = MathF.Max(x[i], 0f);
    }

    /// <summary>dx += y > 0 ? dy : 0, from the forward's output y.</summary>
    public static void ReluBackward(Index1D index, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int n, int stride)
    {
        for (int i = index; i < n; i += stride)
        {
            if (y[i] > 0f) dx[i] += dy[i];
        }
    }

    /// <summary>GPT-2's tanh GELU as x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) (Edge.Kernels.Gelu).</summary>
    public static void GeluForward(Index1D index, ArrayView<float> x, ArrayView<float> y, int n, int stride)
    {
        for (int i = index; i < n; i += stride)
        {
            float v = x[i];
            y[i] = v * Sigmoid2U(v);
        }
    }

    /// <summary>dx += dy * (s + 2K x s (1 - s) (1 + 3A x^2)), s = sigmoid(2u), from the forward's input x.</summary>
    public static void GeluBackward(Index1D index, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, int n, int stride)
    {
        for (int i = index; i < n; i += stride)
        {
            float v = x[i], s = Sigmoid2U(v);
            float grad = s + 2f * SqrtTwoOverPi * v * s * (1f - s) * (1f + 3f * GeluA * v * v);
            dx[i] += dy[i] * grad;
        }
    }

    static float Sigmoid2U(float x) => 1f / (1f + MathF.Exp(-2f * SqrtTwoOverPi * x * (1f + GeluA * x * x)));

    /// <summary>The exact GELU x Phi(x), with Edge.Kernels.GeluExact's erfc (Numerical Recipes' erfcc, relative error below 1.2e-7).</summary>
    public static void GeluExactForward(Index1D index, ArrayView<float> x, ArrayView<float> y, int n, int stride)
    {
        for (int i = index; i < n; i += stride)
        {
            float v = x[i];
            y[i] = v * Phi(v);
        }
    }

    /// <summary>dx += dy * (Phi(x) + x phi(x)).</summary>
    public static void GeluExactBackward(Index1D index, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, int n, int stride)
    {
        for (int i = index; i < n; i += stride)
        {
            float v = x[i];
            float density = InvSqrt2Pi * MathF.Exp(-0.5f * v * v);
            dx[i] += dy[i] * (Phi(v) + v * density);
        }
    }

    /// <summary>Phi(x) = 1 - erfc(x / sqrt 2) / 2 for x >= 0, erfc(|x| / sqrt 2) / 2 below, so the left tail keeps its accuracy.</summary>
    static float Phi(float x)
    {
        float z = MathF.Abs(x) * InvSqrt2;
        float t = 1f / (0.5f * z + 1f);
        float p = t * 0.17087277f - 0.82215223f;
        p = t * p + 1.48851587f;
        p = t * p - 1.13520398f;
        p = t * p + 0.27886807f;
        p = t * p - 0.18628806f;
        p = t * p + 0.09678418f;
        p = t * p + 0.37409196f;
        p = t * p + 1.00002368f;
        p = t * p - 1.26551223f;
        float tail = 0.5f * t * MathF.Exp(p - 0.5f * x * x);
        return x < 0f ? tail : 1f - tail;
    }

    /// <summary>h = silu(gate) * up.</summary>
    public static void SwiGluForward(Index1D index, ArrayView<float> gate, ArrayView<float> up, ArrayView<float> h, int n, int stride)
    {
        for (int i = index; i < n; i += stride)
        {
            float g = gate[i];
            h[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>dgate += dh * up * s * (1 + g (1 - s)); dup += dh * g * s; s = sigmoid(gate).</summary>
    public static void SwiGluBackward(Index1D index, ArrayView<float> gate, ArrayView<float> up, ArrayView<float> dh, ArrayView<float> dgate, ArrayView<float> dup, int n, int stride)
    {
        for (int i = index; i < n; i += stride)
        {
            float g = gate[i], s = 1f / (1f + MathF.Exp(-g)), d = dh[i];
            dgate[i] += d * up[i] * s * (1f + g * (1f - s));
            dup[i] += d * g * s;
        }
    }

    /// <summary>
    /// Dropout: mask = 0 with probability p, else 1 / (1 - p); y = x * mask. The draw for element i is a hash of
    /// (seed, i), so the stream differs from the CPU's sequential one (a run with dropout is reproducible on a device,
    /// not equal to the CPU's).
    /// </summary>
    public static void DropoutForward(Index1D index, ArrayView<float> x, ArrayView<float> y, ArrayView<float> mask, float p, ulong seed, int n, int stride)
    {
        for (int i = index; i < n; i += stride)
        {
            float u = UniformHash(seed, (ulong)i);
            float m = u < p ? 0f : 1f / (1f - p);
            mask[i] = m;
            y[i] = x[i] * m;
        }
    }

    /// <summary>dx += dy * mask.</summary>
    public static void MaskedAccumulate(Index1D index, ArrayView<float> dy, ArrayView<float> mask, ArrayView<float> dx, int n, int stride)
    {
        for (int i = index; i < n; i += stride) dx[i] += dy[i] * mask[i];
    }

    /// <summary>A float in [0, 1) from SplitMix64 of seed + index.</summary>
    static float UniformHash(ulong seed, ulong index)
    {
        ulong z = seed + (index + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 40) * (1f / (1 << 24));
    }
}
