using ILGPU;

namespace Edge.Gpu.Kernels;

/// <summary>
/// Sums over rows (bias gradients, the norms' weight gradients) in two passes, so that a GPU has more than one thread per
/// column at work: thread (chunk k, column j) sums rows [k * rows / chunks, (k + 1) * rows / chunks) into partials[k, j];
/// then one thread per column adds its chunks in order. The order is fixed, so results do not depend on the device.
/// </summary>
static class ReductionKernels
{
    static (int Start, int End) Chunk(int k, int rows, int chunks) => ((int)((long)k * rows / chunks), (int)((long)(k + 1) * rows / chunks));

    /// <summary>partials [chunks, width] = per-chunk column sums of x [rows, width].</summary>
    public static void ColumnPartials(Index1D index, ArrayView<float> x, ArrayView<float> partials, int rows, int width, int chunks)
    {
        int i = index, k = i / width, j = i - k * width;
        var (start, end) = Chunk(k, rows, chunks);
        float s = 0f;
        for (int r = start; r < end; r++) s += x[(long)r * width + j];
        partials[i] = s;
    }

    /// <summary>LayerNorm's parameter gradients per chunk: partials [chunks, C] of dy * norm, then [chunks, C] of dy.</summary>
    public static void LayerNormPartials(Index1D index, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> partials, int rows, int c, int chunks)
    {
        int i = index, k = i / c, j = i - k * c;
        var (start, end) = Chunk(k, rows, chunks);
        float dw = 0f, db = 0f;
        for (int r = start; r < end; r++)
        {
            long at = (long)r * c + j;
            float d = dy[at];
            dw += d * (x[at] - mean[r]) * rstd[r];
            db += d;
        }
        partials[i] = dw;
        partials[(long)chunks * c + i] = db;
    }

    /// <summary>RMSNorm's weight gradient per chunk: partials [chunks, C] of dy * x * rstd.</summary>
    public static void RmsNormPartials(Index1D index, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> rstd, ArrayView<float> partials,
        int rows, int c, int chunks)
    {
        int i = index, k = i / c, j = i - k * c;
        var (start, end) = Chunk(k, rows, chunks);
        float dw = 0f;
        for (int r = start; r < end; r++)
        {
            long at = (long)r * c + j;
            dw += dy[at] * x[at] * rstd[r];
        }
        partials[i] = dw;
    }

    /// <summary>target [width] += the sum over chunks of partials [chunks, width], chunk by chunk.</summary>
    public static void AddPartials(Index1D column, ArrayView<float> partials, ArrayView<float> target, int width, int chunks)
    {
        float s = 0f;
        for (int k = 0; k < chunks; k++) s += partials[(long)k * width + column];
        target[column] += s;
    }
}
