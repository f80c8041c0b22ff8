using Edge.Text;

namespace Edge.Generation;

/// <summary>
/// Generates text with a model that predicts the next token from a fixed window of previous tokens. The
/// window slides one token at a time; a prompt shorter than the window is padded on the left with the
/// model's start marker (line data) or with <see cref="PaddingToken"/> (running text). Buffers are
/// allocated once, so producing a token allocates nothing.
/// </summary>
public sealed class TextGenerator
{
    readonly LanguageModel _model;
    readonly CharTokenizer _tokenizer;
    readonly int[] _window;

    public TextGenerator(LanguageModel model, CharTokenizer tokenizer)
    {
        if (model.VocabSize != tokenizer.VocabSize)
            throw new EdgeException($"the model has {model.VocabSize} tokens but its tokenizer has {tokenizer.VocabSize}");
        _model = model;
        _tokenizer = tokenizer;
        _window = new int[model.InputLength];
        PaddingToken = tokenizer.MarkerId ?? PickPadding(tokenizer);
    }

    /// <summary>What fills the window before the prompt: the marker, else newline, else space, else token 0.</summary>
    public int PaddingToken { get; }

    /// <summary>Clears the window to padding and appends the prompt's tokens.</summary>
    public void Reset(ReadOnlySpan<int> prompt)
    {
        _window.AsSpan().Fill(PaddingToken);
        foreach (var t in prompt) Push(t);
    }

    /// <summary>Samples the next token, appends it to the window and returns it.</summary>
    public int Next(Sampler sampler)
    {
        int token = sampler.Sample(_model.Logits(_window, 1));
        Push(token);
        return token;
    }

    void Push(int token)
    {
        _window.AsSpan(1).CopyTo(_window);
        _window[^1] = token;
    }

    /// <summary>
    /// Streams up to <paramref name="maxTokens"/> tokens after the prompt to <paramref name="output"/>,
    /// stopping early at <paramref name="stopToken"/> (not written). Returns the number of tokens produced.
    /// </summary>
    public int Generate(ReadOnlySpan<int> prompt, int maxTokens, Sampler sampler, TextWriter output, int stopToken = -1)
    {
        Reset(prompt);
        for (int i = 0; i < maxTokens; i++)
        {
            int token = Next(sampler);
            if (token == stopToken) return i;
            output.Write(_tokenizer.Symbol(token));
        }
        return maxTokens;
    }

    static int PickPadding(CharTokenizer t)
    {
        if (t.TryGetId(new System.Text.Rune('\n'), out int nl)) return nl;
        if (t.TryGetId(new System.Text.Rune(' '), out int sp)) return sp;
        return 0;
    }
}
