using System.Diagnostics;
using System.Globalization;
using System.Text;
using Edge.Tests.Support;
using Edge.Text;
using Xunit;
using Xunit.Abstractions;

namespace Edge.Tests.Text;

/// <summary>Ids exactly as GPT-2's own encoder gives them (<see cref="BpeReference"/>), case by case.</summary>
public class BpeExactnessTests(ITestOutputHelper output)
{
    internal static readonly Lazy<BpeTokenizer> Gpt2 = new(() => BpeTokenizer.FromGpt2Files(BpeReference.Encoder, BpeReference.Merges));

    /// <summary>The same vocab with every piece of two or more bytes merged by the bucket queue.</summary>
    static readonly Lazy<BpeTokenizer> Gpt2Queue = new(() =>
    {
        var t = BpeTokenizer.FromGpt2Files(BpeReference.Encoder, BpeReference.Merges);
        t.QueueThreshold = 1;
        return t;
    });

    static readonly (string Name, string Text)[] Named =
    [
        ("prose", "The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times;\n"
            + "Mr. Smith's house (built in 1887) stood on a hill — or so they said…"),
        ("code", "public static int Main(string[] args)\n{\n    if (args.Length == 0) { return 1; }\n\tfor (int i = 0; i < 10; i++)\n"
            + "\t\tConsole.WriteLine($\"{i}: {args[i % 2]}\");\n    return 0; // done\n}\n"),
        ("python", "def f(x):\n    return x ** 2  # square\n\n\nclass A:\n\tpass\n    \n"),
        ("numbers", "1234567 3.14159 -42 1e-10 0x1F 2024-01-01 12:30:45 1,000,000 ½ ² Ⅻ ٣٤٥ 007"),
        ("whitespace", "a    b\tc \t d  \n\n\ne   \n  f\r\n   \u00A0x\u3000y\u2028z \u2009 w\v\fv"),
        ("trailing spaces", "trailing spaces   "),
        ("leading spaces", "   leading spaces"),
        ("newlines only", "\n\n\n"),
        ("contractions", "don't I'll we've she'd it's they're I'm 'S 'LL can''t rock'n'roll 's 't 're 've 'm 'd 'x"),
        ("accents", "café naïve Ångström résumé Zürich façade São Paulo Dvořák ÆØÅ straße"),
        ("cjk", "日本語の文章です。中文，汉字。한국어 텍스트"),
        ("emoji", "👩‍👩‍👧 family 🇫🇷 flag 🤖 robot 👍🏽 😀😀😀 ❤️ ✨"),
        ("non-bmp letters and digits", "𝐀𝐁𝐂 math 𠀀𠀁 ext-B 𝟘𝟙𝟚 digits 𐍈 gothic a𝐀b 1𝟘2 😀𝐀😀"),
        ("endoftext", "Hello world<|endoftext|>Next document<|endoftext|><|endoftext|> trailing <|endoftext"),
        ("punctuation", "!!! ??? ... --- === <<< >>> $$$ %% @@ ## ((()))[]{} \"quoted\" 'single' `tick` ©®™"),
        ("controls", "nul\0byte bell\a esc\u001b[0m del\u007f \u001c\u001d\u0085x"),
        ("long runs", new string('a', 500) + " " + string.Concat(Enumerable.Repeat("ab", 300)) + " " + new string('=', 400)
            + new string(' ', 300) + "x" + string.Concat(Enumerable.Repeat("😀", 100)) + string.Concat(Enumerable.Repeat("the", 200))),
        ("empty", ""),
        ("one letter", "a"),
    ];

    static readonly string[] Fragments =
    [
        "a", "b", "z", "Q", "the", " ", "  ", "\n", "\t", "\r\n", "'", "'s", "'ll", "'S", "0", "7", "42", ".", ",", "!", "?", "-", "(", ")",
        "{", "}", "\"", "é", "ß", "Å", "ñ", "日", "本", "中", "😀", "👍", "🏽", "\u200D", "🇫🇷", "𝐀", "𠀀", "𝟘", "\u00A0", "\u3000", "½",
        "٣", "<|endoftext|>", "ǅ", "ʰ", "Ⅻ", "\u0301", "€",
    ];

    static readonly (string Name, string Text)[] Cases = [.. Named, .. RandomTexts(40)];

    static IEnumerable<(string, string)> RandomTexts(int count)
    {
        var rng = new Random(1234);
        for (int i = 0; i < count; i++)
        {
            var sb = new StringBuilder();
            for (int n = rng.Next(0, 120); n > 0; n--) sb.Append(Fragments[rng.Next(Fragments.Length)]);
            yield return ($"random {i}", sb.ToString());
        }
    }

    static readonly Lazy<Dictionary<string, int[]>> Expected = new(() =>
    {
        var texts = Cases.Select(c => c.Text).Append(Shakespeare).ToArray();
        var ids = BpeReference.Encode(texts);
        var map = Cases.Select((c, i) => (c.Name, ids[i])).ToDictionary(x => x.Name, x => x.Item2);
        map["tinyshakespeare"] = ids[^1];
        return map;
    });

    static string Shakespeare => File.ReadAllText(TestData.File("tinyshakespeare.txt"));

    public static TheoryData<string> Names => new(Cases.Select(c => c.Name));

    [Theory, MemberData(nameof(Names))]
    public void Ids_match_gpt2(string name)
    {
        string text = Cases.Single(c => c.Name == name).Text;
        var expected = Expected.Value[name];
        AssertSameIds(expected, Gpt2.Value.Encode(text), Gpt2.Value);
        AssertSameIds(expected, Gpt2.Value.Encode(Encoding.UTF8.GetBytes(text)), Gpt2.Value);
        AssertSameIds(expected, Gpt2Queue.Value.Encode(text), Gpt2.Value);
        Assert.Equal(text, Gpt2.Value.Decode(expected));
    }

    [Fact]
    public void Tiny_shakespeare_matches_gpt2_and_encodes_fast()
    {
        string text = Shakespeare;
        var tok = BpeTokenizer.FromGpt2Files(BpeReference.Encoder, BpeReference.Merges);
        AssertSameIds(Expected.Value["tinyshakespeare"], tok.Encode(text), tok);
        AssertSameIds(Expected.Value["tinyshakespeare"], Gpt2Queue.Value.Encode(text), tok);

        double mb = Encoding.UTF8.GetByteCount(text) / 1e6;
        var cold = BpeTokenizer.FromGpt2Files(BpeReference.Encoder, BpeReference.Merges);
        var sw = Stopwatch.StartNew();
        cold.Encode(text);
        double coldSeconds = sw.Elapsed.TotalSeconds;
        sw.Restart();
        int[] ids = [];
        for (int i = 0; i < 3; i++) ids = tok.Encode(text);
        double warmSeconds = sw.Elapsed.TotalSeconds / 3;
        sw.Restart();
        tok.Decode(ids);
        output.WriteLine($"tinyshakespeare, {mb:F2} MB -> {ids.Length} tokens: encode {mb / coldSeconds:F1} MB/s with an empty cache, "
            + $"{mb / warmSeconds:F1} MB/s warm; decode {mb / sw.Elapsed.TotalSeconds:F0} MB/s");
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
        string classes = BpeReference.Classes();
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
        output.WriteLine($"{compared} assigned code points compared");
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} classes differ: {string.Join(", ", mismatches.Take(20))}");
    }

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
