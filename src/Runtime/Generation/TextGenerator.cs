using Edge.Text;

namespace Edge.Generation;

/// <summary>
/// Generates text one token at a time. Window models (MLPs) always read a full window: a prompt shorter
/// than the window is padded on the left with the start marker (line data) or <see cref="PaddingToken"/>
/// (running text). Sequence models (transformers) decode incrementally: the prompt is processed in one
/// batched pass that fills the KV cache (starting from <see cref="PaddingToken"/> when there is no prompt),
/// then each new token costs one position. When the context is full, the window slides: the last three
/// quarters of the context are kept and prefilled again, and decoding goes on from there. Buffers are
/// allocated once, so producing a token allocates nothing. The generator runs in one context (a decoding context for
/// sequence models, an inference context for window models): its KV cache and its adapters.
/// </summary>
public sealed class TextGenerator
{
    readonly LanguageModel _model;
    readonly IModelContext _context;
    readonly ITokenizer _tokenizer;
    readonly int[] _window;
    readonly Utf8StreamDecoder _utf8 = new();
    readonly char[] _chars; // sized for the longest token
    int _count; // tokens in the window (always full for window models)
    bool _needsPrefill;

    /// <param name="context">
    /// The context to generate in: a decoding context for sequence models (its KV cache and adapters: several generators
    /// share one model through contexts of their own), any context that runs forward passes for window models.
    /// </param>
    public TextGenerator(IModelContext context, ITokenizer tokenizer)
    {
        var model = context.Model;
        if (model.IsSequenceModel && context.Kind != ContextKind.Decoding)
            throw new ArgumentException($"{model.Name} decodes with a KV cache: generate in a decoding context (CreateDecodingContext)", nameof(context));
        if (!model.IsSequenceModel && context.Kind == ContextKind.Decoding)
            throw new ArgumentException($"{model.Name} reads a fixed window: generate in an inference context", nameof(context));
        _context = context;
        if (model.VocabSize != tokenizer.VocabSize)
            throw new EdgeException($"the model has {model.VocabSize} tokens but its tokenizer has {tokenizer.VocabSize}");
        _model = model;
        _tokenizer = tokenizer;
        _window = new int[model.InputLength];
        PaddingToken = tokenizer.StartToken;
        int longest = 0;
        for (int id = 0; id < tokenizer.VocabSize; id++) longest = Math.Max(longest, tokenizer.TokenBytes(id).Length);
        _chars = new char[Utf8StreamDecoder.MaxCharCount(longest)];
    }

    /// <summary>What fills the window before the prompt: the tokenizer's start token (marker, end-of-text, newline).</summary>
    public int PaddingToken { get; }

    /// <summary>Clears the window to padding and appends the prompt's tokens.</summary>
    public void Reset(ReadOnlySpan<int> prompt)
    {
        _window.AsSpan().Fill(PaddingToken);
        _count = _model.IsSequenceModel ? 0 : _window.Length;
        if (_model.IsSequenceModel && prompt.IsEmpty) Push(PaddingToken);
        foreach (var t in prompt) Push(t);
        _needsPrefill = true;
    }

    /// <summary>The tokens the model sees now, oldest first (at most the context).</summary>
    public ReadOnlySpan<int> Window => _window.AsSpan(0, _count);

    /// <summary>Samples the next token, appends it to the window and returns it.</summary>
    public int Next(Sampler sampler)
    {
        ReadOnlySpan<float> logits;
        if (!_model.IsSequenceModel)
            logits = _context.Logits(_window, 1);
        else if (_needsPrefill)
            logits = Prefill(Window);
        else if (_context.CachedPositions >= _window.Length)
        {
            // Context full: keep the newest three quarters and rebuild the cache from them.
            int keep = Math.Max(1, _window.Length - _window.Length / 4);
            _window.AsSpan(_count - keep, keep).CopyTo(_window);
            _count = keep;
            logits = Prefill(Window);
        }
        else
            logits = _context.DecodeStep(_window[_count - 1]);
        _needsPrefill = false;
        FiniteCheck.Logits(logits, _count);
        int token = sampler.Sample(logits, Window);
        Push(token);
        return token;
    }

    ReadOnlySpan<float> Prefill(ReadOnlySpan<int> window) => _context.Prefill(window);

    /// <summary>The context generation runs in.</summary>
    public IModelContext Context => _context;

    void Push(int token)
    {
        if (_count < _window.Length)
        {
            _window[_count++] = token;
            return;
        }
        _window.AsSpan(1).CopyTo(_window);
        _window[^1] = token;
    }

    /// <summary>
    /// Streams up to <paramref name="maxTokens"/> tokens after the prompt to <paramref name="output"/>, as they
    /// are produced, stopping early at <paramref name="stopToken"/> or a stop sequence (neither is written).
    /// <paramref name="cancel"/> ends generation after the current token (Ctrl-C). Returns the tokens produced.
    /// </summary>
    public int Generate(ReadOnlySpan<int> prompt, int maxTokens, Sampler sampler, TextWriter output, int stopToken = -1,
        StopSequences? stops = null, CancellationToken cancel = default)
    {
        Reset(prompt);
        stops?.Reset();
        _utf8.Reset();
        int produced = 0;
        while (produced < maxTokens && !cancel.IsCancellationRequested)
        {
            int token = Next(sampler);
            if (token == stopToken) break;
            produced++;
            // Byte-level tokens may end inside a character: only whole characters are written.
            int n = _utf8.Push(_tokenizer.TokenBytes(token), _chars);
            if (n == 0) continue;
            if (stops is null) output.Write(_chars, 0, n);
            else if (stops.Append(_chars.AsSpan(0, n), output)) break;
            output.Flush();
        }
        int rest = _utf8.Flush(_chars);
        if (rest > 0 && stops?.Stopped != true)
        {
            if (stops is null) output.Write(_chars, 0, rest);
            else stops.Append(_chars.AsSpan(0, rest), output);
        }
        stops?.Flush(output);
        output.Flush();
        return produced;
    }
}
