namespace Edge.Training;

/// <summary>
/// What a trainer optimises: values, their gradients (same layout) and the tensors in them (name, offset, length, whether
/// weight decay applies). A model's weights are one (<see cref="ModelWeights"/>); a LoRA adapter is another, with the
/// base frozen. The optimiser's state (AdamW's moments) has the same layout and lives in the optimiser.
/// </summary>
public interface IParameterSet
{
    Span<float> Values { get; }
    Span<float> Gradients { get; }
    IReadOnlyList<ParameterInfo> Tensors { get; }
    void ZeroGradients();
}

/// <summary>A model's weights with the gradients a training context computes for them.</summary>
public sealed class ModelWeights(ModelContext context) : IParameterSet
{
    public Span<float> Values => context.Model.Weights;
    public Span<float> Gradients => context.WeightGradients;
    public IReadOnlyList<ParameterInfo> Tensors => context.Model.Parameters;
    public void ZeroGradients() => context.ZeroWeightGradients();
}
