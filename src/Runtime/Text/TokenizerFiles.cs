namespace Edge.Text;

/// <summary>The tokenizer a model folder carries, chosen by the files it holds.</summary>
public static class TokenizerFiles
{
    /// <summary>
    /// A Hugging Face folder's tokenizer, first match wins: <c>tokenizer.json</c> (a BPE model with byte_fallback is
    /// SentencePiece-style, <see cref="SentencePieceBpe"/>; otherwise byte-level, <see cref="BpeTokenizer"/>, with the
    /// pre-tokenizer the file names), <c>tokenizer.model</c> (SentencePiece BPE), <c>vocab.json</c> + <c>merges.txt</c>,
    /// GPT-2's <c>encoder.json</c> + <c>vocab.bpe</c>.
    /// </summary>
    public static ITokenizer Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new EdgeException($"{dir}: directory not found");
        string json = Path.Combine(dir, "tokenizer.json"), model = Path.Combine(dir, "tokenizer.model");
        if (File.Exists(json)) return TokenizerJson.IsByteFallback(json) ? SentencePieceBpe.FromTokenizerJson(json) : BpeTokenizer.FromTokenizerJson(json);
        if (File.Exists(model)) return SentencePieceBpe.FromModelFile(model);
        if (HasBpeFiles(dir)) return BpeTokenizer.FromDirectory(dir);
        throw new EdgeException($"{dir}: no tokenizer files (expected tokenizer.json, tokenizer.model, vocab.json + merges.txt, or encoder.json + vocab.bpe)");
    }

    /// <summary>A tokenizer file by its name: tokenizer.json, tokenizer.model, or a llama2.c tokenizer (*.bin).</summary>
    public static ITokenizer LoadFile(string path)
    {
        string name = Path.GetFileName(path);
        if (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return TokenizerJson.IsByteFallback(path) ? SentencePieceBpe.FromTokenizerJson(path) : BpeTokenizer.FromTokenizerJson(path);
        if (name.EndsWith(".model", StringComparison.OrdinalIgnoreCase)) return SentencePieceBpe.FromModelFile(path);
        if (name.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)) return LoadLlama2c(path);
        throw new EdgeException($"{path}: not a tokenizer file Edge knows (tokenizer.json, tokenizer.model, or llama2.c's tokenizer.bin)");
    }

    /// <summary>llama2.c's tokenizer.bin (its SentencePiece vocabulary with scores), encoding as run.c does.</summary>
    public static ITokenizer LoadLlama2c(string path) => SentencePieceBpe.FromLlama2cFile(path);

    static bool HasBpeFiles(string dir) =>
        File.Exists(Path.Combine(dir, "vocab.json")) && File.Exists(Path.Combine(dir, "merges.txt"))
        || File.Exists(Path.Combine(dir, "encoder.json")) && File.Exists(Path.Combine(dir, "vocab.bpe"));
}
