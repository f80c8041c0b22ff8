using System.Text;
using Edge.Text;
using Xunit;

namespace Edge.Tests.Text;

public class BpeRoundTripTests
{
    static BpeTokenizer Gpt2 => BpeExactnessTests.Gpt2.Value;

    public static TheoryData<string, byte[]> AwkwardBytes => new()
    {
        { "lone continuation", [0x80] },
        { "continuations after text", [(byte)'a', 0x80, 0xBF, (byte)' ', 0x80] },
        { "overlong slash", [0xC0, 0xAF] },
        { "encoded surrogate", [0xED, 0xA0, 0x80] },
        { "above U+10FFFF", [0xF4, 0x90, 0x80, 0x80] },
        { "truncated euro", [0xE2, 0x82] },
        { "truncated then ascii", [0xE2, 0x82, (byte)'A', (byte)'b'] },
        { "space before invalid", [(byte)' ', 0xFF, 0xFE, (byte)' ', (byte)'x'] },
        { "invalid inside a word", [(byte)'c', (byte)'a', 0xFF, (byte)'f', (byte)'e'] },
        { "nul", [0, 0, (byte)'a', 0] },
        { "all bytes", Enumerable.Range(0, 256).Select(b => (byte)b).ToArray() },
        { "endoftext bytes", Encoding.UTF8.GetBytes("x<|endoftext|>y") },
    };

    [Theory, MemberData(nameof(AwkwardBytes))]
    public void Awkward_bytes_round_trip(string name, byte[] bytes)
    {
        Assert.NotNull(name);
        Assert.Equal(bytes, Gpt2.DecodeBytes(Gpt2.Encode(bytes)));
        Assert.Equal(bytes, Gpt2.DecodeBytes(Gpt2.Encode(bytes, allowSpecial: false)));
    }

    [Fact]
    public void Random_byte_strings_round_trip()
    {
        var rng = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            var bytes = new byte[rng.Next(0, i < 1900 ? 64 : 2000)];
            // Mostly ASCII and UTF-8 lead/continuation bytes, so runs of letters, spaces and broken sequences all occur.
            for (int k = 0; k < bytes.Length; k++)
                bytes[k] = (rng.Next(4)) switch { 0 => (byte)rng.Next(256), 1 => (byte)rng.Next(0x80, 0xC0), 2 => (byte)"ab '\n1!"[rng.Next(7)], _ => (byte)rng.Next(0xC0, 0xF8) };
            Assert.Equal(bytes, Gpt2.DecodeBytes(Gpt2.Encode(bytes)));
        }
    }

    [Fact]
    public void Random_unicode_strings_round_trip()
    {
        var rng = new Random(8);
        for (int i = 0; i < 1000; i++)
        {
            var sb = new StringBuilder();
            for (int n = rng.Next(0, 80); n > 0; n--)
            {
                int cp = rng.Next(4) switch { 0 => rng.Next(0x20, 0x7F), 1 => rng.Next(0x80, 0x800), 2 => rng.Next(0x800, 0x10000), _ => rng.Next(0x10000, 0x110000) };
                if (Rune.IsValid(cp)) sb.Append(new Rune(cp).ToString());
            }
            string text = sb.ToString();
            var ids = Gpt2.Encode(text);
            Assert.Equal(text, Gpt2.Decode(ids));
            Assert.Equal(Encoding.UTF8.GetBytes(text), Gpt2.DecodeBytes(ids));
        }
    }

    [Fact]
    public void Long_pieces_round_trip_through_the_bucket_queue()
    {
        var rng = new Random(9);
        var letters = string.Concat(Enumerable.Range(0, 20000).Select(_ => (char)('a' + rng.Next(26))));
        var ids = Gpt2.Encode(letters);
        Assert.Equal(letters, Gpt2.Decode(ids));
        Assert.True(ids.Length < letters.Length);
    }

    [Fact]
    public void Concurrent_encoding_matches_sequential()
    {
        var tok = BpeTokenizer.FromGpt2Files(BpeReference.Encoder, BpeReference.Merges);     // a fresh, empty cache
        var rng = new Random(10);
        var texts = Enumerable.Range(0, 400).Select(_ => string.Concat(Enumerable.Range(0, 50).Select(_ => (char)rng.Next(0x20, 0x250)))).ToArray();
        var parallel = new int[texts.Length][];
        Parallel.For(0, texts.Length, i => parallel[i] = tok.Encode(texts[i]));
        for (int i = 0; i < texts.Length; i++) Assert.Equal(Gpt2.Encode(texts[i]), parallel[i]);
    }

    [Fact]
    public void Tokens_and_ids()
    {
        Assert.Equal(50257, Gpt2.VocabSize);
        Assert.Equal(50000, Gpt2.MergeCount);
        Assert.Equal("<|endoftext|>", Gpt2.Token(50256));
        Assert.Equal("Ġ", Gpt2.Token(220));
        Assert.Equal(" "u8.ToArray(), Gpt2.TokenBytes(220).ToArray());
        Assert.Equal("<|endoftext|>"u8.ToArray(), Gpt2.TokenBytes(50256).ToArray());
        Assert.True(Gpt2.TryGetId("Ġthe", out int the) && the == 262);
        Assert.False(Gpt2.TryGetId("not a token", out _));
        Assert.Equal([262], Gpt2.Encode(" the"));
        Assert.Contains("50257", Assert.Throws<EdgeException>(() => Gpt2.Token(50257)).Message);
        Assert.Throws<EdgeException>(() => Gpt2.TokenBytes(-1));
        Assert.Throws<EdgeException>(() => Gpt2.Decode([1, 99999]));
    }

    [Fact]
    public void Encode_into_a_list_appends()
    {
        var ids = new List<int> { -5 };
        Gpt2.Encode("Hello world", ids);
        Gpt2.Encode(" again"u8, ids);
        Assert.Equal(-5, ids[0]);
        Assert.Equal("Hello world again", Gpt2.Decode(ids.Skip(1).ToArray()));
    }

    [Fact]
    public void Decode_replaces_invalid_utf8_and_an_unpaired_surrogate_encodes_as_replacement()
    {
        var ids = Gpt2.Encode([(byte)'a', 0xFF, (byte)'b']);
        Assert.Equal("a\uFFFDb", Gpt2.Decode(ids));
        Assert.Equal("x\uFFFDy", Gpt2.Decode(Gpt2.Encode("x\uD800y")));
    }
}
