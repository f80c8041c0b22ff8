namespace Edge;

/// <summary>
/// Terms added to a model's weight-matrix products (LoRA adapters): after y [rows, Out] = x [rows, In] @ W + b at
/// projection site <c>site</c> (an index in <see cref="ModelLayout.Projections"/>), <see cref="Forward"/> adds its
/// term to y; in training, <see cref="Backward"/> accumulates its own gradients and adds its share to dx.
/// Implementations must not allocate per call.
/// </summary>
public abstract class ProjectionAdapters
{
    /// <param name="training">A training forward pass (dropout on the adapter input applies, and what backward needs is kept).</param>
    public abstract void Forward(int site, ReadOnlySpan<float> x, Span<float> y, int rows, bool training);

    /// <summary>Called in reverse order of <see cref="Forward"/> for the last training pass. dx may be empty (nothing upstream).</summary>
    public abstract void Backward(int site, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int rows);
}
