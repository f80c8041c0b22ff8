using Edge.Quantization;

namespace Edge;

/// <summary>
/// How one projection site computes y [rows, m] = x [rows, n] @ W + b: chosen per site when the model's weights are
/// attached (fp32 stored [n, m], fp32 stored [m, n] for a head tied to the embedding, or quantised blocks), so the hot
/// path makes one virtual call instead of testing flags. Kernel objects hold no per-call state: contexts on several
/// threads share them.
/// </summary>
public abstract class ProjectionKernel
{
    public abstract void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y, int rows, int n, int m);

    /// <summary>dx += dy W^T; dW and db accumulate unless empty (frozen weights).</summary>
    public abstract void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> db, int rows, int n, int m);

    /// <summary>W stored [in, out] (GPT-2's Conv1D orientation): the register-tiled GEMM.</summary>
    public sealed class Fp32 : ProjectionKernel
    {
        public static readonly Fp32 Instance = new();
        public override void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y, int rows, int n, int m) =>
            Kernels.Linear.Forward(x, w, b, y, rows, n, m);
        public override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, Span<float> dx, Span<float> dw, Span<float> db, int rows, int n, int m) =>
            Kernels.Linear.Backward(x, w, dy, dx, dw, db, rows, n, m);
    }

    /// <summary>W stored [out, in] (torch.nn.Linear's orientation; a head tied to the embedding): row dot products.</summary>
    public sealed class Fp32Rows : ProjectionKernel
    {
        public static readonly Fp32Rows Instance = new();
        public override void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y, int rows, int n, int m) =>
            Kernels.LinearRows.Forward(x, w, b, y, rows, n, m);
        public override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, Span<float> dx, Span<float> dw, Span<float> db, int rows, int n, int m) =>
            Kernels.LinearRows.Backward(x, w, dy, dx, dw, db, rows, n, m);
    }

    /// <summary>Weights in 8- or 4-bit blocks [out, in] (the fp32 slice is unused): integer dot products; no backward.</summary>
    public sealed class Quantized(QuantizedMatrix matrix, string site) : ProjectionKernel
    {
        public QuantizedMatrix Matrix { get; } = matrix;
        public override void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y, int rows, int n, int m) =>
            Kernels.QuantizedLinear.Forward(x, Matrix, b, y, rows, n, m);
        public override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, Span<float> dx, Span<float> dw, Span<float> db, int rows, int n, int m) =>
            throw new InvalidOperationException($"'{site}' has quantised weights, which have no backward pass");
    }
}
