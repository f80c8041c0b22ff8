using System.Text;
using Edge.Text;
using Xunit;
using Xunit.Abstractions;
using Edge.Tests.Kernels;
using static Edge.Tests.Text.TokenizerReference;

namespace Edge.Tests.Text;

/// <summary>
/// The Llama family's tokenizers against their references, id for id: SentencePiece for tokenizer.model, Hugging Face's
/// tokenizers for tokenizer.json (byte fallback, and byte-level with SmolLM's and Qwen2's pre-tokenizers), and for
/// llama2.c's tokenizer.bin SentencePiece's ids after BOS (run.c's merge is SentencePiece's).
/// </summary>
public class LlamaTokenizerTests(ITestOutputHelper output)
{
    static ITokenizer Load(string name) => name switch
    {
        "llama2c" => TokenizerFiles.LoadLlama2c(Path.Combine(Dir(name), "tokenizer.bin")),
        _ => TokenizerFiles.Load(Dir(name)),
    };

    public static TheoryData<string> SentencePieceFixtures => new(["sp", "sp-collapse", "sp-unused", "sp-user"]);
    public static TheoryData<string> HuggingFaceFixtures => new(["hf-llama", "hf-llama-metaspace", "hf-smollm", "hf-qwen2"]);

    [Theory, MemberData(nameof(SentencePieceFixtures))]
    public void TokenizerModel_MatchesSentencePiece(string name)
    {
        var tok = Assert.IsType<SentencePieceBpe>(Load(name));
        var (ids, decoded) = Stored(name);
        var texts = Texts.Value;
        for (int i = 0; i < texts.Length; i++)
        {
            AssertIds(ids[i], tok.EncodeWithoutBos(texts[i]), tok, texts[i]);
            AssertIds([1, .. ids[i]], tok.Encode(texts[i]), tok, texts[i]);
            Assert.Equal(decoded[i], tok.Decode(ids[i]));
            Assert.Equal(decoded[i], tok.Decode([1, .. ids[i], 2]));
        }
    }

    [Theory, MemberData(nameof(HuggingFaceFixtures))]
    public void TokenizerJson_MatchesHuggingFace(string name)
    {
        var tok = Load(name);
        Assert.IsType(name is "hf-smollm" or "hf-qwen2" ? typeof(BpeTokenizer) : typeof(SentencePieceBpe), tok);
        var (ids, decoded) = Stored(name);
        var texts = Texts.Value;
        for (int i = 0; i < texts.Length; i++)
        {
            AssertIds(ids[i], tok.Encode(texts[i]), tok, texts[i]);
            Assert.Equal(decoded[i], tok.Decode(ids[i]));
        }
    }

    [Fact]
    public void Llama2c_MatchesSentencePieceAfterBos()
    {
        var tok = Load("llama2c");
        var (ids, decoded) = Stored("sp");
        var texts = Texts.Value;
        for (int i = 0; i < texts.Length; i++)
        {
            AssertIds([1, .. ids[i]], tok.Encode(texts[i]), tok, texts[i]);
            Assert.Equal(decoded[i], tok.Decode([1, .. ids[i]]));
        }
    }

    /// <summary>The same pieces through the three files: one encoding (Hugging Face's legacy form adds BOS like the others).</summary>
    [Fact]
    public void TheThreeFiles_EncodeAlike()
    {
        var model = Load("sp");
        var json = Load("hf-llama");
        var bin = Load("llama2c");
        foreach (var text in Texts.Value.Where(t => !t.Contains("<s>")).Concat(RandomTexts(200, 7, [])).Where(t => !t.Contains('▁')))
        {
            var ids = model.Encode(text);
            AssertIds(ids, json.Encode(text), model, text);
            AssertIds(ids, bin.Encode(text), model, text);
        }
    }

    /// <summary>
    /// decode(encode(x)) == x for SentencePiece's identity normaliser, llama2.c and the byte-level files; the caveats are
    /// the normalisers': collapsing whitespace (sp-collapse) gives the collapsed text, and a literal '▁' comes back as a space.
    /// </summary>
    [Theory]
    [InlineData("sp"), InlineData("sp-collapse"), InlineData("hf-llama"), InlineData("llama2c"), InlineData("hf-smollm")]
    public void Decode_Encode_RoundTrips(string name)
    {
        var tok = Load(name);
        foreach (var text in Texts.Value.Concat(RandomTexts(300, 11, ["<|endoftext|>", "<|im_start|>"])))
        {
            if (name is "hf-llama" && text.Contains("<s>")) continue;             // specials in text decode to nothing
            if (name is "sp-collapse" && text.Contains('▁')) continue;            // a literal '▁' is a space there, trailing ones go
            string expected = name switch
            {
                "sp-collapse" => string.Join(' ', text.Split(' ', StringSplitOptions.RemoveEmptyEntries)),
                "llama2c" or "hf-smollm" => text,
                _ => text.Replace('▁', ' '),
            };
            Assert.Equal(expected, tok.Decode(tok.Encode(text)));
        }
    }

    /// <summary>Qwen2's NFC normaliser: decoding gives the composed text back.</summary>
    [Fact]
    public void Qwen2_RoundTripsToNfc()
    {
        var tok = Load("hf-qwen2");
        foreach (var text in Texts.Value.Concat(RandomTexts(300, 13, ["<|endoftext|>"])))
            Assert.Equal(Edge.Text.Nfc.Normalize(text), tok.Decode(tok.Encode(text)));
    }

    [Fact]
    public void EncodeAddsBos_AndStartTokenIsBos()
    {
        foreach (var name in new[] { "sp", "hf-llama", "hf-llama-metaspace", "llama2c" })
        {
            var tok = Assert.IsType<SentencePieceBpe>(Load(name));
            Assert.Equal(1, tok.StartToken);
            Assert.Equal([1], tok.Encode(""));
            Assert.Empty(tok.EncodeWithoutBos(""));
            Assert.Equal(2, tok.Eos);
            Assert.Equal(0, tok.TokenBytes(1).Length);
            Assert.Equal(0, tok.TokenBytes(2).Length);
        }
        Assert.Equal(0, Load("hf-smollm").StartToken);                          // <|endoftext|>, as GPT-2's
        Assert.Empty(Load("hf-qwen2").Encode(""));
    }

    [Fact]
    public void ByteFallback_GivesTheUtf8Bytes()
    {
        var tok = Assert.IsType<SentencePieceBpe>(Load("sp"));
        var ids = tok.EncodeWithoutBos("🤖");
        Assert.Equal(["▁", "<0xF0>", "<0x9F>", "<0xA4>", "<0x96>"], ids.Select(tok.Piece));
        Assert.Equal(" 🤖"u8.ToArray(), ids.SelectMany(id => tok.TokenBytes(id).ToArray()));
        Assert.Equal(SentencePieceBpe.PieceType.Byte, tok.Type(ids[1]));
        Assert.Equal(3 + 0xF0, ids[1]);
    }

    /// <summary>What generation does per token must not allocate: TokenBytes of every id.</summary>
    [Theory]
    [InlineData("sp"), InlineData("hf-llama"), InlineData("llama2c"), InlineData("hf-qwen2")]
    public void TokenBytes_DoesNotAllocate(string name)
    {
        var tok = Load(name);
        long total = 0;
        int id = 0;
        Expect.AllocatesNothing(() => total += tok.TokenBytes(id++ % tok.VocabSize).Length, $"{name}: TokenBytes",
            warmUp: tok.VocabSize, calls: tok.VocabSize);
        Assert.True(total > tok.VocabSize);
    }

    /// <summary>Streaming the tokens' bytes gives the decoded text (less the dummy prefix's space that Decode strips).</summary>
    [Fact]
    public void StreamedBytes_AreTheText()
    {
        var tok = Load("sp");
        foreach (var text in Texts.Value.Where(t => t.Length > 0))
        {
            var bytes = tok.Encode(text).SelectMany(id => tok.TokenBytes(id).ToArray()).ToArray();
            Assert.Equal(" " + text, Encoding.UTF8.GetString(bytes));
        }
    }

    [Fact]
    public void Llama2c_FollowsRunC()
    {
        var tok = Assert.IsType<SentencePieceBpe>(Load("llama2c"));
        Assert.Equal(SentencePieceBpe.Source.Llama2c, tok.From);
        Assert.Equal(" the", tok.Piece(tok.EncodeWithoutBos("the")[0]));                 // the dummy prefix space merges in
        // A literal '▁' is not a space to run.c (its vocabulary spells spaces ' '): it falls back to bytes.
        var ids = tok.EncodeWithoutBos("▁");
        Assert.Equal([" ", "<0xE2>", "<0x96>", "<0x81>"], ids.Select(tok.Piece));
        Assert.Equal("the", tok.Decode([1, .. tok.EncodeWithoutBos("the")]));             // a space after BOS is dropped
        Assert.Equal(" the", tok.Decode(tok.EncodeWithoutBos("the")));
    }

    // ---- live references, when installed ----

    [Fact]
    public void Live_SentencePiece_OnRandomText()
    {
        if (!SentencePieceAvailable) { output.WriteLine($"skipped: {Python} with sentencepiece is not installed"); return; }
        var texts = RandomTexts(300, 21, ["<s>", "</s>", "<0x41>", "  \n  "]);
        foreach (var name in new[] { "sp", "sp-collapse", "sp-unused", "sp-user" })
        {
            var tok = Assert.IsType<SentencePieceBpe>(Load(name));
            string model = Path.Combine(Dir(name), "tokenizer.model");
            var expected = SentencePieceEncode(model, texts);
            var decoded = SentencePieceDecode(model, expected);
            for (int i = 0; i < texts.Length; i++)
            {
                AssertIds(expected[i], tok.EncodeWithoutBos(texts[i]), tok, texts[i]);
                Assert.True(decoded[i] == tok.Decode(expected[i]), $"{name}: ids [{string.Join(", ", expected[i])}] decode to '{tok.Decode(expected[i])}', SentencePiece '{decoded[i]}'");
            }
        }
        output.WriteLine($"{texts.Length} texts x 4 models equal to SentencePiece");
    }

    [Fact]
    public void Live_HuggingFace_OnRandomText()
    {
        if (!HuggingFaceAvailable) { output.WriteLine("skipped: node with the npm package tokenizers under $EDGE_REFERENCE_NODE_MODULES is not installed"); return; }
        var texts = RandomTexts(300, 23, ["<s>", "</s>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "'S", "'Re", "'ſ", "(hello", " 123", "\r\n\r\n", " \n "]);
        foreach (var name in new[] { "hf-llama", "hf-llama-metaspace", "hf-smollm", "hf-qwen2" })
        {
            var tok = Load(name);
            string file = Path.Combine(Dir(name), "tokenizer.json");
            var expected = HuggingFaceEncode(file, texts);
            var decoded = HuggingFaceDecode(file, expected);
            for (int i = 0; i < texts.Length; i++)
            {
                AssertIds(expected[i], tok.Encode(texts[i]), tok, texts[i]);
                Assert.Equal(decoded[i], tok.Decode(expected[i]));
            }
        }
        output.WriteLine($"{texts.Length} texts x 4 files equal to Hugging Face's tokenizers");
    }

    internal static void AssertIds(int[] expected, int[] actual, ITokenizer tok, string text)
    {
        if (expected.AsSpan().SequenceEqual(actual)) return;
        int i = 0;
        while (i < expected.Length && i < actual.Length && expected[i] == actual[i]) i++;
        string Show(int[] ids) => string.Join(" ", ids.Skip(Math.Max(0, i - 3)).Take(8).Select(id => $"{id}:'{Escape(tok.TokenBytes(id))}'"));
        Assert.Fail($"text {Escape(Encoding.UTF8.GetBytes(text))}: ids differ at {i} (expected {expected.Length}, got {actual.Length})\n  expected {Show(expected)}\n  actual   {Show(actual)}");
    }

    static string Escape(ReadOnlySpan<byte> bytes)
    {
        var s = Encoding.UTF8.GetString(bytes);
        return s.Length > 120 ? s[..120] + "…" : s.Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t");
    }
}
