namespace Edge.Text;

/// <summary>The tokenizer a model folder carries, chosen by the files it holds.</summary>
public static class TokenizerFiles
{
    /// <summary>
    /// A Hugging Face folder's tokenizer: tokenizer.json, vocab.json + merges.txt, or GPT-2's encoder.json + vocab.bpe
    /// (byte-level BPE).
    /// </summary>
    public static ITokenizer Load(string dir) => BpeTokenizer.FromDirectory(dir);

    /// <summary>llama2.c's tokenizer.bin (its SentencePiece vocabulary with scores).</summary>
    public static ITokenizer LoadLlama2c(string path) =>
        throw new EdgeException($"{path}: llama2.c tokenizers are not read yet; pass a tokenizer explicitly");
}
