namespace Edge.Text;

/// <summary>How a byte-level BPE splits text into pieces before merging: the tokenizer.json pre_tokenizer.</summary>
public enum ByteLevelSplit
{
    /// <summary>GPT-2's regex (ByteLevel with use_regex).</summary>
    Gpt2,

    /// <summary>SmolLM's Sequence[Digits(individual_digits), ByteLevel(use_regex)]: every numeric character alone, GPT-2's regex between.</summary>
    Gpt2IndividualDigits,

    /// <summary>Qwen2's Split regex, then ByteLevel without its own regex.</summary>
    Qwen2,
}

/// <summary>
/// The newer pre-tokenisers, hand-written over UTF-8 bytes like <see cref="BpePreTokenizer"/> (whose character classes
/// they share), so a letter outside the BMP is one letter. Each returns the end of the piece that starts at i.
/// </summary>
static class ByteLevelSplits
{
    /// <summary>Qwen2's pattern (Hugging Face's Split, behavior Isolated), for reference and tests.</summary>
    public const string Qwen2Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    const byte Space = 0, Letter = 1, Number = 2, Other = 3;

    public static int PieceEnd(ByteLevelSplit split, ReadOnlySpan<byte> s, int i) => split switch
    {
        ByteLevelSplit.Gpt2IndividualDigits => DigitsThenGpt2(s, i),
        ByteLevelSplit.Qwen2 => Qwen2(s, i),
        _ => BpePreTokenizer.PieceEnd(s, i),
    };

    /// <summary>
    /// Digits first: a numeric character (Rust's is_numeric: Nd, Nl, No, the regex's \p{N}) is a piece, and GPT-2's
    /// regex runs on the text between, where a numeric character is the end of the text. GPT-2's <see
    /// cref="BpePreTokenizer.PieceEnd"/> on the whole text differs from that only where it looks at a numeric
    /// character: ' ?\p{N}+' takes a space before a digit, and '\s+(?!\S)' gives back a run's last whitespace before one.
    /// </summary>
    static int DigitsThenGpt2(ReadOnlySpan<byte> s, int i)
    {
        byte cls = BpePreTokenizer.Classify(s, i, out int length);
        if (cls == Number) return i + length;
        if (s[i] == ' ' && i + 1 < s.Length && BpePreTokenizer.Classify(s, i + 1, out _) == Number) return i + 1;
        int end = BpePreTokenizer.PieceEnd(s, i);
        if (cls == Space && end < s.Length && BpePreTokenizer.Classify(s, end, out int last) == Space)
        {
            int next = end + last;          // GPT-2 gave back the run's last character: does a numeric character follow?
            if (next < s.Length && BpePreTokenizer.Classify(s, next, out _) == Number) return next;
        }
        return end;
    }

    /// <summary>Qwen2's pattern: the first alternative that matches at i, as the regex engine takes it.</summary>
    static int Qwen2(ReadOnlySpan<byte> s, int i)
    {
        int n = s.Length;
        byte b = s[i];
        // (?i:'s|'t|'re|'ve|'m|'ll|'d), case folded: 'ſ' (U+017F) folds to 's'.
        if (b == '\'' && i + 1 < n)
        {
            byte c = (byte)(s[i + 1] | 0x20);
            if (c is (byte)'s' or (byte)'t' or (byte)'m' or (byte)'d') return i + 2;
            if (s[i + 1] == 0xC5 && i + 2 < n && s[i + 2] == 0xBF) return i + 3;
            if (i + 2 < n)
            {
                byte d = (byte)(s[i + 2] | 0x20);
                if ((c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l')) return i + 3;
            }
        }

        byte cls = BpePreTokenizer.Classify(s, i, out int length);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (cls == Letter) return Run(s, i, Letter);
        if (cls != Number && b != '\r' && b != '\n' && i + length < n && BpePreTokenizer.Classify(s, i + length, out _) == Letter)
            return Run(s, i + length, Letter);
        // \p{N}
        if (cls == Number) return i + length;
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        int j = b == ' ' && i + 1 < n && BpePreTokenizer.Classify(s, i + 1, out _) == Other ? i + 1 : i;
        if (BpePreTokenizer.Classify(s, j, out _) == Other)
        {
            j = Run(s, j, Other);
            while (j < n && s[j] is (byte)'\r' or (byte)'\n') j++;
            return j;
        }

        // Whitespace from here. '\s*[\r\n]+': up to the run's last line break, when it has one.
        int lastBreak = -1, lastStart = i;
        for (j = i; j < n && BpePreTokenizer.Classify(s, j, out length) == Space; j += length)
        {
            lastStart = j;
            if (s[j] is (byte)'\r' or (byte)'\n') lastBreak = j + 1;
        }
        if (lastBreak > 0) return lastBreak;
        // '\s+(?!\S)' gives back the last whitespace character before a non-space; one alone is '\s+'.
        return j == n || lastStart == i ? j : lastStart;
    }

    /// <summary>The end of the run of characters of class <paramref name="cls"/> that starts at <paramref name="i"/>.</summary>
    static int Run(ReadOnlySpan<byte> s, int i, byte cls)
    {
        while (i < s.Length && BpePreTokenizer.Classify(s, i, out int length) == cls) i += length;
        return i;
    }
}
