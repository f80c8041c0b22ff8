using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Edge.Tests.Support;
using Edge.Text;
using Xunit;

namespace Edge.Tests.Text;

/// <summary>The three file layouts, written into temp folders, and every refusal of a malformed file.</summary>
public class BpeFileTests
{
    const string Sample = "Hello world! It's 3.14159 — café 日本語 🤖\n\n  indented\tcode { x = 1; }<|endoftext|>next";

    static BpeTokenizer Gpt2 => BpeExactnessTests.Gpt2.Value;

    static (List<(string Token, int Id)> Vocab, List<string> Merges) Gpt2Files()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(BpeReference.Encoder));
        var vocab = doc.RootElement.EnumerateObject().Select(p => (p.Name, p.Value.GetInt32())).ToList();
        var merges = File.ReadAllText(BpeReference.Merges).Split('\n').Skip(1).Where(l => l.Length > 0).ToList();
        return (vocab, merges);
    }

    static string VocabJson(IEnumerable<(string Token, int Id)> vocab)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            foreach (var (t, id) in vocab) w.WriteNumber(t, id);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    static string TokenizerJson(IEnumerable<(string Token, int Id)> vocab, IEnumerable<string> merges, bool pairs, string added = "", string type = "BPE")
    {
        var mergesJson = merges.Select(m => pairs
            ? JsonSerializer.Serialize(m.Split(' '), BpeJson.Default.StringArray)
            : JsonSerializer.Serialize(m, BpeJson.Default.String));
        return $$$"""{"version":"1.0","added_tokens":[{{{added}}}],"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"{{{type}}}","vocab":{{{VocabJson(vocab)}}},"merges":[{{{string.Join(",", mergesJson)}}}]}}""";
    }

    const string EndOfTextAdded = """{"id":50256,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":true}""";

    [Fact]
    public void Hugging_face_files_encode_like_gpt2()
    {
        using var dir = new TempDir();
        var (vocab, merges) = Gpt2Files();
        File.WriteAllText(dir.File("vocab.json"), VocabJson(vocab));
        File.WriteAllText(dir.File("merges.txt"), "#version: 0.2\n" + string.Join("\n", merges) + "\n");
        var hf = BpeTokenizer.FromHuggingFace(dir.File("vocab.json"), dir.File("merges.txt"));
        Assert.Equal(Gpt2.Encode(Sample), hf.Encode(Sample));
        Assert.Equal(50256, hf.EndOfText);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Tokenizer_json_encodes_like_gpt2_with_merges_as_strings_or_pairs(bool pairs)
    {
        using var dir = new TempDir();
        var (vocab, merges) = Gpt2Files();
        File.WriteAllText(dir.File("tokenizer.json"), TokenizerJson(vocab.Where(v => v.Id != 50256), merges, pairs, EndOfTextAdded));
        var tok = BpeTokenizer.FromTokenizerJson(dir.File("tokenizer.json"));
        Assert.Equal(Gpt2.Encode(Sample), tok.Encode(Sample));
        Assert.Equal(50257, tok.VocabSize);
        Assert.Equal(50256, tok.EndOfText);
        Assert.Equal("<|endoftext|>", tok.Token(50256));
    }

    [Fact]
    public void Saved_gpt2_reloads_from_each_layout_through_from_directory()
    {
        using var dir = new TempDir();
        Gpt2.SaveHuggingFace(dir.Path);
        Assert.Equal(["merges.txt", "vocab.json"], Directory.GetFiles(dir.Path).Select(f => Path.GetFileName(f)).Order());
        Assert.StartsWith("#version: 0.2\nĠ t\n", File.ReadAllText(dir.File("merges.txt")));
        Assert.Equal(Gpt2.Encode(Sample), BpeTokenizer.FromDirectory(dir.Path).Encode(Sample));

        using var original = new TempDir();
        File.Copy(BpeReference.Encoder, original.File("encoder.json"));
        File.Copy(BpeReference.Merges, original.File("vocab.bpe"));
        Assert.Equal(Gpt2.Encode(Sample), BpeTokenizer.FromDirectory(original.Path).Encode(Sample));

        // tokenizer.json wins over the others; this one has no specials, so <|endoftext|> is text.
        var (vocab, merges) = Gpt2Files();
        File.WriteAllText(original.File("tokenizer.json"), TokenizerJson(vocab.Where(v => v.Id != 50256), merges, pairs: false));
        var tok = BpeTokenizer.FromDirectory(original.Path);
        Assert.Null(tok.EndOfText);
        Assert.Equal(Gpt2.Encode(Sample, allowSpecial: false), tok.Encode(Sample));
    }

    [Fact]
    public void A_hand_made_vocab_applies_its_merges_by_rank()
    {
        using var dir = new TempDir();
        var (vocab, merges) = Tiny();
        File.WriteAllText(dir.File("vocab.json"), VocabJson(vocab));
        File.WriteAllText(dir.File("merges.txt"), "#version: 0.2\n" + string.Join("\n", merges));   // no final newline
        var tok = BpeTokenizer.FromHuggingFace(dir.File("vocab.json"), dir.File("merges.txt"));
        Assert.Equal(260, tok.VocabSize);
        Assert.Equal([259], tok.Encode("hello"));
        Assert.Equal([259, 258, 256], tok.Encode("hellollhe"));     // 'hello' 'll' 'he'
        Assert.Equal([(int)' ', 259], tok.Encode(" hello"));         // no 'Ġh' merge: the space stays a byte
        Assert.Null(tok.EndOfText);
        Assert.Empty(tok.SpecialTokens);
    }

    /// <summary>256 byte tokens (id = byte), then 'he' 'll' 'hell' 'hello'.</summary>
    static (List<(string, int)> Vocab, List<string> Merges) Tiny()
    {
        var vocab = Enumerable.Range(0, 256).Select(b => (BpePreTokenizer.ByteChars[b].ToString(), b)).ToList();
        vocab.AddRange([("he", 256), ("hell", 257), ("ll", 258), ("hello", 259)]);
        return (vocab, ["h e", "l l", "he ll", "hell o"]);
    }

    public static TheoryData<string> Malformed => new(
        "missing vocab file", "missing merges file", "bad json", "vocab is an array", "vocab id is a string", "vocab id is fractional",
        "negative id", "duplicate ids", "duplicate tokens", "missing byte token", "merge of one symbol", "merge of three symbols",
        "blank merge line", "merge not covered", "merge result not covered", "empty merges file", "no merges after version",
        "tokenizer model not bpe", "tokenizer without model", "tokenizer merge not a pair", "tokenizer added token without id",
        "tokenizer added token clashes", "not a tokenizer directory", "missing directory");

    [Theory, MemberData(nameof(Malformed))]
    public void Malformed_files_are_refused_naming_the_file(string name)
    {
        using var dir = new TempDir();
        var (vocab, merges) = Tiny();
        string vocabPath = dir.File("vocab.json"), mergesPath = dir.File("merges.txt"), tokenizerPath = dir.File("tokenizer.json");
        File.WriteAllText(vocabPath, VocabJson(vocab));
        File.WriteAllText(mergesPath, "#version: 0.2\n" + string.Join("\n", merges) + "\n");
        string blamed = vocabPath;
        Func<BpeTokenizer> load = () => BpeTokenizer.FromHuggingFace(vocabPath, mergesPath);
        void Vocab(string json) => File.WriteAllText(vocabPath, json);
        void Merges(string text) { File.WriteAllText(mergesPath, text); blamed = mergesPath; }
        void Tokenizer(string json)
        {
            File.WriteAllText(tokenizerPath, json);
            blamed = tokenizerPath;
            load = () => BpeTokenizer.FromTokenizerJson(tokenizerPath);
        }
        string fragment = name switch
        {
            "missing vocab file" => Do(() => File.Delete(vocabPath), "file not found"),
            "missing merges file" => Do(() => { File.Delete(mergesPath); blamed = mergesPath; }, "file not found"),
            "bad json" => Do(() => Vocab("{\"a\": 1,"), "malformed JSON"),
            "vocab is an array" => Do(() => Vocab("[\"a\", \"b\"]"), "expected an object"),
            "vocab id is a string" => Do(() => Vocab(VocabJson(vocab).Replace("\"he\":256", "\"he\":\"256\"")), "'he'"),
            "vocab id is fractional" => Do(() => Vocab(VocabJson(vocab).Replace("\"he\":256", "\"he\":256.5")), "integer id"),
            "negative id" => Do(() => Vocab(VocabJson(vocab).Replace("\"he\":256", "\"he\":-3")), "negative id"),
            "duplicate ids" => Do(() => Vocab(VocabJson(vocab).Replace("\"ll\":258", "\"ll\":256")), "duplicate id 256"),
            "duplicate tokens" => Do(() => Vocab(VocabJson(vocab)[..^1] + ",\"he\":260}"), "duplicate token 'he'"),
            "missing byte token" => Do(() => Vocab(VocabJson(vocab.Where(v => v.Item2 != 'q'))), "byte 0x71"),
            "merge of one symbol" => Do(() => Merges("#version: 0.2\nh e\nll\n"), "line 3"),
            "merge of three symbols" => Do(() => Merges("#version: 0.2\nh e l\n"), "two symbols"),
            "blank merge line" => Do(() => Merges("#version: 0.2\nh e\n\nl l\n"), "line 3"),
            "merge not covered" => Do(() => Merges("#version: 0.2\nh e\nhe x!\n"), "vocab does not cover merge 2: 'he x!'"),
            "merge result not covered" => Do(() => Merges("#version: 0.2\nh e\nhe l\n"), "vocab does not cover merge 2: 'he l'"),
            "empty merges file" => Do(() => Merges(""), "no merges"),
            "no merges after version" => Do(() => Merges("#version: 0.2\n"), "no merges"),
            "tokenizer model not bpe" => Do(() => Tokenizer(TokenizerJson(vocab, merges, false, type: "WordPiece")), "\"WordPiece\", expected \"BPE\""),
            "tokenizer without model" => Do(() => Tokenizer("{\"added_tokens\":[]}"), "\"model\""),
            "tokenizer merge not a pair" => Do(() => Tokenizer(TokenizerJson(vocab, merges, false).Replace("\"l l\"", "[\"l\"]")), "merge 2"),
            "tokenizer added token without id" => Do(() => Tokenizer(TokenizerJson(vocab, merges, false, "{\"content\":\"<x>\"}")), "added token 1"),
            "tokenizer added token clashes" => Do(() => Tokenizer(TokenizerJson(vocab, merges, false, "{\"id\":256,\"content\":\"<x>\"}")), "id 256"),
            "not a tokenizer directory" => Do(() => { File.Delete(vocabPath); blamed = dir.Path; load = () => BpeTokenizer.FromDirectory(dir.Path); }, "no BPE tokenizer files"),
            "missing directory" => Do(() => { blamed = dir.File("nope"); load = () => BpeTokenizer.FromDirectory(dir.File("nope")); }, "directory not found"),
            _ => throw new ArgumentException(name),
        };
        var e = Assert.Throws<EdgeException>(load);
        Assert.StartsWith(blamed + ": ", e.Message);
        Assert.Contains(fragment, e.Message);
        Assert.DoesNotContain('\n', e.Message);

        static string Do(Action setup, string fragment)
        {
            setup();
            return fragment;
        }
    }
}
