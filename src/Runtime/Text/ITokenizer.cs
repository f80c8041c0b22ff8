namespace Edge.Text;

/// <summary>What generation needs from a tokenizer: ids for text, and the bytes each id stands for.</summary>
public interface ITokenizer
{
    /// <summary>The number of token ids, V: ids are 0 .. V - 1.</summary>
    int VocabSize { get; }

    /// <summary>Token ids for a text; an <see cref="EdgeException"/> names anything that cannot be encoded.</summary>
    int[] Encode(string text);

    /// <summary>The UTF-8 bytes of one token (a byte-level BPE token may be part of a character).</summary>
    ReadOnlySpan<byte> TokenBytes(int id);

    /// <summary>The text of a sequence of token ids.</summary>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>What generation starts from when there is no prompt (a start marker, end-of-text, or newline).</summary>
    int StartToken { get; }
}
