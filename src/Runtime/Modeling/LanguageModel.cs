using Edge.Data;
using Edge.Quantization;
using Edge.Training;

namespace Edge;

/// <summary>
/// The base of every generated model. It owns the memory (weights, and gradients only once training is
/// enabled, so an inference-only model carries no gradient memory) and checks the arguments of the public
/// entry points once per call; the generated subclass supplies the layer-by-layer code in the *Core methods,
/// which run on pre-validated spans and allocate nothing.
///
/// Shapes: a call sees <c>batch</c> examples of <c>length</c> tokens. Window models (MLPs, bigram) always
/// take <see cref="InputLength"/> tokens and predict one target; sequence models (transformers) take
/// 1..<see cref="InputLength"/> tokens and predict a target at every position.
/// </summary>
public abstract unsafe class LanguageModel : IDisposable
{
    NativeBuffer? _ownedWeights;
    float* _weights;
    IDisposable? _mapping;
    readonly NativeBuffer _activations;
    NativeBuffer? _gradients;
    NativeBuffer? _activationGradients;
    readonly int[] _savedInputs, _savedTargets;
    int _lastBatch, _lastLength;
    bool _trainingPass, _baseFrozen;
    Rng _dropoutRng = new(0);
    DecodeSession? _session;
    // Per projection site: whether its weight is stored [out, in] (a tied head), read once per product.
    readonly bool[] _transposedSites;
    // The model's arena is shared by every session's prompt pass: one at a time.
    readonly object _arenaLock = new();
    // Quantised weights (null: all fp32): per parameter, and per projection site for the hot path; their bytes
    // live in _quantizedOwner (the mapped file). The fp32 slices of those parameters stay unused (and unwritten,
    // so their zero pages are never made resident).
    QuantizedMatrix?[]? _quantizedParameters, _quantizedSites;
    IDisposable? _quantizedOwner;

    protected LanguageModel(ModelLayout layout)
    {
        Layout = layout;
        _ownedWeights = new NativeBuffer(layout.WeightLength);
        _weights = _ownedWeights.Pointer;
        _activations = new NativeBuffer(layout.ActivationLength);
        _savedInputs = new int[layout.MaxBatch * layout.InputLength];
        _savedTargets = new int[layout.MaxBatch * layout.TargetLength];
        _transposedSites = layout.Projections.Select(p => p.Transposed).ToArray();
    }

    public ModelLayout Layout { get; }
    public abstract ModelInfo Info { get; }
    public string Name => Layout.ModelName;
    public int VocabSize => Layout.VocabSize;
    public int MaxBatch => Layout.MaxBatch;
    /// <summary>Tokens per example (the context); sequence models accept fewer.</summary>
    public int InputLength => Layout.InputLength;
    /// <summary>Targets per example at full length: 1 for window models, the context for sequence models.</summary>
    public int TargetLength => Layout.TargetLength;
    public bool IsSequenceModel => Info.SequenceTargets;
    public IReadOnlyList<ParameterInfo> Parameters => Layout.Parameters;
    public long ParameterCount => Layout.ParameterCount;

    /// <summary>The probability of zeroing an activation in training (0 switches dropout off); evaluation never drops.</summary>
    public float DropoutRate { get; set; }

    /// <summary>The dropout stream; part of a checkpoint's training state so a resumed run drops the same units.</summary>
    public (ulong, ulong, ulong, ulong) DropoutState
    {
        get => _dropoutRng.State;
        set => _dropoutRng = Rng.FromState(value);
    }

    /// <summary>All parameters, laid out as <see cref="Parameters"/> says.</summary>
    public Span<float> Weights => new(_weights, Layout.WeightLength);

    /// <summary>True when the weights are a read-only view of a checkpoint file (nothing may write them).</summary>
    public bool WeightsAreMapped => _mapping is not null;

    /// <summary>
    /// Uses <paramref name="weights"/> (Layout.WeightLength floats inside a read-only mapping that
    /// <paramref name="owner"/> keeps alive) as the weight buffer: no copy, and pages load on first use.
    /// </summary>
    internal void MapWeights(float* weights, IDisposable owner)
    {
        _ownedWeights?.Dispose();
        _ownedWeights = null;
        _weights = weights;
        _mapping = owner;
    }

    void CheckWritable(string what)
    {
        if (WeightsAreMapped)
            throw new InvalidOperationException($"{what}: the weights of {Name} are memory-mapped read-only from a checkpoint; load a copy to change them");
    }

    /// <summary>Parameter gradients, same layout as <see cref="Weights"/>; only after <see cref="EnableTraining"/>.</summary>
    public Span<float> Gradients => (_gradients ?? throw new InvalidOperationException(
        _baseFrozen ? $"the weights of {Name} are frozen: only adapters are trained" : "call EnableTraining before Backward")).Span;

    public bool TrainingEnabled => _gradients is not null;

    /// <summary>
    /// True after <see cref="EnableAdapterTraining"/>: Backward computes input gradients (for adapters) but no
    /// weight gradients, and the model has no gradient or optimiser memory; the weights may be mapped read-only.
    /// </summary>
    public bool BaseFrozen => _baseFrozen;

    /// <summary>
    /// The LoRA adapters (or other terms on the projections) that <see cref="Forward"/>, <see cref="Logits"/>,
    /// <see cref="Backward"/> and the model's own <see cref="Prefill"/>/<see cref="DecodeStep"/> apply; null for
    /// the bare base. A <see cref="DecodeSession"/> carries its own set.
    /// </summary>
    public ProjectionAdapters? ActiveAdapters { get; set; }

    /// <summary>A parameter's slice of the gradients, or an empty span while the base is frozen (kernels then skip it).</summary>
    protected Span<float> Grad(int offset, int length) => _baseFrozen ? default : Gradients.Slice(offset, length);

    /// <summary>
    /// The projection hook that generated code calls for every weight-matrix product (site = index in
    /// <see cref="ModelLayout.Projections"/>): y [rows, m] = x [rows, n] @ W + b, W stored [n, m] or, for a head
    /// tied to the embedding, [m, n]; then each active adapter adds its term for this site.
    /// </summary>
    protected void Project(int site, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y,
        int rows, int n, int m, ProjectionAdapters? adapters)
    {
        if (_quantizedSites?[site] is { } q) Kernels.QuantizedLinear.Forward(x, q, b, y, rows, n, m);
        else if (_transposedSites[site]) Kernels.LinearRows.Forward(x, w, b, y, rows, n, m);
        else Kernels.Linear.Forward(x, w, b, y, rows, n, m);
        adapters?.Forward(site, x, y, rows, _trainingPass);
    }

    /// <summary>
    /// Embedding rows: y [count, dim] = table[tokens[k]] for the table at parameter <paramref name="parameter"/>
    /// (fp32, or dequantised row by row when the table is quantised: a head tied to the embedding).
    /// </summary>
    protected void Embed(int parameter, ReadOnlySpan<int> tokens, ReadOnlySpan<float> table, Span<float> y, int count, int dim)
    {
        if (_quantizedParameters?[parameter] is not { } q)
        {
            Kernels.Embedding.Forward(tokens, table, y, count, dim);
            return;
        }
        for (int k = 0; k < count; k++) q.DequantizeRow(tokens[k], y.Slice(k * dim, dim));
    }

    /// <summary>For a quantised model: the base fingerprint of the fp32 model it was quantised from (see Lora.BaseFingerprint).</summary>
    public string? QuantizedFromFingerprint { get; internal set; }

    /// <summary>True when some weights are quantised (generation and evaluation only: nothing can train them).</summary>
    public bool IsQuantized => _quantizedParameters is not null;

    /// <summary>The quantised form of a parameter, or null when it is fp32.</summary>
    public QuantizedMatrix? QuantizedWeight(string name)
    {
        if (_quantizedParameters is null) return null;
        for (int i = 0; i < Layout.Parameters.Count; i++)
            if (Layout.Parameters[i].Name == name) return _quantizedParameters[i];
        return null;
    }

    /// <summary>
    /// Uses quantised matrices (per parameter index; null entries stay fp32) for the products that read them;
    /// <paramref name="owner"/> keeps their bytes alive and is disposed with the model. Each must be the weight of
    /// projection sites only, stored [site Out, site In].
    /// </summary>
    internal void AttachQuantized(QuantizedMatrix?[] byParameter, IDisposable owner)
    {
        if (byParameter.Length != Layout.Parameters.Count) throw new ArgumentException("one entry per parameter", nameof(byParameter));
        if (_gradients is not null || _baseFrozen) throw new InvalidOperationException($"{Name} is set up for training; quantised weights cannot be trained");
        var sites = new QuantizedMatrix?[Layout.Projections.Count];
        for (int i = 0; i < byParameter.Length; i++)
        {
            if (byParameter[i] is not { } q) continue;
            var p = Layout.Parameters[i];
            bool used = false;
            foreach (var site in Layout.Projections)
            {
                if (site.Weight != p) continue;
                if (q.Rows != site.Out || q.Cols != site.In)
                    throw new EdgeException($"{Name}: quantised '{p.Name}' is [{q.Rows}, {q.Cols}], the product '{site.Name}' needs [{site.Out}, {site.In}] (out, in)");
                sites[site.Index] = q;
                used = true;
            }
            if (!used) throw new EdgeException($"{Name}: '{p.Name}' is not the weight of a matrix product, so it cannot be quantised");
        }
        _quantizedOwner?.Dispose();
        _quantizedParameters = byParameter;
        _quantizedSites = sites;
        _quantizedOwner = owner;
    }

    /// <summary>
    /// The backward of <see cref="Project"/>: dx += dy W^T, dW and db (empty while the base is frozen), and the
    /// active adapters' own gradients and their share of dx.
    /// </summary>
    protected void ProjectBackward(int site, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> db, int rows, int n, int m)
    {
        if (_quantizedSites?[site] is not null)
            throw new InvalidOperationException($"{Name}: '{Layout.Projections[site].Name}' has quantised weights, which have no backward pass");
        if (_transposedSites[site]) Kernels.LinearRows.Backward(x, w, dy, dx, dw, db, rows, n, m);
        else Kernels.Linear.Backward(x, w, dy, dx, dw, db, rows, n, m);
        ActiveAdapters?.Backward(site, x, dy, dx, rows);
    }

    /// <summary>The activation arena: generated code slices it by the offsets in <see cref="Layout"/>.</summary>
    protected Span<float> Activations => _activations.Span;
    protected Span<float> ActivationGradients => _activationGradients!.Span;

    /// <summary>
    /// The first <paramref name="length"/> values of the named activation (as the last forward pass left them),
    /// read-only: e.g. a transformer's attention probabilities "h.0.attn.att" [B, H, T, T].
    /// </summary>
    public ReadOnlySpan<float> ActivationValues(string name, int length)
    {
        foreach (var a in Layout.Activations)
            if (a.Name == name)
            {
                if (length < 0 || length > a.Length)
                    throw new EdgeException($"activation '{name}' of {Name} holds {a.Length} values, {length} were asked for");
                return Activations.Slice(a.Offset, length);
            }
        throw new EdgeException($"{Name} has no activation named '{name}'");
    }
    protected ref Rng DropoutRng => ref _dropoutRng;

    /// <summary>The last training batch's inputs [B, T] and targets, for Backward.</summary>
    protected ReadOnlySpan<int> SavedInputs => _savedInputs.AsSpan(0, _lastBatch * (IsSequenceModel ? _lastLength : InputLength));
    protected ReadOnlySpan<int> SavedTargets => _savedTargets.AsSpan(0, _lastBatch * (IsSequenceModel ? _lastLength : 1));

    /// <summary>Allocates gradient memory (once). Models used only for generation never call this.</summary>
    public void EnableTraining()
    {
        CheckWritable("training");
        if (IsQuantized) throw new InvalidOperationException($"{Name} has quantised weights, which cannot be trained");
        if (_baseFrozen) throw new InvalidOperationException($"the weights of {Name} are frozen for adapter training");
        _gradients ??= new NativeBuffer(Layout.WeightLength);
        _activationGradients ??= new NativeBuffer(Layout.ActivationLength);
    }

    /// <summary>
    /// Prepares training of adapters on a frozen base: activation gradients only (the backward pass reaches the
    /// adapters through them); no weight gradients or optimiser state, and the weights may stay memory-mapped.
    /// </summary>
    public void EnableAdapterTraining()
    {
        if (_gradients is not null) throw new InvalidOperationException($"{Name} is already set up for full training");
        if (IsQuantized) throw new InvalidOperationException($"{Name} has quantised weights: train adapters on the fp32 base, then use them on the quantised one");
        _baseFrozen = true;
        _activationGradients ??= new NativeBuffer(Layout.ActivationLength);
    }

    /// <summary>Fresh random weights (and dropout stream), the same for the same seed.</summary>
    public void Initialize(ulong seed)
    {
        CheckWritable("initialising");
        var rng = new Rng(seed);
        Weights.Clear();
        InitializeCore(ref rng);
        _dropoutRng = new Rng(seed ^ 0xD0D0_0000_0000_0001UL);
    }

    /// <summary>
    /// Runs the model on <paramref name="batch"/> examples of <paramref name="length"/> tokens (default: the
    /// full context) and returns the mean cross-entropy loss. inputs: [batch, length] token ids; targets:
    /// [batch, 1] for window models, [batch, length] for sequence models. With <paramref name="training"/>,
    /// dropout is applied and the activations that <see cref="Backward"/> needs are kept.
    /// </summary>
    public float Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batch, int length = 0, bool training = false)
    {
        length = CheckBatch(inputs, batch, length);
        int targetCount = batch * (IsSequenceModel ? length : 1);
        if (targets.Length < targetCount)
            throw new ArgumentException($"targets: expected {targetCount} ids, got {targets.Length}");
        CheckTokens(targets[..targetCount], "target", allowIgnored: true);
        inputs[..(batch * length)].CopyTo(_savedInputs);
        targets[..targetCount].CopyTo(_savedTargets);
        _lastBatch = batch;
        _lastLength = length;
        _trainingPass = training;
        try { return ForwardCore(inputs[..(batch * length)], targets[..targetCount], batch, length, training && DropoutRate > 0f); }
        finally { _trainingPass = false; }
    }

    /// <summary>
    /// Adds the gradient of the last <see cref="Forward"/>'s loss to <see cref="Gradients"/> (zero them first
    /// with <see cref="ZeroGradients"/>; accumulating over several calls is gradient accumulation).
    /// </summary>
    public void Backward()
    {
        if (_lastBatch == 0) throw new InvalidOperationException("Backward needs a Forward with targets first");
        if (!_baseFrozen) _ = Gradients;
        else if (_activationGradients is null) throw new InvalidOperationException("call EnableAdapterTraining before Backward");
        BackwardCore(_lastBatch, _lastLength); // clears the activation gradients it uses first
    }

    public void ZeroGradients() => Gradients.Clear();

    /// <summary>
    /// Logits for inputs [batch, length]: [batch, V] for window models, [batch, length, V] for sequence
    /// models. No loss, no dropout, no gradients.
    /// </summary>
    public ReadOnlySpan<float> Logits(ReadOnlySpan<int> inputs, int batch, int length = 0)
    {
        length = CheckBatch(inputs, batch, length);
        _lastBatch = 0;
        return LogitsCore(inputs[..(batch * length)], batch, length);
    }

    /// <summary>The model's own decoding session, behind <see cref="Prefill"/> and <see cref="DecodeStep"/>.</summary>
    DecodeSession DefaultSession => _session ??= new DecodeSession(this, shareAdapters: true);

    /// <summary>Positions held in the model's own KV cache: the next <see cref="DecodeStep"/> writes this one.</summary>
    public int CachedPositions => _session?.CachedPositions ?? 0;

    /// <summary>
    /// Starts incremental decoding in the model's own session (see <see cref="DecodeSession.Prefill"/>); for
    /// several generations at once, give each its own <see cref="CreateSession"/>.
    /// </summary>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> prompt) => DefaultSession.Prefill(prompt);

    /// <summary>Feeds one token to the model's own session (see <see cref="DecodeSession.DecodeStep"/>).</summary>
    public ReadOnlySpan<float> DecodeStep(int token) => DefaultSession.DecodeStep(token);

    /// <summary>
    /// A new decoding session: its own KV cache, activations and set of active adapters, so sessions on one model
    /// generate side by side on different threads (the batched prompt pass is taken one session at a time).
    /// </summary>
    public DecodeSession CreateSession()
    {
        if (!IsSequenceModel) throw new InvalidOperationException($"{Name} has no KV cache: it reads a fixed window (use Logits)");
        return new DecodeSession(this, shareAdapters: false);
    }

    /// <summary>Runs the batched prompt pass and fills <paramref name="cache"/>: the logits [V] after the prompt, copied to <paramref name="logits"/>.</summary>
    internal void PrefillSession(Span<float> cache, ReadOnlySpan<int> prompt, ProjectionAdapters? adapters, Span<float> logits)
    {
        lock (_arenaLock)
        {
            var saved = ActiveAdapters;
            ActiveAdapters = adapters;
            try
            {
                var all = Logits(prompt, 1, prompt.Length);
                PrefillCacheCore(cache, prompt.Length);
                all[^VocabSize..].CopyTo(logits);
            }
            finally { ActiveAdapters = saved; }
        }
    }

    internal ReadOnlySpan<float> DecodeSessionStep(Span<float> cache, ProjectionAdapters? adapters, int token, int position) =>
        DecodeCore(cache, adapters, token, position);

    protected virtual ReadOnlySpan<float> DecodeCore(Span<float> session, ProjectionAdapters? adapters, int token, int position) => throw new NotSupportedException();
    protected virtual void PrefillCacheCore(Span<float> session, int length) => throw new NotSupportedException();

    /// <summary>Applies one optimiser update to every parameter from <see cref="Gradients"/>.</summary>
    public void Step(Optimizer optimizer)
    {
        optimizer.Begin(this);
        StepCore(optimizer);
    }

    /// <summary>Whether this model is fitted by counting (the counting bigram) instead of by gradient descent.</summary>
    public virtual bool FitsByCounting => false;

    /// <summary>Fits a counting model to the examples in one pass.</summary>
    public void FitCounts(ExampleSet examples)
    {
        CheckWritable("fitting");
        if (!FitsByCounting) throw new InvalidOperationException($"{Name} is trained by gradient descent, not by counting");
        FitCountsCore(examples);
    }

    protected virtual void FitCountsCore(ExampleSet examples) => throw new NotSupportedException();

    protected abstract void InitializeCore(ref Rng rng);
    /// <param name="dropout">True when this is a training pass with a non-zero <see cref="DropoutRate"/>.</param>
    protected abstract float ForwardCore(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int length, bool dropout);
    protected abstract void BackwardCore(int batch, int length);
    protected abstract ReadOnlySpan<float> LogitsCore(ReadOnlySpan<int> tokens, int batch, int length);
    protected abstract void StepCore(Optimizer optimizer);

    int CheckBatch(ReadOnlySpan<int> inputs, int batch, int length)
    {
        if (batch <= 0 || batch > MaxBatch)
            throw new ArgumentOutOfRangeException(nameof(batch), $"batch must be in 1..{MaxBatch}, got {batch}");
        if (length == 0) length = InputLength;
        if (IsSequenceModel ? length < 1 || length > InputLength : length != InputLength)
            throw new ArgumentOutOfRangeException(nameof(length),
                IsSequenceModel ? $"length must be in 1..{InputLength}, got {length}" : $"this model reads exactly {InputLength} tokens, got {length}");
        if (inputs.Length < batch * length)
            throw new ArgumentException($"inputs: expected {batch * length} ids, got {inputs.Length}");
        CheckTokens(inputs[..(batch * length)], "input");
        return length;
    }

    /// <param name="allowIgnored">Targets may be <see cref="Kernels.SoftmaxCrossEntropy.IgnoredTarget"/> (not scored).</param>
    void CheckTokens(ReadOnlySpan<int> ids, string what, bool allowIgnored = false)
    {
        foreach (var id in ids)
            if ((uint)id >= (uint)VocabSize && !(allowIgnored && id == Kernels.SoftmaxCrossEntropy.IgnoredTarget))
                throw new ArgumentOutOfRangeException(what, $"{what} token id {id} is outside the vocabulary (size {VocabSize})");
    }

    public void Dispose()
    {
        _ownedWeights?.Dispose();
        _mapping?.Dispose();
        _activations.Dispose();
        _gradients?.Dispose();
        _activationGradients?.Dispose();
        _session?.Dispose();
        _quantizedOwner?.Dispose();
        GC.SuppressFinalize(this);
    }
}
