using System.Text;
using System.Text.Json;
using Edge.Text;
using Xunit;
using Xunit.Abstractions;

namespace Edge.Tests.Text;

/// <summary>Edge's NFC (Qwen2's normalizer) against Unicode's rules, and against Python's unicodedata when it is installed.</summary>
public class NfcTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("plain ASCII and Latin-1: café", "plain ASCII and Latin-1: café")]
    [InlineData("cafe\u0301", "caf\u00e9")]                                   // composition
    [InlineData("A\u030a\u0301", "\u01fa")]                                  // Å then acute: Ǻ
    [InlineData("\u1e0b\u0323", "\u1e0d\u0307")]                              // reordering: dot below before dot above
    [InlineData("q\u0307\u0323", "q\u0323\u0307")]                            // no composite: ordered only
    [InlineData("\u212b", "\u00c5")]                                         // Angstrom sign: a singleton
    [InlineData("\u0958", "\u0915\u093c")]                                   // a composition exclusion stays decomposed
    [InlineData("\u1100\u1161\u11a8", "\uac01")]                              // Hangul L V T
    [InlineData("\uac00\u11a8", "\uac01")]                                   // Hangul LV + T
    [InlineData("e\u0301\u0301", "\u00e9\u0301")]                             // the second acute is blocked by the first's class
    [InlineData("\U0001d15e", "\U0001d157\U0001d165")]                        // musical half note: excluded, outside the BMP
    [InlineData("", "")]
    public void Normalize_FollowsUnicode(string text, string expected) => Assert.Equal(expected, Nfc.Normalize(text));

    [Fact]
    public void Live_MatchesPythonUnicodedata()
    {
        if (!BpeReference.Works(TokenizerReference.Python, "-c", "import unicodedata; assert unicodedata.unidata_version == '" + NfcData.UnicodeVersion + "'"))
        {
            output.WriteLine($"skipped: {TokenizerReference.Python} with Unicode {NfcData.UnicodeVersion} data is not installed");
            return;
        }
        var texts = new List<string>();
        var all = new StringBuilder();
        for (int cp = 0x80; cp < 0x30000; cp++)
            if (Rune.IsValid(cp)) all.Append(new Rune(cp).ToString()).Append(' ');
        texts.Add(all.ToString());
        var rng = new Random(5);
        int[] pieces = [0x61, 0x65, 0x41, 0x4f, 0x3b1, 0x3c9, 0x1100, 0x1161, 0x11a8, 0xac00, 0x915, 0x93c, 0x300, 0x301, 0x308, 0x323, 0x327, 0x345, 0x5b0, 0x5bc, 0x1b5, 0x1d165, 0x1d16e, 0xe9, 0xfb2c];
        for (int i = 0; i < 500; i++)
            texts.Add(string.Concat(Enumerable.Range(0, rng.Next(1, 12)).Select(_ => new Rune(pieces[rng.Next(pieces.Length)]).ToString())));
        const string script = "import sys, json, unicodedata\nsys.stdout.write(json.dumps([unicodedata.normalize('NFC', t) for t in json.loads(sys.stdin.read())]))";
        var (code, stdout, stderr) = BpeReference.RunProcess(TokenizerReference.Python, ["-c", script], JsonSerializer.Serialize(texts.ToArray(), BpeJson.Default.StringArray));
        Assert.True(code == 0, stderr);
        var expected = JsonSerializer.Deserialize(stdout, BpeJson.Default.StringArray)!;
        for (int i = 0; i < texts.Count; i++)
            Assert.True(expected[i] == Nfc.Normalize(texts[i]), $"text {i}: {string.Join(" ", texts[i].EnumerateRunes().Take(12).Select(r => $"U+{r.Value:X4}"))}");
        output.WriteLine($"{texts.Count} texts (one with every code point up to U+2FFFF) equal to Python's NFC");
    }
}
