namespace Edge.Text;

// What generation needs from the BPE tokenizer (ITokenizer): GPT-2 starts unconditional text from <|endoftext|>; a
// tokenizer.json's template adds its special tokens around the text.
public sealed partial class BpeTokenizer : ITokenizer
{
    int[] ITokenizer.Encode(string text) =>
        !AddsTemplateTokens ? Encode(text) : [.. _templateBefore, .. Encode(text), .. _templateAfter];

    public int StartToken => EndOfText ?? 0;
}
