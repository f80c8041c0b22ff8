namespace Edge;

/// <summary>
/// Everything one user of a model changes while it runs, as llama.cpp's llama_context: the activations (laid out for this
/// kind of context by <see cref="ContextLayout"/>), in training the activation and weight gradients, the saved batch and
/// the dropout stream, the active adapters, and when decoding the KV cache. The model's weights are only read, so any
/// number of contexts run on one model at once, on any threads; one context is used by one thread at a time.
///
/// Kinds (<see cref="LanguageModel.CreateInferenceContext"/>, <see cref="LanguageModel.CreateTrainingContext"/>,
/// <see cref="LanguageModel.CreateDecodingContext"/>):
/// inference runs forward passes (<see cref="Forward"/> without training, <see cref="Logits"/>) with activations sharing
/// memory by lifetime; training adds <see cref="Backward"/>; decoding runs <see cref="Prefill"/> and
/// <see cref="DecodeStep"/> against a KV cache, at batch 1.
/// </summary>
public sealed class ModelContext : IModelContext
{
    readonly ContextLayout _layout;
    readonly NativeBuffer _arena;
    readonly NativeBuffer? _gradients;        // activation gradients (training)
    readonly NativeBuffer? _weightGradients;  // the weights' gradients (training, unless frozen)
    readonly int[] _savedInputs, _savedTargets;
    readonly float[]? _logits;                // decoding: the last logits, stable until the next call
    int _lastBatch, _lastLength;
    Rng _dropoutRng;

    internal ModelContext(LanguageModel model, ContextKind kind, int maxBatch, bool weightGradients, bool keepActivations)
    {
        if (maxBatch <= 0) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "the largest batch must be positive");
        Model = model;
        Kind = kind;
        MaxBatch = kind == ContextKind.Decoding ? 1 : maxBatch;
        _layout = ContextLayout.Build(model.Info, model.VocabSize, MaxBatch, kind, keepActivations);
        MemoryCheck.Ensure(_layout.Bytes + (weightGradients ? 4L * model.Layout.WeightLength : 0),
            $"a {kind.ToString().ToLowerInvariant()} context for {model.Name} at batch {MaxBatch}");
        _arena = new NativeBuffer(ToInt(_layout.ArenaLength));
        if (kind == ContextKind.Training)
        {
            _gradients = new NativeBuffer(ToInt(_layout.GradientLength));
            if (weightGradients) _weightGradients = new NativeBuffer(model.Layout.WeightLength);
        }
        _savedInputs = kind == ContextKind.Training ? new int[MaxBatch * model.InputLength] : [];
        _savedTargets = kind == ContextKind.Training ? new int[MaxBatch * model.TargetLength] : [];
        if (kind == ContextKind.Decoding) _logits = new float[model.VocabSize];
        DropoutRate = (float)model.Info.Recipe.Dropout;
        _dropoutRng = new Rng(0xD0D0_0000_0000_0001UL);
    }

    /// <summary>The model this context runs (shared, read-only while the context runs).</summary>
    public LanguageModel Model { get; }
    /// <summary>Inference, training or decoding: which memory this context laid out.</summary>
    public ContextKind Kind { get; }
    /// <summary>The largest batch a pass may have (1 for decoding).</summary>
    public int MaxBatch { get; }
    /// <summary>Bytes of activations (and activation and weight gradients) this context holds.</summary>
    public long MemoryBytes => _layout.Bytes + 4L * (_weightGradients?.Length ?? 0);

    /// <summary>
    /// The LoRA adapters (or other terms on the projections) this context's passes apply; null for the bare base. Switching
    /// them is cheap and touches nothing else.
    /// </summary>
    public ProjectionAdapters? Adapters { get; set; }

    /// <summary>The probability of zeroing an activation in a training pass (0 switches dropout off); the declaration's by default.</summary>
    public float DropoutRate { get; set; }

    /// <summary>The dropout stream; part of a checkpoint's training state so a resumed run drops the same units.</summary>
    public (ulong, ulong, ulong, ulong) DropoutState
    {
        get => _dropoutRng.State;
        set => _dropoutRng = Rng.FromState(value);
    }

    /// <summary>Seeds the dropout stream (a training run's seed).</summary>
    public void SeedDropout(ulong seed) => _dropoutRng = new Rng(seed ^ 0xD0D0_0000_0000_0001UL);

    // ---- training and evaluation ----

    /// <summary>
    /// Runs the model on <paramref name="batch"/> examples of <paramref name="length"/> tokens (default: the full context)
    /// and returns the mean cross-entropy loss. inputs: [batch, length] token ids; targets: [batch, 1] for window models,
    /// [batch, length] for sequence models (<see cref="Kernels.SoftmaxCrossEntropy.IgnoredTarget"/> is not scored). With
    /// <paramref name="training"/> (training contexts), dropout is applied and what <see cref="Backward"/> needs is kept.
    /// </summary>
    public float Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batch, int length = 0, bool training = false)
    {
        if (Kind == ContextKind.Decoding) throw new InvalidOperationException("a decoding context runs Prefill and DecodeStep; use an inference context for losses");
        if (training && Kind != ContextKind.Training) throw new InvalidOperationException("a training pass needs a training context (CreateTrainingContext)");
        length = ContextArguments.Batch(Model, MaxBatch, inputs, batch, length);
        int targetCount = batch * (Model.IsSequenceModel ? length : 1);
        if (targets.Length < targetCount)
            throw new ArgumentException($"targets: expected {targetCount} ids, got {targets.Length}");
        ContextArguments.Tokens(Model, targets[..targetCount], "target", allowIgnored: true);
        if (Kind == ContextKind.Training)
        {
            inputs[..(batch * length)].CopyTo(_savedInputs);
            targets[..targetCount].CopyTo(_savedTargets);
            _lastBatch = batch;
            _lastLength = length;
        }
        TrainingPass = training;
        Dropped = training && DropoutRate > 0f;
        try { return Model.RunForward(this, inputs[..(batch * length)], targets[..targetCount], batch, length, Dropped); }
        finally { TrainingPass = false; }
    }

    /// <summary>
    /// Adds the gradient of the last training <see cref="Forward"/>'s loss to <see cref="WeightGradients"/> (zero them first
    /// with <see cref="ZeroWeightGradients"/>; several calls accumulate) and to the active adapters' gradients.
    /// </summary>
    public void Backward()
    {
        if (Kind != ContextKind.Training) throw new InvalidOperationException("Backward needs a training context (CreateTrainingContext)");
        if (_lastBatch == 0) throw new InvalidOperationException("Backward needs a Forward with targets first");
        ClearActivationGradients(_lastBatch, _lastLength);
        Model.RunBackward(this, _lastBatch, _lastLength);
    }

    /// <summary>
    /// Logits for inputs [batch, length]: [batch, V] for window models, [batch, length, V] for sequence models. No loss,
    /// no dropout, no gradients. Valid until this context's next pass.
    /// </summary>
    public ReadOnlySpan<float> Logits(ReadOnlySpan<int> inputs, int batch, int length = 0)
    {
        if (Kind == ContextKind.Decoding) throw new InvalidOperationException("a decoding context runs Prefill and DecodeStep; use an inference context for Logits");
        length = ContextArguments.Batch(Model, MaxBatch, inputs, batch, length);
        _lastBatch = 0;
        return Model.RunLogits(this, inputs[..(batch * length)], batch, length);
    }

    /// <summary>The weights' gradients, laid out like the weights (training contexts that train the weights).</summary>
    public Span<float> WeightGradients => (_weightGradients ?? throw new InvalidOperationException(
        Kind == ContextKind.Training ? $"the weights of {Model.Name} are frozen in this context: only adapters train" : "only a training context has gradients")).Span;

    /// <summary>True in a training context whose weights train (not frozen for adapter training).</summary>
    public bool HasWeightGradients => _weightGradients is not null;

    /// <summary>Clears <see cref="WeightGradients"/> (backward passes accumulate into them).</summary>
    public void ZeroWeightGradients() => Kernels.VectorMath.Zero(WeightGradients);

    /// <summary>
    /// The first <paramref name="length"/> values of the named activation as the last pass left them, read-only: e.g. a
    /// transformer's attention probabilities "h.0.attn.att" [B, H, T, T] (held by training contexts and inference contexts
    /// that keep their activations).
    /// </summary>
    public ReadOnlySpan<float> ActivationValues(string name, int length)
    {
        var slots = Model.Info.Slots;
        for (int i = 0; i < slots.Count; i++)
        {
            if (slots[i].Name != name) continue;
            int held = _layout.Lengths[i];
            if (held == 0) throw new EdgeException($"this {Kind.ToString().ToLowerInvariant()} context of {Model.Name} does not keep '{name}'");
            if (length < 0 || length > held) throw new EdgeException($"activation '{name}' of {Model.Name} holds {held} values, {length} were asked for");
            return _arena.Span.Slice(_layout.Offsets[i], length);
        }
        throw new EdgeException($"{Model.Name} has no activation named '{name}'");
    }

    // ---- decoding ----

    /// <summary>Positions held in the KV cache: the next <see cref="DecodeStep"/> writes this one.</summary>
    public int CachedPositions { get; private set; }

    /// <summary>
    /// Starts decoding: one batched pass over the prompt (1..Context tokens) that fills the KV cache. Returns the logits [V]
    /// for the token after the prompt (valid until this context's next call).
    /// </summary>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> prompt)
    {
        ContextArguments.Prefill(Model, Kind, prompt.Length);
        CachedPositions = 0;
        return Decode(prompt);
    }

    /// <summary>
    /// Appends tokens after those in the cache (a chat's next line) in one pass and returns the logits [V] after the last.
    /// Throws when they do not fit in the context.
    /// </summary>
    public ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens)
    {
        ContextArguments.Append(Model, Kind, CachedPositions, tokens.Length);
        return Decode(tokens);
    }

    /// <summary>
    /// Feeds one token at the next position and returns the logits [V] for the token after it; costs one position, not the
    /// whole context. Throws when the cache is full (the caller slides the window and prefills again).
    /// </summary>
    public ReadOnlySpan<float> DecodeStep(int token)
    {
        ContextArguments.DecodeStep(Model, Kind, CachedPositions);
        return Decode(new ReadOnlySpan<int>(in token));
    }

    ReadOnlySpan<float> Decode(scoped ReadOnlySpan<int> tokens)
    {
        ContextArguments.Tokens(Model, tokens, "input");
        var logits = Model.RunDecode(this, tokens, CachedPositions);
        CachedPositions += tokens.Length;
        logits.CopyTo(_logits);
        return _logits;
    }


    // ---- what generated code reads ----

    /// <summary>An activation slot's first <paramref name="length"/> floats; empty when this kind of context does not hold the slot.</summary>
    public Span<float> A(int slot, int length)
    {
        int held = _layout.Lengths[slot];
        if (held == 0) return default;
        if ((uint)length > (uint)held) throw new ArgumentOutOfRangeException(nameof(length), $"slot '{Model.Info.Slots[slot].Name}' holds {held} floats, {length} were asked for");
        return _arena.Span.Slice(_layout.Offsets[slot], length);
    }

    /// <summary>The gradient of an activation slot.</summary>
    public Span<float> D(int slot, int length) => _gradients!.Span.Slice(_layout.GradientOffsets[slot], length);

    /// <summary>A parameter's gradient; empty when the weights are frozen (kernels then skip it).</summary>
    public Span<float> G(int parameter, int length) =>
        _weightGradients is null ? default : _weightGradients.Span.Slice(Model.Layout.Parameters[parameter].Offset, length);

    /// <summary>The last training batch's inputs [B, T] and targets, for the backward pass.</summary>
    public ReadOnlySpan<int> SavedInputs => _savedInputs.AsSpan(0, _lastBatch * (Model.IsSequenceModel ? _lastLength : Model.InputLength));
    /// <summary>The last training batch's targets: [B, T] for sequence models, [B] for window models.</summary>
    public ReadOnlySpan<int> SavedTargets => _savedTargets.AsSpan(0, _lastBatch * (Model.IsSequenceModel ? _lastLength : 1));

    /// <summary>The dropout random stream of this context (seeded by the trainer).</summary>
    public ref Rng DropoutRng => ref _dropoutRng;

    /// <summary>Whether the last forward pass applied dropout (its backward applies the same masks).</summary>
    public bool Dropped { get; private set; }

    /// <summary>True during a training forward pass (adapters apply their dropout and keep what their backward needs).</summary>
    public bool TrainingPass { get; private set; }

    /// <summary>Zeroes the gradients of the slots a batch of B x T uses (backward kernels accumulate into them).</summary>
    void ClearActivationGradients(int batch, int length)
    {
        var slots = Model.Info.Slots;
        var g = _gradients!.Span;
        for (int i = 0; i < slots.Count; i++)
        {
            int at = _layout.GradientOffsets[i];
            if (at >= 0) Kernels.VectorMath.Zero(g.Slice(at, (int)slots[i].Length(batch, length, Model.Info.Context, Model.VocabSize)));
        }
    }



    static int ToInt(long floats) => floats <= int.MaxValue ? (int)floats : throw new EdgeException($"{floats:N0} floats do not fit in one buffer");

    /// <summary>Frees this context's activations, gradients and cache (the model stays).</summary>
    public void Dispose()
    {
        _arena.Dispose();
        _gradients?.Dispose();
        _weightGradients?.Dispose();
    }
}
