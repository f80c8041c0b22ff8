namespace Edge.Text;

// What generation needs from the BPE tokenizer (ITokenizer): GPT-2 starts unconditional text from <|endoftext|>.
public sealed partial class BpeTokenizer : ITokenizer
{
    int[] ITokenizer.Encode(string text) => Encode(text);

    public int StartToken => EndOfText ?? 0;
}
