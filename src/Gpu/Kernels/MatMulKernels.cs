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
    /// Tiled through shared memory, with a 4 x 4 block of outputs per thread: a group of tile x tile threads computes a
    /// (4 tile) x (4 tile) block of C (64 x 64 on a GPU), stepping over K a tile at a time. Each step, the group loads the
    /// block's rows of A [4 tile, tile] and columns of B [tile, 4 tile] into shared memory (four elements of each per
    /// thread, neighbouring threads reading neighbouring elements); then each thread reads four values of A and four of
    /// B per k and makes sixteen products, so shared-memory reads are a quarter of the multiply-adds. Thread (tx, ty)
    /// owns rows ty + r tile and columns tx + c tile (r, c &lt; 4): a warp's threads share A's value and read consecutive
    /// B columns. Grid: (N, M) / (4 tile) groups, rounded up; dynamic shared memory: 8 tile^2 floats.
    /// </summary>
    public static void Gemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, GemmShape s, int tile)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int t = tile, block = 4 * t, threads = t * t;
        int tx = Group.IdxX, ty = Group.IdxY, tid = ty * t + tx;
        int row0 = Grid.IdxY * block, col0 = Grid.IdxX * block;
        var blockA = shared.SubView(0, block * t);          // [block rows, t]
        var blockB = shared.SubView(block * t, t * block);  // [t, block columns]
        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;
        for (int k0 = 0; k0 < s.K; k0 += t)
        {
            for (int l = 0; l < 4; l++)
            {
                int e = l * threads + tid;
                int ar = e / t, ak = e - ar * t, row = row0 + ar, ka = k0 + ak;
                blockA[e] = row < s.M && ka < s.K ? a[(long)row * s.Am + (long)ka * s.Ak] : 0f;
                int bk = e / block, bc = e - bk * block, col = col0 + bc, kb = k0 + bk;
                blockB[e] = col < s.N && kb < s.K ? b[(long)kb * s.Bk + (long)col * s.Bn] : 0f;
            }
            GroupMath.Barrier();
            for (int k = 0; k < t; k++)
            {
                float a0 = blockA[ty * t + k], a1 = blockA[(ty + t) * t + k], a2 = blockA[(ty + 2 * t) * t + k], a3 = blockA[(ty + 3 * t) * t + k];
                int kb = k * block + tx;
                float b0 = blockB[kb], b1 = blockB[kb + t], b2 = blockB[kb + 2 * t], b3 = blockB[kb + 3 * t];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            GroupMath.Barrier();
        }
        int r0 = row0 + ty, q0 = col0 + tx;
        Store(c, bias, s, r0, q0, c00); Store(c, bias, s, r0, q0 + t, c01); Store(c, bias, s, r0, q0 + 2 * t, c02); Store(c, bias, s, r0, q0 + 3 * t, c03);
        Store(c, bias, s, r0 + t, q0, c10); Store(c, bias, s, r0 + t, q0 + t, c11); Store(c, bias, s, r0 + t, q0 + 2 * t, c12); Store(c, bias, s, r0 + t, q0 + 3 * t, c13);
        Store(c, bias, s, r0 + 2 * t, q0, c20); Store(c, bias, s, r0 + 2 * t, q0 + t, c21); Store(c, bias, s, r0 + 2 * t, q0 + 2 * t, c22); Store(c, bias, s, r0 + 2 * t, q0 + 3 * t, c23);
        Store(c, bias, s, r0 + 3 * t, q0, c30); Store(c, bias, s, r0 + 3 * t, q0 + t, c31); Store(c, bias, s, r0 + 3 * t, q0 + 2 * t, c32); Store(c, bias, s, r0 + 3 * t, q0 + 3 * t, c33);
    }

    /// <summary>c[row, col] (+)= sum (+ bias[col]), inside the matrix only.</summary>
    static void Store(ArrayView<float> c, ArrayView<float> bias, GemmShape s, int row, int col, float sum)
    {
        if (row >= s.M || col >= s.N) return;
        long at = (long)row * s.N + col;
        if (s.HasBias != 0) sum += bias[col];
        c[at] = s.Accumulate != 0 ? c[at] + sum : sum;
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
