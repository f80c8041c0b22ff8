using System.Text;
using Edge.Text;
using Xunit;
using Edge.Tests.Kernels;

namespace Edge.Tests.Text;

public class Utf8StreamDecoderTests
{
    static string Push(Utf8StreamDecoder d, ReadOnlySpan<byte> bytes)
    {
        var output = new char[Utf8StreamDecoder.MaxCharCount(bytes.Length)];
        return new string(output, 0, d.Push(bytes, output));
    }

    static string Flush(Utf8StreamDecoder d)
    {
        var output = new char[Utf8StreamDecoder.MaxCharCount(0)];
        return new string(output, 0, d.Flush(output));
    }

    [Theory]
    [InlineData("😀")]
    [InlineData("€")]
    [InlineData("é")]
    [InlineData("a👩‍👩‍👧b")]
    public void A_character_split_across_pushes_is_held_back_and_emitted_whole(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        for (int split = 1; split < bytes.Length; split++)
        {
            var d = new Utf8StreamDecoder();
            string first = Push(d, bytes.AsSpan(0, split));
            string second = Push(d, bytes.AsSpan(split));
            Assert.Equal(text, first + second + Flush(d));
            Assert.True(first.Length == 0 || !char.IsHighSurrogate(first[^1]), "half a surrogate pair was emitted");
            Assert.DoesNotContain('\uFFFD', first + second);
            Assert.StartsWith(first, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Streaming_gpt2_tokens_gives_whole_characters()
    {
        var tok = BpeExactnessTests.Gpt2.Value;
        const string text = "Robots 🤖 and flags 🇫🇷, family 👩‍👩‍👧, 日本語の文章, café.";
        var d = new Utf8StreamDecoder();
        var sb = new StringBuilder();
        int heldBack = 0;
        foreach (int id in tok.Encode(text))
        {
            string piece = Push(d, tok.TokenBytes(id));
            if (piece.Length == 0) heldBack++;
            Assert.DoesNotContain('\uFFFD', piece);
            sb.Append(piece);
            Assert.StartsWith(sb.ToString(), text, StringComparison.Ordinal);
        }
        sb.Append(Flush(d));
        Assert.Equal(text, sb.ToString());
        Assert.True(heldBack > 0, "no token ended inside a character, so nothing was tested");
    }

    [Fact]
    public void Invalid_bytes_become_replacement_characters()
    {
        var d = new Utf8StreamDecoder();
        Assert.Equal("\uFFFD", Push(d, [0xFF]));
        Assert.Equal("a\uFFFDb", Push(d, [(byte)'a', 0x80, (byte)'b']));
        Assert.Equal("", Push(d, [0xE2, 0x82]));
        Assert.Equal("\uFFFDA", Push(d, [(byte)'A']));      // the held-back sequence never completed
        Assert.Equal("", Push(d, [0xF0, 0x9F]));
        Assert.Equal("\uFFFD", Flush(d));                   // the stream ended inside a character
        Assert.Equal("x", Push(d, [(byte)'x']));
    }

    [Fact]
    public void Reset_forgets_held_back_bytes()
    {
        var d = new Utf8StreamDecoder();
        Assert.Equal("", Push(d, [0xE2, 0x82]));
        d.Reset();
        Assert.Equal("ok", Push(d, "ok"u8));
        Assert.Equal("", Flush(d));
    }

    [Fact]
    public void Too_small_output_is_refused()
    {
        var d = new Utf8StreamDecoder();
        Assert.Throws<ArgumentException>(() => d.Push("abc"u8, new char[3]));
    }

    [Fact]
    public void Push_and_flush_do_not_allocate()
    {
        var d = new Utf8StreamDecoder();
        byte[] bytes = Encoding.UTF8.GetBytes("héllo 😀 wörld 日本");
        var output = new char[Utf8StreamDecoder.MaxCharCount(bytes.Length)];
        Expect.AllocatesNothing(Run, "Push and Flush", warmUp: 10, calls: 1000);

        void Run()
        {
            for (int k = 0; k < bytes.Length; k += 3) d.Push(bytes.AsSpan(k, Math.Min(3, bytes.Length - k)), output);
            d.Flush(output);
        }
    }
}
