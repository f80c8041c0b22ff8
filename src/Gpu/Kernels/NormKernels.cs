using ILGPU;

namespace Edge.Gpu.Kernels;

/// <summary>
/// LayerNorm and RMSNorm over rows of x [n, C], forward and backward, as Edge.Kernels.LayerNorm and RmsNorm compute them.
/// Row kernels run one group per row (grid n, dynamic shared memory: one float per thread for the reductions); threads stride
/// over the row's C values. The parameter gradients (sums over rows) run one thread per column with rows in order, so they
/// do not depend on the launch shape.
/// </summary>
static class NormKernels
{
    /// <summary>y = (x - mean) * rstd * weight + bias (hasBias 0: no shift); mean and rstd [n] kept.</summary>
    public static void LayerNormForward(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y,
        ArrayView<float> mean, ArrayView<float> rstd, int c, int hasBias, float eps)
    {
        var scratch = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, t = Group.IdxX, g = Group.DimX;
        long at = (long)row * c;
        float s = 0f;
        for (int i = t; i < c; i += g) s += x[at + i];
        float m = GroupMath.Sum(s, scratch) / c;
        float d = 0f;
        for (int i = t; i < c; i += g) { float v = x[at + i] - m; d += v * v; }
        float r = 1f / MathF.Sqrt(GroupMath.Sum(d, scratch) / c + eps);
        for (int i = t; i < c; i += g)
            y[at + i] = (x[at + i] - m) * r * weight[i] + (hasBias != 0 ? bias[i] : 0f);
        if (t == 0) { mean[row] = m; rstd[row] = r; }
    }

    /// <summary>dx += (g - mean_C(g) - norm * mean_C(g * norm)) * rstd, g = dy * weight, norm = (x - mean) * rstd.</summary>
    public static void LayerNormBackwardInput(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> mean,
        ArrayView<float> rstd, ArrayView<float> dx, int c)
    {
        var scratch = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, t = Group.IdxX, g = Group.DimX;
        long at = (long)row * c;
        float m = mean[row], r = rstd[row];
        float sumG = 0f, sumGNorm = 0f;
        for (int i = t; i < c; i += g)
        {
            float gi = dy[at + i] * weight[i];
            sumG += gi;
            sumGNorm += gi * (x[at + i] - m) * r;
        }
        float meanG = GroupMath.Sum(sumG, scratch) / c;
        float meanGNorm = GroupMath.Sum(sumGNorm, scratch) / c;
        for (int i = t; i < c; i += g)
        {
            float norm = (x[at + i] - m) * r;
            dx[at + i] += (dy[at + i] * weight[i] - meanG - norm * meanGNorm) * r;
        }
    }

    /// <summary>dweight [C] += sum_r dy * norm; dbias [C] += sum_r dy (hasBias 0: none). One thread per column.</summary>
    public static void LayerNormBackwardParameters(Index1D column, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> mean,
        ArrayView<float> rstd, ArrayView<float> dweight, ArrayView<float> dbias, int n, int c, int hasBias)
    {
        float dw = 0f, db = 0f;
        for (int r = 0; r < n; r++)
        {
            long at = (long)r * c + column;
            float d = dy[at];
            dw += d * (x[at] - mean[r]) * rstd[r];
            db += d;
        }
        dweight[column] += dw;
        if (hasBias != 0) dbias[column] += db;
    }

    /// <summary>y = x * rstd * weight, rstd = 1 / sqrt(mean(x^2) + eps) kept per row.</summary>
    public static void RmsNormForward(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> y, ArrayView<float> rstd, int c, float eps)
    {
        var scratch = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, t = Group.IdxX, g = Group.DimX;
        long at = (long)row * c;
        float s = 0f;
        for (int i = t; i < c; i += g) s += x[at + i] * x[at + i];
        float r = 1f / MathF.Sqrt(GroupMath.Sum(s, scratch) / c + eps);
        for (int i = t; i < c; i += g) y[at + i] = x[at + i] * r * weight[i];
        if (t == 0) rstd[row] = r;
    }

    /// <summary>dx += (g - norm * mean_C(g * norm)) * rstd, g = dy * weight, norm = x * rstd.</summary>
    public static void RmsNormBackwardInput(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> rstd,
        ArrayView<float> dx, int c)
    {
        var scratch = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, t = Group.IdxX, g = Group.DimX;
        long at = (long)row * c;
        float r = rstd[row];
        float s = 0f;
        for (int i = t; i < c; i += g) s += dy[at + i] * weight[i] * x[at + i] * r;
        float meanGNorm = GroupMath.Sum(s, scratch) / c;
        for (int i = t; i < c; i += g)
            dx[at + i] += (dy[at + i] * weight[i] - x[at + i] * r * meanGNorm) * r;
    }

    /// <summary>dweight [C] += sum_r dy * x * rstd. One thread per column.</summary>
    public static void RmsNormBackwardWeight(Index1D column, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> rstd,
        ArrayView<float> dweight, int n, int c)
    {
        float dw = 0f;
        for (int r = 0; r < n; r++)
        {
            long at = (long)r * c + column;
            dw += dy[at] * x[at] * rstd[r];
        }
        dweight[column] += dw;
    }
}
