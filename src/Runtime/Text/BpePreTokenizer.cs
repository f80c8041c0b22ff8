using System.Buffers;
using System.Globalization;
using System.Text;

namespace Edge.Text;

/// <summary>
/// GPT-2's byte level: the pre-tokenisation regex, hand-written over UTF-8 bytes, and <c>bytes_to_unicode</c>.
/// Splitting bytes rather than a .NET string classifies whole code points (a non-BMP letter is one letter,
/// as in Python's <c>regex</c>, not two surrogates) and keeps the original bytes of invalid UTF-8: each
/// maximal invalid subsequence counts as one character of the <c>[^\s\p{L}\p{N}]</c> class.
/// </summary>
static class BpePreTokenizer
{
    /// <summary>The pattern this class implements, for reference and tests.</summary>
    public const string Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    const byte Space = 0, Letter = 1, Number = 2, Other = 3;

    static readonly byte[] AsciiClass = BuildAsciiClass();

    /// <summary>Byte b is written as ByteChars[b] in vocab files: printable Latin-1 as itself, the rest from U+0100 on.</summary>
    public static readonly char[] ByteChars = BuildByteChars();

    /// <summary>The byte for a vocab character, or -1; indexed by char below <see cref="CharLimit"/>.</summary>
    public static readonly short[] CharBytes = BuildCharBytes();

    public const int CharLimit = 0x144;

    /// <summary>The end of the piece that starts at <paramref name="i"/>: the regex's leftmost match there.</summary>
    public static int PieceEnd(ReadOnlySpan<byte> s, int i)
    {
        byte b = s[i];
        if (b == '\'' && i + 1 < s.Length)
        {
            byte c = s[i + 1];
            if (c is (byte)'s' or (byte)'t' or (byte)'m' or (byte)'d') return i + 2;
            if (i + 2 < s.Length)
            {
                byte d = s[i + 2];
                if ((c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l')) return i + 3;
            }
        }

        // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional space, then a run of one class.
        int j = i;
        byte cls = Classify(s, j, out int len);
        if (b == ' ' && j + 1 < s.Length)
        {
            byte next = Classify(s, j + 1, out int nextLen);
            if (next != Space) { cls = next; j++; len = nextLen; }
        }
        if (cls != Space)
        {
            for (j += len; j < s.Length && Classify(s, j, out len) == cls; j += len) { }
            return j;
        }

        // '\s+(?!\S)' gives back the last whitespace character when a non-space follows (so ' word' stays
        // together); a single whitespace character before a non-space falls through to '\s+'.
        int last = j;
        for (; j < s.Length && Classify(s, j, out len) == Space; j += len) last = j;
        return j == s.Length || last == i ? j : last;
    }

    /// <summary>The class of the character at <paramref name="i"/>: 0 \s, 1 \p{L}, 2 \p{N}, 3 anything else (invalid UTF-8 too).</summary>
    internal static byte Classify(ReadOnlySpan<byte> s, int i, out int length)
    {
        byte b = s[i];
        if (b < 0x80) { length = 1; return AsciiClass[b]; }
        if (Rune.DecodeFromUtf8(s[i..], out Rune r, out length) != OperationStatus.Done) return Other;
        if (Rune.IsWhiteSpace(r)) return Space;
        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Number,
            _ => Other,
        };
    }

    static byte[] BuildAsciiClass()
    {
        var t = new byte[128];
        for (int c = 0; c < 128; c++)
            t[c] = char.IsWhiteSpace((char)c) ? Space : char.IsLetter((char)c) ? Letter : char.IsDigit((char)c) ? Number : Other;
        return t;
    }

    static char[] BuildByteChars()
    {
        var chars = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            chars[b] = printable ? (char)b : (char)(256 + n++);
        }
        return chars;
    }

    static short[] BuildCharBytes()
    {
        var t = new short[CharLimit];
        Array.Fill(t, (short)-1);
        for (int b = 0; b < 256; b++) t[ByteChars[b]] = (short)b;
        return t;
    }

    /// <summary>The bytes a vocab string stands for, or null when a character is outside the byte alphabet.</summary>
    public static byte[]? ToBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            char c = token[i];
            if (c >= CharLimit || CharBytes[c] < 0) return null;
            bytes[i] = (byte)CharBytes[c];
        }
        return bytes;
    }

    public static string ToChars(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteChars[bytes[i]];
        return new string(chars);
    }
}
