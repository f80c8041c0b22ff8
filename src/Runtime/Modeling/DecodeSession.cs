namespace Edge;

/// <summary>
/// One generation's decoding state on a shared model: its own arena (the KV cache [Context, C] per layer and one
/// position's activations, laid out by <see cref="ModelLayout.SessionActivations"/>) and its own set of active
/// adapters. The model's weights are only read, so sessions on one model decode concurrently on different
/// threads and each gives exactly what it gives alone; the batched prompt pass (<see cref="Prefill"/>) uses the
/// model's arena and is taken one session at a time.
/// </summary>
public sealed class DecodeSession : IDisposable
{
    readonly LanguageModel _model;
    readonly NativeBuffer _arena;
    readonly float[] _prefillLogits;
    readonly bool _shareAdapters;
    ProjectionAdapters? _adapters;

    internal DecodeSession(LanguageModel model, bool shareAdapters)
    {
        if (!model.IsSequenceModel) throw new InvalidOperationException($"{model.Name} has no KV cache: it reads a fixed window (use Logits)");
        _model = model;
        _shareAdapters = shareAdapters;
        _arena = new NativeBuffer(model.Layout.SessionLength);
        _prefillLogits = new float[model.VocabSize];
    }

    public LanguageModel Model => _model;

    /// <summary>Positions held in the KV cache: the next <see cref="DecodeStep"/> writes this one.</summary>
    public int CachedPositions { get; private set; }

    /// <summary>The adapters this session applies (null: the bare base). The model's own session uses the model's.</summary>
    public ProjectionAdapters? Adapters
    {
        get => _shareAdapters ? _model.ActiveAdapters : _adapters;
        set
        {
            if (_shareAdapters) _model.ActiveAdapters = value;
            else _adapters = value;
        }
    }

    /// <summary>
    /// Starts decoding: one batched pass over the prompt (1..Context tokens) that also fills the KV cache.
    /// Returns the logits [V] for the token after the prompt (valid until this session's next call).
    /// </summary>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> prompt)
    {
        if (prompt.IsEmpty || prompt.Length > _model.InputLength)
            throw new ArgumentOutOfRangeException(nameof(prompt), $"a prompt must have 1..{_model.InputLength} tokens, got {prompt.Length}");
        CachedPositions = 0;
        _model.PrefillSession(_arena.Span, prompt, Adapters, _prefillLogits);
        CachedPositions = prompt.Length;
        return _prefillLogits;
    }

    /// <summary>
    /// Feeds one token at the next position and returns the logits [V] for the token after it; costs one
    /// position, not the whole context. Throws when the cache is full (the caller slides the window and
    /// prefills again).
    /// </summary>
    public ReadOnlySpan<float> DecodeStep(int token)
    {
        if (CachedPositions == 0) throw new InvalidOperationException("call Prefill before DecodeStep");
        if (CachedPositions >= _model.InputLength) throw new InvalidOperationException($"the KV cache is full ({_model.InputLength} positions): prefill a shorter window");
        if ((uint)token >= (uint)_model.VocabSize) throw new ArgumentOutOfRangeException(nameof(token), $"token id {token} is outside the vocabulary (size {_model.VocabSize})");
        var logits = _model.DecodeSessionStep(_arena.Span, Adapters, token, CachedPositions);
        CachedPositions++;
        return logits;
    }

    public void Dispose() => _arena.Dispose();
}
