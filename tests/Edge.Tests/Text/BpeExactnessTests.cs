using System.Diagnostics;
using System.Globalization;
using System.Text;
using Edge.Tests.Support;
using Edge.Text;
using Xunit;
using Xunit.Abstractions;

namespace Edge.Tests.Text;

/// <summary>
/// Ids exactly as GPT-2's own encoder gives them, case by case: always against the ids stored with the tests
/// (<see cref="BpeStoredReference"/>), and against the live reference too when one runs here
/// (<see cref="BpeReference"/>), which also checks that the stored ids are current. Each case goes through the
/// encoder as configured, from bytes as well as text, with every piece of two or more bytes merged by the bucket
/// queue, and with pieces of more than 64 bytes merged in windows of 64 bytes.
/// </summary>
public class BpeExactnessTests(ITestOutputHelper output)
{
    internal static readonly Lazy<BpeTokenizer> Gpt2 = new(() => BpeTokenizer.FromGpt2Files(BpeReference.Encoder, BpeReference.Merges));

    static readonly Lazy<BpeTokenizer> Gpt2Queue = new(() => BpeLongPieceTests.Gpt2With(queueThreshold: 1, window: 1 << 14));

    static readonly Lazy<BpeTokenizer> Gpt2Windows = new(() => BpeLongPieceTests.Gpt2With(queueThreshold: 1, window: 64));

    /// <summary>The live reference's ids for every stored case, by name; null when none runs here.</summary>
    static readonly Lazy<Dictionary<string, int[]>?> Live = new(() =>
    {
        BpeReference.RequireIfAsked();
        if (!BpeReference.Available) return null;
        var cases = BpeStoredReference.Cases.Value;
        var ids = BpeReference.Encode(cases.Select(c => c.Text).ToArray());
        return cases.Select((c, i) => (c.Name, ids[i])).ToDictionary(x => x.Name, x => x.Item2);
    });

    public static TheoryData<string> Names => new(BpeStoredReference.Cases.Value.Select(c => c.Name));

    [Theory, MemberData(nameof(Names))]
    public void Ids_match_gpt2(string name)
    {
        var c = BpeStoredReference.Get(name);
        var ids = Gpt2.Value.Encode(c.Text);
        if (Live.Value is { } live)
        {
            AssertSameIds(live[name], ids, Gpt2.Value);
            Assert.True(c.Mismatch(live[name]) is null, $"the stored reference is stale: the live reference's ids {c.Mismatch(live[name])}; regenerate it (see {BpeStoredReference.Path})");
        }
        AssertStored(c, ids, "encoded as text");
        AssertStored(c, Gpt2.Value.Encode(Encoding.UTF8.GetBytes(c.Text)), "encoded as bytes");
        AssertStored(c, Gpt2Queue.Value.Encode(c.Text), "every piece through the bucket queue");
        AssertStored(c, Gpt2Windows.Value.Encode(c.Text), "long pieces in windows of 64 bytes");
        Assert.Equal(c.Text, Gpt2.Value.Decode(ids));
    }

    [Fact]
    public void Stored_reference_was_made_from_the_shared_vocab_files()
    {
        output.WriteLine(BpeReference.Describe());
        Assert.Equal(BpeStoredReference.FileDigest("encoder_json_sha256"), BpeStoredReference.FileSha256(BpeReference.Encoder));
        Assert.Equal(BpeStoredReference.FileDigest("vocab_bpe_sha256"), BpeStoredReference.FileSha256(BpeReference.Merges));
    }

    [Fact]
    public void Tiny_shakespeare_encoding_speed()
    {
        var c = BpeStoredReference.Get("tinyshakespeare");
        double mb = Encoding.UTF8.GetByteCount(c.Text) / 1e6;
        var cold = BpeTokenizer.FromGpt2Files(BpeReference.Encoder, BpeReference.Merges);
        var sw = Stopwatch.StartNew();
        AssertStored(c, cold.Encode(c.Text), "with an empty cache");
        double coldSeconds = sw.Elapsed.TotalSeconds;
        sw.Restart();
        int[] ids = [];
        for (int i = 0; i < 3; i++) ids = cold.Encode(c.Text);
        double warmSeconds = sw.Elapsed.TotalSeconds / 3;
        sw.Restart();
        cold.Decode(ids);
        output.WriteLine($"tinyshakespeare, {mb:F2} MB -> {ids.Length} tokens: encode {mb / coldSeconds:F1} MB/s with an empty cache, "
            + $"{mb / warmSeconds:F1} MB/s warm; decode {mb / sw.Elapsed.TotalSeconds:F0} MB/s (printed, not asserted)");
    }

    [Fact]
    public void Not_allowing_special_encodes_endoftext_as_text()
    {
        var tok = Gpt2.Value;
        Assert.Equal(50256, tok.EndOfText);
        Assert.Equal([50256], tok.Encode("<|endoftext|>"));
        var plain = tok.Encode("<|endoftext|>", allowSpecial: false);
        Assert.Equal([27, 91, 437, 1659, 5239, 91, 29], plain);       // '<', '|', 'end', 'of', 'text', '|', '>' as encoder.py gives
        Assert.Equal("<|endoftext|>", tok.Decode(plain));
        Assert.Equal(["<|endoftext|>"], tok.SpecialTokens);
    }

    /// <summary>\s, \p{L} and \p{N} agree with the reference regex for every code point this .NET's Unicode tables assign.</summary>
    [Fact]
    public void Character_classes_match_the_reference_regex()
    {
        BpeReference.RequireIfAsked();
        AssertClasses(BpeStoredReference.Classes(), "the stored reference");
        if (BpeReference.Available) AssertClasses(BpeReference.Classes(), "the live reference");
    }

    void AssertClasses(string classes, string source)
    {
        Assert.Equal(0x110000, classes.Length);
        var mismatches = new List<string>();
        Span<byte> utf8 = stackalloc byte[4];
        int compared = 0;
        for (int cp = 0; cp < 0x110000; cp++)
        {
            if (!Rune.IsValid(cp) || Rune.GetUnicodeCategory(new Rune(cp)) == UnicodeCategory.OtherNotAssigned) continue;
            int n = new Rune(cp).EncodeToUtf8(utf8);
            char ours = "sLNo"[BpePreTokenizer.Classify(utf8[..n], 0, out int used)];
            Assert.Equal(n, used);
            compared++;
            if (ours != classes[cp]) mismatches.Add($"U+{cp:X4} reference {classes[cp]} ours {ours}");
        }
        output.WriteLine($"{source}: {compared} assigned code points compared");
        Assert.True(mismatches.Count == 0, $"{source}: {mismatches.Count} classes differ: {string.Join(", ", mismatches.Take(20))}");
    }

    static void AssertStored(BpeStoredReference.Case c, int[] ids, string how) =>
        Assert.True(c.Mismatch(ids) is null, $"{c.Name} ({how}): the ids {c.Mismatch(ids)}; first ids {string.Join(" ", ids.Take(12))}");

    /// <summary>Equal ids, or a message that shows the tokens around the first difference.</summary>
    internal static void AssertSameIds(int[] expected, int[] actual, BpeTokenizer tok)
    {
        if (expected.AsSpan().SequenceEqual(actual)) return;
        int i = 0;
        while (i < expected.Length && i < actual.Length && expected[i] == actual[i]) i++;
        string Show(int[] ids) => string.Join(" ", ids.Skip(Math.Max(0, i - 3)).Take(8).Select(id => $"{id}:'{tok.Token(id)}'"));
        Assert.Fail($"ids differ at {i} (expected {expected.Length} ids, got {actual.Length})\n  expected {Show(expected)}\n  actual   {Show(actual)}");
    }
}
