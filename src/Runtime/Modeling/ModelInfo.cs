namespace Edge;

/// <summary>The shape of a transformer model, to match a Hugging Face config.json against the declared models.</summary>
public sealed record TransformerShape(int Layers, int Heads, int Width, int Context, int MlpRatio, bool Bias, bool TiedHead, bool ExactGelu = false);

/// <summary>Training defaults declared with [TrainingRecipe]; the CLI's options override them.</summary>
public sealed record TrainingRecipe(
    OptimizerKind Optimizer, double LearningRate, int Batch, int Steps,
    int DecayStep, double DecayFactor, double WeightDecay, int EvalInterval,
    ScheduleKind Schedule = ScheduleKind.Step, int Warmup = 0, double MinLearningRate = 0,
    double Beta2 = 0.999, double GradClip = 0, double Dropout = 0);

/// <summary>
/// What the CLI knows about a declared model without building one: the generator emits one of these per
/// model into a registry, so listing and constructing models needs no reflection.
/// </summary>
/// <param name="SequenceTargets">True when every input position has a target (transformers); false when one target follows the window.</param>
/// <param name="Describe">The layout for a vocabulary size and a largest batch (no memory allocated).</param>
/// <param name="Create">Builds the model for a vocabulary size and a largest batch.</param>
public sealed record ModelInfo(
    string Name,
    string Description,
    int Context,
    DataLayout Data,
    bool SequenceTargets,
    bool FitsByCounting,
    TrainingRecipe Recipe,
    Func<int, int, ModelLayout> Describe,
    Func<int, int, LanguageModel> Create,
    TransformerShape? Transformer = null)
{
    /// <summary>Parameter count for a vocabulary size .</summary>
    public long ParameterCount(int vocabSize) => Describe(vocabSize, 1).ParameterCount;

    /// <summary>
    /// The largest batch up to <paramref name="wanted"/> whose activations fit one arena (a transformer's
    /// attention maps grow with batch x context^2), halving from <paramref name="wanted"/>; at least 1.
    /// </summary>
    public int FittingBatch(int vocabSize, int wanted)
    {
        for (int batch = Math.Max(1, wanted); batch > 1; batch /= 2)
        {
            try
            {
                var layout = Describe(vocabSize, batch);
                if ((long)layout.ActivationLength * sizeof(float) <= 2L << 30) return batch; // and at most 2 GiB of activations
            }
            catch (EdgeException) { }
        }
        return 1;
    }
}
