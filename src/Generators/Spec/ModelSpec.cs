using System;

namespace Edge.Generators.Spec
{
    // The typed, equatable description of a declared model that the parser produces and the planner reads: one
    // sealed record per layer kind, the enums of the real attribute source (Edge.*, compiled into this assembly from
    // src/Runtime/Declarations/ModelAttributes.cs), and every shape already resolved. No Roslyn symbols and no source
    // locations: that is what lets the incremental pipeline cache it (moving a class does not regenerate its model).

    /// <summary>One layer of a declaration, in declaration order.</summary>
    internal abstract record LayerSpec;

    /// <summary>
    /// [TokenEmbedding]: wte [V, Dim], plus wpe [Context, Dim] when <paramref name="Positional"/>; named
    /// model.embed_tokens in a Llama-family model (<paramref name="Llama"/>).
    /// </summary>
    internal sealed record EmbeddingSpec(int Dim, bool Positional, bool Llama = false) : LayerSpec;

    /// <summary>[Flatten]: [B, Context, Width] read as [B, Context * Width]; no work.</summary>
    internal sealed record FlattenSpec(int Positions, int Width) : LayerSpec;

    /// <summary>[Dense]: y = act(x W + b), W [In, Out]; <paramref name="Name"/> is the tensor prefix (fc1, ...).</summary>
    internal sealed record DenseSpec(string Name, int In, int Out, Activation Activation) : LayerSpec;

    /// <summary>[BigramTable]: logits are the previous token's row of table [V, V]; fitted by counting or trained.</summary>
    internal sealed record BigramSpec(bool Counting, double Smoothing) : LayerSpec;

    /// <summary>[TransformerBlocks]: GPT-2 decoder blocks over width <paramref name="Width"/>.</summary>
    internal sealed record GptBlocksSpec(int Width, int Layers, int Heads, int MlpRatio, double Dropout, bool Bias, GeluForm Gelu) : LayerSpec
    {
        public int HeadSize => Width / Heads;
        public int Hidden => MlpRatio * Width;
    }

    /// <summary>[LlamaBlocks]: Llama decoder blocks over width <paramref name="Width"/>, heads of <see cref="HeadSize"/>.</summary>
    internal sealed record LlamaBlocksSpec(int Width, int Layers, int Heads, int KvHeads, int MlpHidden, double RopeTheta, RopeLayout Rope,
        double NormEpsilon, bool QkvBias, double Dropout) : LayerSpec
    {
        public int HeadSize => Width / Heads;
        public int KvWidth => KvHeads * HeadSize;
    }

    /// <summary>[RmsNorm]: Llama's final model.norm over width <paramref name="Width"/>.</summary>
    internal sealed record FinalRmsNormSpec(int Width, double Epsilon) : LayerSpec;

    /// <summary>[LayerNorm]: GPT-2's final ln_f over width <paramref name="Width"/> (no shift when the blocks have no biases).</summary>
    internal sealed record FinalNormSpec(int Width, bool Bias) : LayerSpec;

    /// <summary>
    /// [OutputHead]: [rows, In] -> logits [rows, V]; the weight is the embedding itself (read transposed) when tied. A
    /// Llama-family head stores lm_head.weight [V, In] (torch.nn.Linear's orientation).
    /// </summary>
    internal sealed record HeadSpec(int In, bool Bias, bool Tied, bool Llama = false) : LayerSpec;

    internal sealed record RecipeSpec(OptimizerKind Optimizer, double LearningRate, int Batch, int Steps, int DecayStep, double DecayFactor,
        double WeightDecay, int EvalInterval, ScheduleKind Schedule, int Warmup, double MinLearningRate, double Beta2, double GradClip);

    /// <param name="Namespace">Empty for the global namespace.</param>
    /// <param name="Sequence">True when the model predicts at every position (it has transformer blocks).</param>
    internal sealed record ModelSpec(
        string Namespace,
        string ClassName,
        string ModelName,
        string Description,
        int Context,
        DataLayout Data,
        bool Sequence,
        EquatableArray<LayerSpec> Layers,
        RecipeSpec Recipe)
    {
        public string FullName => (Namespace.Length > 0 ? Namespace + "." : "") + ClassName;
    }

    /// <summary>A diagnostic to report, stored without Roslyn's Location so it stays equatable.</summary>
    internal sealed record DiagnosticInfo(string Id, EquatableArray<string> Args, LocationInfo? Location);

    internal sealed record LocationInfo(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn);

    /// <summary>
    /// What the parser hands on: a model when the declaration is valid (no locations in it), the diagnostics
    /// either way, and the key that orders the registry (file and line: only the registry depends on it).
    /// </summary>
    internal sealed record ParseResult(ModelSpec? Model, EquatableArray<DiagnosticInfo> Diagnostics, string OrderKey);
}
