namespace Edge;

/// <summary>
/// What a context does for the code above it (the trainer, evaluation, text generation): forward and backward passes,
/// logits, and decoding against a KV cache, in the memory of one user of a model. <see cref="ModelContext"/> runs them
/// with the CPU kernels; a device backend (src/Gpu) runs the same model's op table on its device. Members behave as
/// <see cref="ModelContext"/> documents them.
/// </summary>
public interface IModelContext : IDisposable
{
    LanguageModel Model { get; }
    ContextKind Kind { get; }
    /// <summary>The largest batch a pass may have (1 for decoding).</summary>
    int MaxBatch { get; }
    /// <summary>LoRA adapters (terms on the projections) the passes apply; null for the bare base.</summary>
    ProjectionAdapters? Adapters { get; set; }
    /// <summary>The probability of zeroing an activation in a training pass.</summary>
    float DropoutRate { get; set; }
    /// <summary>The dropout stream, saved with a run's state.</summary>
    (ulong, ulong, ulong, ulong) DropoutState { get; set; }
    void SeedDropout(ulong seed);

    /// <summary>The mean cross-entropy loss of a batch; with <paramref name="training"/>, keeps what <see cref="Backward"/> needs.</summary>
    float Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batch, int length = 0, bool training = false);
    /// <summary>Adds the last training forward's gradients (weights, adapters).</summary>
    void Backward();
    /// <summary>Logits [batch, V] (window models) or [batch, length, V] (sequence models), valid until the next pass.</summary>
    ReadOnlySpan<float> Logits(ReadOnlySpan<int> inputs, int batch, int length = 0);

    /// <summary>Positions in the KV cache.</summary>
    int CachedPositions { get; }
    ReadOnlySpan<float> Prefill(ReadOnlySpan<int> prompt);
    ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens);
    ReadOnlySpan<float> DecodeStep(int token);
}
