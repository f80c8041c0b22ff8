namespace Edge;

/// <summary>
/// The argument checks every <see cref="IModelContext"/> makes before a pass, so the CPU context and a device context
/// refuse the same calls with the same messages.
/// </summary>
internal static class ContextArguments
{
    /// <summary>Checks a batch of token ids; returns the length (0 means the model's <see cref="LanguageModel.InputLength"/>).</summary>
    public static int Batch(LanguageModel model, int maxBatch, ReadOnlySpan<int> inputs, int batch, int length)
    {
        if (batch <= 0 || batch > maxBatch)
            throw new ArgumentOutOfRangeException(nameof(batch), $"batch must be in 1..{maxBatch}, got {batch}");
        if (length == 0) length = model.InputLength;
        if (model.IsSequenceModel ? length < 1 || length > model.InputLength : length != model.InputLength)
            throw new ArgumentOutOfRangeException(nameof(length),
                model.IsSequenceModel ? $"length must be in 1..{model.InputLength}, got {length}" : $"this model reads exactly {model.InputLength} tokens, got {length}");
        if (inputs.Length < batch * length)
            throw new ArgumentException($"inputs: expected {batch * length} ids, got {inputs.Length}");
        Tokens(model, inputs[..(batch * length)], "input");
        return length;
    }

    /// <param name="allowIgnored">Targets may be <see cref="Kernels.SoftmaxCrossEntropy.IgnoredTarget"/> (not scored).</param>
    public static void Tokens(LanguageModel model, ReadOnlySpan<int> ids, string what, bool allowIgnored = false)
    {
        foreach (var id in ids)
            if ((uint)id >= (uint)model.VocabSize && !(allowIgnored && id == Kernels.SoftmaxCrossEntropy.IgnoredTarget))
                throw new ArgumentOutOfRangeException(what, $"{what} token id {id} is outside the vocabulary (size {model.VocabSize})");
    }

    public static void Prefill(LanguageModel model, ContextKind kind, int promptLength)
    {
        Decoding(kind);
        if (promptLength <= 0 || promptLength > model.InputLength)
            throw new ArgumentOutOfRangeException("prompt", $"a prompt must have 1..{model.InputLength} tokens, got {promptLength}");
    }

    public static void Append(LanguageModel model, ContextKind kind, int cached, int count)
    {
        Decoding(kind);
        if (cached == 0) throw new InvalidOperationException("call Prefill before Append");
        if (count <= 0 || cached + count > model.InputLength)
            throw new ArgumentOutOfRangeException("tokens", $"{count} tokens do not fit after {cached} cached positions (context {model.InputLength})");
    }

    public static void DecodeStep(LanguageModel model, ContextKind kind, int cached)
    {
        Decoding(kind);
        if (cached == 0) throw new InvalidOperationException("call Prefill before DecodeStep");
        if (cached >= model.InputLength) throw new InvalidOperationException($"the KV cache is full ({model.InputLength} positions): prefill a shorter window");
    }

    static void Decoding(ContextKind kind)
    {
        if (kind != ContextKind.Decoding) throw new InvalidOperationException("decoding needs a decoding context (CreateDecodingContext)");
    }
}
