using ILGPU;

namespace Edge.Gpu.Kernels;

/// <summary>The optimiser steps (element loops as in ElementKernels) and the gradient norm, on the device (Edge.Kernels.AdamW, Sgd and GradientNorm).</summary>
static class OptimizerKernels
{
    /// <summary>
    /// AdamW with PyTorch's semantics, for one tensor: w *= keep (1 - lr * wd); m, v updated; w -= stepSize * m / (sqrt(v) * invSqrtBc2 + eps),
    /// stepSize = lr / (1 - b1^step), invSqrtBc2 = 1 / sqrt(1 - b2^step), computed on the host as the CPU computes them.
    /// </summary>
    public static void AdamW(Index1D index, ArrayView<float> w, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v,
        float keep, float beta1, float beta2, float stepSize, float invSqrtBc2, float eps, int n, int stride)
    {
        for (int i = index; i < n; i += stride)
        {
            float gi = g[i];
            float mi = beta1 * m[i] + (1f - beta1) * gi;
            float vi = beta2 * v[i] + (1f - beta2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            w[i] = w[i] * keep - stepSize * mi / (MathF.Sqrt(vi) * invSqrtBc2 + eps);
        }
    }

    /// <summary>SGD with coupled weight decay: w = w * keep - lr * g.</summary>
    public static void Sgd(Index1D index, ArrayView<float> w, ArrayView<float> g, float keep, float lr, int n, int stride)
    {
        for (int i = index; i < n; i += stride) w[i] = w[i] * keep - lr * g[i];
    }

    /// <summary>
    /// Partial sums of squares: group j of the grid adds elements j * G + t, j * G + t + grid * G, ... and writes partials[j];
    /// the host adds the partials in double. Dynamic shared memory: the group's size floats.
    /// </summary>
    public static void SumOfSquares(ArrayView<float> x, ArrayView<float> partials, int n)
    {
        var scratch = SharedMemory.GetDynamic<float>();
        int g = Group.DimX, stride = Grid.DimX * g;
        float s = 0f;
        for (long i = (long)Grid.IdxX * g + Group.IdxX; i < n; i += stride) s += x[i] * x[i];
        s = GroupMath.Sum(s, scratch);
        if (Group.IdxX == 0) partials[Grid.IdxX] = s;
    }
}
