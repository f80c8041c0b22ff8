namespace Edge;

/// <summary>The shape of a transformer model, to match a Hugging Face config.json against the declared models.</summary>
public sealed record TransformerShape(int Layers, int Heads, int Width, int Context, int MlpRatio, bool Bias, bool TiedHead, bool ExactGelu = false);

/// <summary>The shape of a Llama-family model, to match a Hugging Face config.json or a llama2.c checkpoint against the declared models.</summary>
public sealed record LlamaShape(int Layers, int Heads, int KvHeads, int Width, int MlpHidden, int Context, double RopeTheta, RopeLayout Rope,
    double NormEpsilon, double FinalNormEpsilon, bool QkvBias, bool TiedHead)
{
    public int HeadSize => Width / Heads;
}

/// <summary>Training defaults declared with [TrainingRecipe]; the CLI's options override them.</summary>
public sealed record TrainingRecipe(
    OptimizerKind Optimizer, double LearningRate, int Batch, int Steps,
    int DecayStep, double DecayFactor, double WeightDecay, int EvalInterval,
    ScheduleKind Schedule = ScheduleKind.Step, int Warmup = 0, double MinLearningRate = 0,
    double Beta2 = 0.999, double GradClip = 0, double Dropout = 0);

/// <summary>
/// What a host knows about a declared model without building one: the generator emits one of these per model into a
/// registry, so listing and constructing models needs no reflection.
/// </summary>
/// <param name="SequenceTargets">True when every input position has a target (transformers); false when one target follows the window.</param>
/// <param name="Describe">The parameter layout for a vocabulary size (no memory allocated).</param>
/// <param name="Slots">The activation slots a context lays out (<see cref="ContextLayout"/>).</param>
/// <param name="Ops">The forward pass's ops in order, blocks unrolled (<see cref="OpInfo"/>): for backends that walk the plan.</param>
/// <param name="Create">Builds the model (its weights) for a vocabulary size.</param>
public sealed record ModelInfo(
    string Name,
    string Description,
    int Context,
    DataLayout Data,
    bool SequenceTargets,
    bool FitsByCounting,
    TrainingRecipe Recipe,
    Func<int, ModelLayout> Describe,
    IReadOnlyList<SlotInfo> Slots,
    Func<IReadOnlyList<OpInfo>> Ops,
    Func<int, LanguageModel> Create,
    TransformerShape? Transformer = null,
    LlamaShape? Llama = null)
{
    /// <summary>Parameter count for a vocabulary size.</summary>
    public long ParameterCount(int vocabSize) => Describe(vocabSize).ParameterCount;

    /// <summary>Bytes of a context's activations (and their gradients, in training) at a largest batch.</summary>
    public long ContextBytes(int vocabSize, int maxBatch, ContextKind kind) => ContextLayout.Build(this, vocabSize, maxBatch, kind).Bytes;

    /// <summary>
    /// The largest batch up to <paramref name="wanted"/> whose context of <paramref name="kind"/> fits in
    /// <paramref name="budgetBytes"/> (a transformer's training activations grow with batch x context^2), halving from
    /// <paramref name="wanted"/>; at least 1.
    /// </summary>
    public int FittingBatch(int vocabSize, int wanted, ContextKind kind = ContextKind.Inference, long budgetBytes = 256L << 20)
    {
        for (int batch = Math.Max(1, wanted); batch > 1; batch /= 2)
        {
            try
            {
                if (ContextBytes(vocabSize, batch, kind) <= budgetBytes) return batch;
            }
            catch (EdgeException) { }
        }
        return 1;
    }
}
