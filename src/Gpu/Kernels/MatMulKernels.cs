using ILGPU;

namespace Edge.Gpu.Kernels;

/// <summary>
/// C [M, N] (+)= A [M, K] @ B [K, N] (+ bias [N]), with A and B read through strides, so one kernel is every product the
/// passes need: x @ W and x @ W^T (a tied head), dy @ W^T and dy @ W (input gradients), x^T @ dy and dy^T @ x (weight
/// gradients), and LoRA's x @ A^T and h @ B^T. Element (m, k) of A is a[m * Am + k * Ak], element (k, n) of B is
/// b[k * Bk + n * Bn]; C is dense. Accumulate adds into C (the backward kernels' +=).
/// </summary>
public struct GemmShape
{
    public int M, N, K, Am, Ak, Bk, Bn, Accumulate, HasBias;
}

static class MatMulKernels
{
    /// <summary>
    /// One output per thread, tiled through shared memory: a group of tile x tile threads computes a tile x tile block of
    /// C, stepping over K a tile at a time; each step loads a tile of A and one of B into shared memory (one element per
    /// thread), then every thread reads tile values of each from there instead of global memory. Grid: (N / tile, M / tile)
    /// groups, rounded up; dynamic shared memory: 2 tile^2 floats.
    /// </summary>
    public static void Gemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, GemmShape s, int tile)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tx = Group.IdxX, ty = Group.IdxY;
        int row = Grid.IdxY * tile + ty, col = Grid.IdxX * tile + tx;
        int tt = tile * tile;
        float sum = 0f;
        for (int k0 = 0; k0 < s.K; k0 += tile)
        {
            int ka = k0 + tx, kb = k0 + ty;
            shared[ty * tile + tx] = row < s.M && ka < s.K ? a[(long)row * s.Am + (long)ka * s.Ak] : 0f;
            shared[tt + ty * tile + tx] = col < s.N && kb < s.K ? b[(long)kb * s.Bk + (long)col * s.Bn] : 0f;
            GroupMath.Barrier();
            for (int i = 0; i < tile; i++) sum += shared[ty * tile + i] * shared[tt + i * tile + tx];
            GroupMath.Barrier();
        }
        if (row < s.M && col < s.N)
        {
            long at = (long)row * s.N + col;
            if (s.HasBias != 0) sum += bias[col];
            c[at] = s.Accumulate != 0 ? c[at] + sum : sum;
        }
    }

    /// <summary>
    /// The same product without shared memory, one element of C at a time (auto-grouped; thread t takes t, t + stride, ...): for ILGPU's CPU accelerator,
    /// where a group is dispatched like a task and the tiled kernel's one-thread groups would cost a dispatch per output.
    /// </summary>
    public static void GemmPerElement(Index1D index, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, GemmShape s, int stride)
    {
        int n = s.M * s.N;
        for (int i = index; i < n; i += stride)
        {
            int row = i / s.N, col = i - row * s.N;
            float sum = 0f;
            long ar = (long)row * s.Am, bc = (long)col * s.Bn;
            for (int k = 0; k < s.K; k++) sum += a[ar + (long)k * s.Ak] * b[(long)k * s.Bk + bc];
            if (s.HasBias != 0) sum += bias[col];
            c[i] = s.Accumulate != 0 ? c[i] + sum : sum;
        }
    }

    /// <summary>sums [width] += column sums of x [rows, width] (a bias gradient): one thread per column, rows in order.</summary>
    public static void ColumnSums(Index1D column, ArrayView<float> x, ArrayView<float> sums, int rows, int width)
    {
        float total = 0f;
        for (int r = 0; r < rows; r++) total += x[(long)r * width + column];
        sums[column] += total;
    }
}
