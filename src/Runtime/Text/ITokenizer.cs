namespace Edge.Text;

/// <summary>What generation needs from a tokenizer: ids for text, and the bytes each id stands for.</summary>
public interface ITokenizer
{
    int VocabSize { get; }

    /// <summary>Token ids for a text; an <see cref="EdgeException"/> names anything that cannot be encoded.</summary>
    int[] Encode(string text);

    /// <summary>The UTF-8 bytes of one token (a byte-level BPE token may be part of a character).</summary>
    ReadOnlySpan<byte> TokenBytes(int id);

    string Decode(ReadOnlySpan<int> ids);

    /// <summary>What generation starts from when there is no prompt (a start marker, end-of-text, or newline).</summary>
    int StartToken { get; }
}
