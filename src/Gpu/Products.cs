using Edge.Gpu.Kernels;
using ILGPU;

namespace Edge.Gpu;

/// <summary>
/// The weight-matrix products of a projection site as <see cref="GemmShape"/>s, for both storage orders:
/// [In, Out] (GPT-2's Conv1D, Edge.Kernels.Linear) and [Out, In] (a head tied to the embedding, Edge.Kernels.LinearRows).
///   forward  y [rows, Out]  = x @ W + b           (W [In, Out])     or x @ W^T + b   (W [Out, In])
///   backward dx [rows, In] += dy @ W^T                                 dy @ W
///            dW            += x^T @ dy  [In, Out]                      dy^T @ x  [Out, In]
///            db [Out]      += column sums of dy
/// </summary>
static class Products
{
    public static void Forward(DeviceKernels k, ArrayView<float> x, ArrayView<float> w, ArrayView<float> b, ArrayView<float> y,
        int rows, int inDim, int outDim, bool transposed) =>
        k.Gemm(x, w, y, b, transposed
            ? new GemmShape { M = rows, N = outDim, K = inDim, Am = inDim, Ak = 1, Bk = 1, Bn = inDim }
            : new GemmShape { M = rows, N = outDim, K = inDim, Am = inDim, Ak = 1, Bk = outDim, Bn = 1 });

    /// <summary>Accumulates into dx, dw and db; an empty one is skipped (no gradient flows there, or the weights are frozen).</summary>
    public static void Backward(DeviceKernels k, ArrayView<float> x, ArrayView<float> w, ArrayView<float> dy,
        ArrayView<float> dx, ArrayView<float> dw, ArrayView<float> db, int rows, int inDim, int outDim, bool transposed)
    {
        if (dx.Length > 0)
            k.Gemm(dy, w, dx, default, transposed
                ? new GemmShape { M = rows, N = inDim, K = outDim, Am = outDim, Ak = 1, Bk = inDim, Bn = 1, Accumulate = 1 }
                : new GemmShape { M = rows, N = inDim, K = outDim, Am = outDim, Ak = 1, Bk = 1, Bn = outDim, Accumulate = 1 });
        if (dw.Length > 0)
        {
            if (transposed)
                k.Gemm(dy, x, dw, default, new GemmShape { M = outDim, N = inDim, K = rows, Am = 1, Ak = outDim, Bk = inDim, Bn = 1, Accumulate = 1 });
            else
                k.Gemm(x, dy, dw, default, new GemmShape { M = inDim, N = outDim, K = rows, Am = 1, Ak = inDim, Bk = outDim, Bn = 1, Accumulate = 1 });
        }
        if (db.Length > 0) k.ColumnSums(dy, db, rows, outDim);
    }
}
