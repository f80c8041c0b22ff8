using Edge.Training;

namespace Edge.Lora;

/// <summary>
/// Setting up the one training loop (<see cref="Trainer"/>) for a LoRA adapter: the adapter is the parameter set, the
/// base's context is a training context with frozen weights (activation gradients only), and its adapters are a set
/// holding just this adapter, switched on.
/// </summary>
public static class AdapterTraining
{
    /// <summary>The warm-up a run of <paramref name="steps"/> uses: <paramref name="warmup"/>, or a tenth of a run too short for it.</summary>
    public static int Warmup(int steps, int warmup) => Math.Min(warmup, steps / 10);

    /// <summary>A trainer of <paramref name="adapter"/> on <paramref name="data"/> in <paramref name="context"/> (see the class summary).</summary>
    public static Trainer Create(ModelContext context, LoraAdapter adapter, LoraData data, TrainOptions options)
    {
        if (!context.Model.IsSequenceModel) throw new EdgeException($"{context.Model.Name} is not a transformer: LoRA targets the projections of transformer blocks");
        if (context.Kind != ContextKind.Training || context.HasWeightGradients)
            throw new ArgumentException("adapter training runs in a training context with frozen weights (CreateTrainingContext(batch, frozenWeights: true))", nameof(context));
        if (data.Length > context.Model.InputLength) throw new ArgumentException($"examples of {data.Length} tokens exceed the context {context.Model.InputLength}");
        adapter.EnableTraining(options.Batch * data.Length);
        var set = new AdapterSet(context.Model.Layout, [adapter]);
        set.Activate(0);
        context.Adapters = set;
        return new Trainer(context, data.Train, data.Val, options, adapter);
    }
}
