using System.Text.Json.Nodes;
using Edge.Tests.Support;
using Edge.Text;
using Xunit;
using static Edge.Tests.Text.TokenizerReference;

namespace Edge.Tests.Text;

/// <summary>Which tokenizer a folder's files give, and one-line refusals naming the file for what Edge does not read.</summary>
public class LlamaTokenizerFileTests
{
    [Theory]
    [InlineData("sp", typeof(SentencePieceBpe)), InlineData("hf-llama", typeof(SentencePieceBpe)), InlineData("hf-smollm", typeof(BpeTokenizer))]
    public void Load_PicksByTheFilesPresent(string name, Type type) => Assert.IsType(type, TokenizerFiles.Load(Dir(name)));

    [Fact]
    public void Load_PrefersTokenizerJson_ThenTokenizerModel_ThenBpeFiles()
    {
        using var dir = new TempDir();
        File.Copy(Path.Combine(Dir("sp"), "tokenizer.model"), dir.File("tokenizer.model"));
        File.Copy(TestData.File("gpt2/encoder.json"), dir.File("encoder.json"));
        File.Copy(TestData.File("gpt2/vocab.bpe"), dir.File("vocab.bpe"));
        Assert.Equal(SentencePieceBpe.Source.SentencePiece, Assert.IsType<SentencePieceBpe>(TokenizerFiles.Load(dir.Path)).From);
        File.Copy(Path.Combine(Dir("hf-qwen2"), "tokenizer.json"), dir.File("tokenizer.json"));
        Assert.Equal(ByteLevelSplit.Qwen2, Assert.IsType<BpeTokenizer>(TokenizerFiles.Load(dir.Path)).Split);
        File.Delete(dir.File("tokenizer.json"));
        File.Delete(dir.File("tokenizer.model"));
        Assert.Equal(50257, TokenizerFiles.Load(dir.Path).VocabSize);
        File.Delete(dir.File("vocab.bpe"));
        AssertRefused(dir.Path, () => TokenizerFiles.Load(dir.Path), "no tokenizer files");
    }

    [Fact]
    public void PreTokenizers_AreReadFromTheFile()
    {
        Assert.Equal(ByteLevelSplit.Gpt2IndividualDigits, Assert.IsType<BpeTokenizer>(TokenizerFiles.Load(Dir("hf-smollm"))).Split);
        var qwen = Assert.IsType<BpeTokenizer>(TokenizerFiles.Load(Dir("hf-qwen2")));
        Assert.Equal(TextNormalization.Nfc, qwen.Normalization);
    }

    /// <summary>The pieces each pre-tokenizer splits text into, as Hugging Face's tokenizers 0.23.2 splits them (preTokenizeString).</summary>
    [Theory]
    [InlineData(ByteLevelSplit.Gpt2, "a  123 (hello) 𝔘's", "a| | 123| (|hello|)| 𝔘|'s")]
    [InlineData(ByteLevelSplit.Gpt2IndividualDigits, "a  123 (hello) 𝔘's", "a|  |1|2|3| (|hello|)| 𝔘|'s")]
    [InlineData(ByteLevelSplit.Gpt2IndividualDigits, "x \t7 \n", "x| \t|7| \n")]
    [InlineData(ByteLevelSplit.Qwen2, "a  123 (hello) 𝔘'S(hello", "a| | |1|2|3| (|hello|)| 𝔘|'S|(hello")]
    [InlineData(ByteLevelSplit.Qwen2, "one\r\n\r\n  two:\n\n\tthree  ", "one|\r\n\r\n| | two|:\n\n|\tthree|  ")]
    [InlineData(ByteLevelSplit.Qwen2, "'ſx 'RE 'x", "'ſ|x| '|RE| '|x")]
    public void PreTokenizer_Pieces(ByteLevelSplit split, string text, string pieces)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        var found = new List<string>();
        for (int i = 0, end; i < bytes.Length; i = end)
        {
            end = ByteLevelSplits.PieceEnd(split, bytes, i);
            found.Add(System.Text.Encoding.UTF8.GetString(bytes, i, end - i));
        }
        Assert.Equal(pieces.Split('|'), found);
    }

    // ---- tokenizer.model ----

    static byte[] Model => File.ReadAllBytes(Path.Combine(Dir("sp"), "tokenizer.model"));

    [Fact]
    public void TokenizerModel_RefusesWhatItDoesNotRead()
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer.model");
        void Refused(byte[] bytes, string message)
        {
            File.WriteAllBytes(path, bytes);
            AssertRefused(path, () => SentencePieceBpe.FromModelFile(path), message);
        }
        Refused([.. Model, 0x12, 0x02, 0x18, 0x01], "a SentencePiece unigram model; Edge reads BPE models");           // trainer_spec.model_type = UNIGRAM
        Refused([.. Model, 0x1A, 0x0E, 0x0A, 0x08, .. "nmt_nfkc"u8, 0x12, 0x02, 0x01, 0x02], "the normalizer 'nmt_nfkc' rewrites text with a character map");
        Refused([.. Model, 0x12, 0x02, 0xC0, 0x01], "malformed protobuf");                                               // a cut-off tag
        Refused(Model[..(Model.Length / 2)], "tokenizer.model: ");
        Refused("not a protobuf at all\n"u8.ToArray(), "tokenizer.model");
        Refused([], "no pieces");
        Refused([.. Model, 0x12, 0x02, 0xC8, 0x02, 0x12, 0x02, 0xC8, 0x02], "malformed protobuf");
        Refused([.. Model, 0x12, 0x03, 0xC8, 0x02, 0x05], "bos id 5 is the piece '<0x02>' of type Byte, expected Control");
        AssertRefused(dir.File("missing.model"), () => SentencePieceBpe.FromModelFile(dir.File("missing.model")), "file not found");
    }

    // ---- tokenizer.bin ----

    [Fact]
    public void TokenizerBin_RefusesMalformedFiles()
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer.bin");
        var good = File.ReadAllBytes(Path.Combine(Dir("llama2c"), "tokenizer.bin"));
        void Refused(byte[] bytes, string message)
        {
            File.WriteAllBytes(path, bytes);
            AssertRefused(path, () => TokenizerFiles.LoadLlama2c(path), message);
        }
        Refused(good[..^3], "is cut off");
        Refused([0, 0, 0, 0, .. good[4..]], "max_token_length is 0");
        Refused(good[..200], "is cut off");
        var swapped = good.ToArray();
        swapped[4 + 8 + "<unk>".Length + 8 + "\n<s>\n".Length + 8 + "\n</s>\n".Length + 8 + 4] = (byte)'1';   // <0x00> -> <0x01>
        Refused(swapped, "token 3 is '<0x01>', expected the byte token <0x00>");
    }

    // ---- tokenizer.json ----

    public static TheoryData<string, string, string> JsonEdits => new()
    {
        { "hf-llama", "model.type=WordPiece", "the model type is \"WordPiece\", expected \"BPE\"" },
        { "hf-llama", "normalizer={\"type\":\"NFKC\"}", "the normalizer {\"type\":\"NFKC\"} is not supported for a byte-fallback BPE" },
        { "hf-llama", "pre_tokenizer={\"type\":\"Whitespace\"}", "the pre_tokenizer {\"type\":\"Whitespace\"} is not supported" },
        { "hf-llama", "decoder={\"type\":\"WordPiece\"}", "the decoder {\"type\":\"WordPiece\"} is not supported" },
        { "hf-llama", "added_tokens.0.lstrip=true", "has \"lstrip\": true" },
        { "hf-llama", "model.dropout=0.1", "BPE dropout (0.1) is not supported" },
        { "hf-llama", "model.vocab.<0x41>=999999", "no token has id 68" },
        { "hf-qwen2", "pre_tokenizer.pretokenizers.0.pattern.Regex=\\p{N}{1,3}", "the pre_tokenizer" },
        { "hf-qwen2", "model.ignore_merges=true", "ignore_merges (Llama 3's tokenizer) is not supported" },
        { "hf-qwen2", "normalizer={\"type\":\"NFKC\"}", "(Edge applies NFC or none)" },
        { "hf-smollm", "pre_tokenizer.pretokenizers.0.individual_digits=false", "is not one Edge implements" },
        { "hf-smollm", "model.continuing_subword_prefix=##", "continuing_subword_prefix" },
        { "hf-smollm", "post_processor={\"type\":\"RobertaProcessing\"}", "the post_processor {\"type\":\"RobertaProcessing\"} is not supported" },
    };

    [Theory, MemberData(nameof(JsonEdits))]
    public void TokenizerJson_RefusesWhatItDoesNotRead(string fixture, string edit, string message)
    {
        var root = JsonNode.Parse(File.ReadAllText(Path.Combine(Dir(fixture), "tokenizer.json")))!;
        int eq = edit.IndexOf('=');
        var keys = edit[..eq].Split('.');
        string value = edit[(eq + 1)..];
        JsonNode node = root;
        foreach (var key in keys[..^1]) node = int.TryParse(key, out int i) ? node[i]! : node[key]!;
        JsonNode? parsed;
        try { parsed = JsonNode.Parse(value); } catch (System.Text.Json.JsonException) { parsed = JsonValue.Create(value); }
        if (int.TryParse(keys[^1], out int index)) node[index] = parsed; else node[keys[^1]] = parsed;
        using var dir = new TempDir();
        string path = dir.File("tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        AssertRefused(path, () => TokenizerFiles.Load(dir.Path), message);
    }

    static void AssertRefused(string path, Action load, string message)
    {
        var e = Assert.Throws<EdgeException>(load);
        Assert.StartsWith(path, e.Message);
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}

/// <summary>The Llama loaders find their tokenizer files: a Hugging Face folder's, and the tokenizer.bin beside a llama2.c checkpoint.</summary>
public class LlamaModelTokenizerTests
{
    static LanguageModel Model(int vocab)
    {
        var model = Edge.Tests.Models.TinyLlamaHalf.Descriptor.Create(vocab);
        model.Initialize(7);
        return model;
    }

    /// <summary>Greedy text from the model through the tokenizer it loaded with: the generator streams its tokens' bytes.</summary>
    static string Generate(Checkpoint.Loaded loaded, string prompt)
    {
        using var context = loaded.Model.CreateDecodingContext();
        var generator = new Edge.Generation.TextGenerator(context, loaded.Tokenizer);
        var output = new StringWriter();
        int produced = generator.Generate(loaded.Tokenizer.Encode(prompt), 8, new Edge.Generation.Sampler(loaded.Tokenizer.VocabSize, 1, temperature: 0), output);
        Assert.Equal(8, produced);
        return output.ToString();
    }

    [Theory]
    [InlineData("sp", "tokenizer.model"), InlineData("hf-llama", "tokenizer.json")]
    public void HuggingFaceFolder_LoadsItsTokenizer(string fixture, string file)
    {
        using var dir = new TempDir();
        var tokenizer = TokenizerFiles.Load(Dir(fixture));
        using (var model = Model(tokenizer.VocabSize))
        {
            var s = model.Info.Llama!;
            File.WriteAllText(dir.File("config.json"), $$"""
                {"model_type": "llama", "hidden_size": {{s.Width}}, "intermediate_size": {{s.MlpHidden}}, "num_hidden_layers": {{s.Layers}},
                 "num_attention_heads": {{s.Heads}}, "num_key_value_heads": {{s.KvHeads}}, "max_position_embeddings": {{s.Context}},
                 "vocab_size": {{tokenizer.VocabSize}}, "rms_norm_eps": {{s.NormEpsilon}}, "rope_theta": {{s.RopeTheta}}, "tie_word_embeddings": false}
                """);
            var parameters = model.Parameters.ToArray();
            var weights = model.Weights.ToArray();
            Edge.Formats.SafeTensorsWriter.Write(dir.File("model.safetensors"),
                [.. parameters.Select(p => (p.Name, Edge.Formats.DType.F32, p.Shape.Select(d => (long)d).ToArray()))],
                i => System.Runtime.InteropServices.MemoryMarshal.AsBytes(weights.AsSpan(parameters[i].Offset, parameters[i].Length)).ToArray());
        }
        File.Copy(Path.Combine(Dir(fixture), file), dir.File(file));
        var loaded = HuggingFaceLlama.Load(dir.Path, [Edge.Tests.Models.TinyLlamaHalf.Descriptor]);
        using var _ = loaded.Model;
        var tok = Assert.IsType<SentencePieceBpe>(loaded.Tokenizer);
        Assert.Equal([1, 329, 429, 939, 880], tok.Encode("Hello world"));
        Assert.NotEmpty(Generate(loaded, "ROMEO:"));
    }

    [Fact]
    public void Llama2cCheckpoint_ReadsTheTokenizerBesideIt()
    {
        using var dir = new TempDir();
        File.Copy(Path.Combine(Dir("llama2c"), "tokenizer.bin"), dir.File("tokenizer.bin"));
        using (var model = Model(TokenizerFiles.LoadLlama2c(dir.File("tokenizer.bin")).VocabSize))
            Llama2cCheckpoint.Write(dir.File("model.bin"), model);
        var loaded = Llama2cCheckpoint.Load(dir.File("model.bin"), [Edge.Tests.Models.TinyLlamaHalf.Descriptor]);
        using var _ = loaded.Model;
        var tok = Assert.IsType<SentencePieceBpe>(loaded.Tokenizer);
        Assert.Equal(SentencePieceBpe.Source.Llama2c, tok.From);
        Assert.Equal([1, 329, 429, 939, 880], tok.Encode("Hello world"));
        Assert.NotEmpty(Generate(loaded, "ROMEO:"));
    }
}
