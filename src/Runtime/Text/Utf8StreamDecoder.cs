using System.Text;

namespace Edge.Text;

/// <summary>
/// Turns a stream of token bytes into whole characters: a UTF-8 sequence split across pushes is held back
/// until its last byte arrives, so streamed text never shows half an emoji. Invalid bytes become U+FFFD, as
/// in <see cref="BpeTokenizer.Decode"/>. Push and Flush allocate nothing.
/// </summary>
public sealed class Utf8StreamDecoder
{
    readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();

    /// <summary>The output room <see cref="Push"/> needs for <paramref name="byteCount"/> bytes (held-back bytes included).</summary>
    public static int MaxCharCount(int byteCount) => byteCount + 4;

    /// <summary>Decodes <paramref name="bytes"/> after any held-back ones; returns the number of chars written.</summary>
    public int Push(ReadOnlySpan<byte> bytes, Span<char> output) => Convert(bytes, output, flush: false);

    /// <summary>Ends the stream: an incomplete sequence still held back becomes U+FFFD.</summary>
    public int Flush(Span<char> output) => Convert([], output, flush: true);

    /// <summary>Forgets any held-back bytes.</summary>
    public void Reset() => _decoder.Reset();

    int Convert(ReadOnlySpan<byte> bytes, Span<char> output, bool flush)
    {
        if (output.Length < MaxCharCount(bytes.Length))
            throw new ArgumentException($"output needs room for {MaxCharCount(bytes.Length)} chars (MaxCharCount), got {output.Length}", nameof(output));
        _decoder.Convert(bytes, output, flush, out _, out int written, out _);
        return written;
    }
}
