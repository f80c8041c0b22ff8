using Edge.Data;
using Edge.Training;

namespace Edge;

/// <summary>
/// The base of every generated model. It owns the memory (weights, and gradients only once training is
/// enabled, so an inference-only model carries no gradient memory) and checks the arguments of the public
/// entry points once per call; the generated subclass supplies the layer-by-layer code in the *Core methods,
/// which run on pre-validated spans and allocate nothing.
/// </summary>
public abstract class LanguageModel : IDisposable
{
    readonly NativeBuffer _weights;
    readonly NativeBuffer _activations;
    NativeBuffer? _gradients;
    NativeBuffer? _activationGradients;
    readonly int[] _savedInputs, _savedTargets;
    int _lastBatch;

    protected LanguageModel(ModelLayout layout)
    {
        Layout = layout;
        _weights = new NativeBuffer(layout.WeightLength);
        _activations = new NativeBuffer(layout.ActivationLength);
        _savedInputs = new int[layout.MaxBatch * layout.InputLength];
        _savedTargets = new int[layout.MaxBatch * layout.TargetLength];
    }

    public ModelLayout Layout { get; }
    public abstract ModelInfo Info { get; }
    public string Name => Layout.ModelName;
    public int VocabSize => Layout.VocabSize;
    public int MaxBatch => Layout.MaxBatch;
    public int InputLength => Layout.InputLength;
    public int TargetLength => Layout.TargetLength;
    public IReadOnlyList<ParameterInfo> Parameters => Layout.Parameters;
    public long ParameterCount => Layout.ParameterCount;

    /// <summary>All parameters, laid out as <see cref="Parameters"/> says.</summary>
    public Span<float> Weights => _weights.Span;

    /// <summary>Parameter gradients, same layout as <see cref="Weights"/>; only after <see cref="EnableTraining"/>.</summary>
    public Span<float> Gradients => (_gradients ?? throw new InvalidOperationException("call EnableTraining before Backward")).Span;

    public bool TrainingEnabled => _gradients is not null;

    /// <summary>The activation arena: generated code slices it by the offsets in <see cref="Layout"/>.</summary>
    protected Span<float> Activations => _activations.Span;
    protected Span<float> ActivationGradients => _activationGradients!.Span;

    /// <summary>The last training batch's inputs [B, InputLength] and targets [B, TargetLength], for Backward.</summary>
    protected ReadOnlySpan<int> SavedInputs => _savedInputs.AsSpan(0, _lastBatch * InputLength);
    protected ReadOnlySpan<int> SavedTargets => _savedTargets.AsSpan(0, _lastBatch * TargetLength);

    /// <summary>Allocates gradient memory (once). Models used only for generation never call this.</summary>
    public void EnableTraining()
    {
        _gradients ??= new NativeBuffer(Layout.WeightLength);
        _activationGradients ??= new NativeBuffer(Layout.ActivationLength);
    }

    /// <summary>Fresh random weights, the same for the same seed.</summary>
    public void Initialize(ulong seed)
    {
        var rng = new Rng(seed);
        Weights.Clear();
        InitializeCore(ref rng);
    }

    /// <summary>
    /// Runs the model on <paramref name="batch"/> examples and returns the mean cross-entropy loss.
    /// inputs: [batch, InputLength] token ids; targets: [batch, TargetLength]. Keeps the activations that
    /// <see cref="Backward"/> needs.
    /// </summary>
    public float Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batch)
    {
        CheckBatch(inputs, batch);
        if (targets.Length < batch * TargetLength)
            throw new ArgumentException($"targets: expected {batch * TargetLength} ids, got {targets.Length}");
        CheckTokens(targets[..(batch * TargetLength)], "target");
        inputs[..(batch * InputLength)].CopyTo(_savedInputs);
        targets[..(batch * TargetLength)].CopyTo(_savedTargets);
        _lastBatch = batch;
        return ForwardCore(inputs, targets, batch);
    }

    /// <summary>
    /// Adds the gradient of the last <see cref="Forward"/>'s loss to <see cref="Gradients"/> (zero them first
    /// with <see cref="ZeroGradients"/>; accumulating over several calls is gradient accumulation).
    /// </summary>
    public void Backward()
    {
        if (_lastBatch == 0) throw new InvalidOperationException("Backward needs a Forward with targets first");
        _ = Gradients;
        ActivationGradients.Clear();
        BackwardCore(_lastBatch);
    }

    public void ZeroGradients() => Gradients.Clear();

    /// <summary>Logits [batch, TargetLength, V] for inputs [batch, InputLength]; no loss, no gradients.</summary>
    public ReadOnlySpan<float> Logits(ReadOnlySpan<int> inputs, int batch)
    {
        CheckBatch(inputs, batch);
        _lastBatch = 0;
        return LogitsCore(inputs, batch);
    }

    /// <summary>Applies one optimiser update to every parameter from <see cref="Gradients"/>.</summary>
    public void Step(Optimizer optimizer)
    {
        optimizer.Begin(this);
        StepCore(optimizer);
    }

    /// <summary>Whether this model is fitted by counting (the counting bigram) instead of by gradient descent.</summary>
    public virtual bool FitsByCounting => false;

    /// <summary>Fits a counting model to the examples in one pass.</summary>
    public virtual void FitCounts(ExampleSet examples) =>
        throw new InvalidOperationException($"{Name} is trained by gradient descent, not by counting");

    protected abstract void InitializeCore(ref Rng rng);
    protected abstract float ForwardCore(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batch);
    protected abstract void BackwardCore(int batch);
    protected abstract ReadOnlySpan<float> LogitsCore(ReadOnlySpan<int> inputs, int batch);
    protected abstract void StepCore(Optimizer optimizer);

    void CheckBatch(ReadOnlySpan<int> inputs, int batch)
    {
        if (batch <= 0 || batch > MaxBatch)
            throw new ArgumentOutOfRangeException(nameof(batch), $"batch must be in 1..{MaxBatch}, got {batch}");
        if (inputs.Length < batch * InputLength)
            throw new ArgumentException($"inputs: expected {batch * InputLength} ids, got {inputs.Length}");
        CheckTokens(inputs[..(batch * InputLength)], "input");
    }

    void CheckTokens(ReadOnlySpan<int> ids, string what)
    {
        foreach (var id in ids)
            if ((uint)id >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(what, $"{what} token id {id} is outside the vocabulary (size {VocabSize})");
    }

    public void Dispose()
    {
        _weights.Dispose();
        _activations.Dispose();
        _gradients?.Dispose();
        _activationGradients?.Dispose();
        GC.SuppressFinalize(this);
    }
}
