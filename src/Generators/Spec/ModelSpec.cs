using System;

namespace Edge.Generators.Spec
{
    // The plain, equatable description of a declared model that the parser produces and the emitter reads.
    // No Roslyn symbols here: that is what lets the incremental pipeline cache it.

    internal enum LayerKind { TokenEmbedding, Flatten, Dense, BigramTable, OutputHead, TransformerBlocks, LayerNorm }

    /// <summary>Mirrors Edge.Activation (same numeric values).</summary>
    internal enum ActivationKind { None, Tanh, Relu }

    /// <param name="Width">Embedding dim (TokenEmbedding) or output width (Dense).</param>
    /// <param name="Name">Checkpoint tensor prefix (Dense: fc1, fc2, ... unless named).</param>
    /// <param name="Flag">OutputHead: has a bias. BigramTable: fitted by counting. TokenEmbedding: positional.</param>
    /// <param name="Number">BigramTable: add-k smoothing. TransformerBlocks: dropout.</param>
    /// <param name="Layers">TransformerBlocks: how many blocks.</param>
    /// <param name="Heads">TransformerBlocks: attention heads.</param>
    /// <param name="Ratio">TransformerBlocks: MLP width as a multiple of the model width.</param>
    /// <param name="Tied">OutputHead: the projection is the token embedding, transposed.</param>
    /// <param name="ExactGelu">TransformerBlocks: the MLP uses the erf GELU (Edge.GeluForm.Exact), not the tanh form.</param>
    internal sealed record LayerSpec(LayerKind Kind, int Width, ActivationKind Activation, string Name, bool Flag, double Number,
        int Layers = 0, int Heads = 0, int Ratio = 0, bool Tied = false, bool ExactGelu = false);

    internal sealed record RecipeSpec(int Optimizer, double LearningRate, int Batch, int Steps, int DecayStep, double DecayFactor,
        double WeightDecay, int EvalInterval, int Schedule, int Warmup, double MinLearningRate, double Beta2, double GradClip);

    /// <param name="Namespace">Empty for the global namespace.</param>
    /// <param name="DataLayout">Mirrors Edge.DataLayout: 0 text, 1 lines.</param>
    /// <param name="SortKey">File path and position, so the registry lists models in a stable order.</param>
    internal sealed record ModelSpec(
        string Namespace,
        string ClassName,
        string ModelName,
        string Description,
        int Context,
        int DataLayout,
        EquatableArray<LayerSpec> Layers,
        RecipeSpec Recipe,
        string SortKey);

    /// <summary>A diagnostic to report, stored without Roslyn's Location so it stays equatable.</summary>
    internal sealed record DiagnosticInfo(string Id, EquatableArray<string> Args, LocationInfo? Location);

    internal sealed record LocationInfo(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn);

    /// <summary>What the parser hands to the emitter: a model when the declaration is valid, and diagnostics either way.</summary>
    internal sealed record ParseResult(ModelSpec? Model, EquatableArray<DiagnosticInfo> Diagnostics);
}
