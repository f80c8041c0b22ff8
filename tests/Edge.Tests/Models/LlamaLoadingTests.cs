using Edge.Formats;
using Edge.Tests.Support;
using Edge.Text;
using Xunit;

namespace Edge.Tests.Models;

/// <summary>Hugging Face Llama-family folders and llama2.c checkpoints load into the declared models they describe.</summary>
public class LlamaLoadingTests
{
    const int V = 19;
    static readonly CharTokenizer Tokenizer = CharTokenizer.FromText("abcdefghijklmnopqrs");

    /// <summary>Random weights by Hugging Face name, for a model of <paramref name="info"/>'s layout.</summary>
    static Dictionary<string, float[]> RandomWeights(ModelInfo info, ulong seed)
    {
        var rng = new Rng(seed);
        return info.Describe(V).Parameters.ToDictionary(p => p.Name,
            p => Enumerable.Range(0, p.Length).Select(_ => p.Name.EndsWith("layernorm.weight") || p.Name == "model.norm.weight"
                ? 1f + 0.2f * rng.NextGaussian() : 0.3f * rng.NextGaussian()).ToArray());
    }

    static void WriteFolder(string dir, ModelInfo info, Dictionary<string, float[]> weights, string modelType = "llama", DType dtype = DType.F32,
        string extra = "", int shards = 1)
    {
        var s = info.Llama!;
        File.WriteAllText(Path.Combine(dir, "config.json"), $$"""
            {"architectures": ["LlamaForCausalLM"], "model_type": "{{modelType}}", "hidden_size": {{s.Width}}, "intermediate_size": {{s.MlpHidden}},
             "num_hidden_layers": {{s.Layers}}, "num_attention_heads": {{s.Heads}}, "num_key_value_heads": {{s.KvHeads}},
             "max_position_embeddings": {{s.Context}}, "vocab_size": {{V}}, "rms_norm_eps": {{s.NormEpsilon}}, "rope_theta": {{s.RopeTheta}},
             "tie_word_embeddings": {{(s.TiedHead ? "true" : "false")}}, "hidden_act": "silu", "torch_dtype": "bfloat16"{{extra}}}
            """);
        // Hub files list tensors in their own order (sorted names), not Edge's layout order.
        var names = weights.Keys.Order(StringComparer.Ordinal).ToList();
        var parts = names.Chunk((names.Count + shards - 1) / shards).ToList();
        var map = new Dictionary<string, string>();
        for (int k = 0; k < parts.Count; k++)
        {
            string file = shards == 1 ? "model.safetensors" : $"model-{k + 1:D5}-of-{parts.Count:D5}.safetensors";
            var list = parts[k].Select(n => (n, dtype, info.Describe(V).Find(n)!.Shape.Select(d => (long)d).ToArray())).ToList();
            SafeTensorsWriter.Write(Path.Combine(dir, file), list, i => Encode(weights[list[i].Item1], dtype));
            foreach (var n in parts[k]) map[n] = file;
        }
        if (shards > 1)
            File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
                "{\"metadata\": {}, \"weight_map\": {" + string.Join(", ", map.Select(kv => $"\"{kv.Key}\": \"{kv.Value}\"")) + "}}");
    }

    static byte[] Encode(float[] values, DType dtype) => dtype == DType.BF16
        ? values.SelectMany(v => BitConverter.GetBytes((ushort)(BitConverter.SingleToInt32Bits(v) >>> 16))).ToArray()
        : values.SelectMany(BitConverter.GetBytes).ToArray();

    /// <summary>bf16 keeps the top 16 bits of each float: what the model holds after loading a BF16 file.</summary>
    static Dictionary<string, float[]> TruncatedToBf16(Dictionary<string, float[]> w) =>
        w.ToDictionary(kv => kv.Key, kv => kv.Value.Select(v => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v) & unchecked((int)0xFFFF0000))).ToArray());

    static double WorstAgainstReference(LanguageModel model, Dictionary<string, float[]> weights, int[] tokens)
    {
        var reference = ReferenceLlama.Logits(n => weights.TryGetValue(n, out var w) ? w.Select(f => (double)f).ToArray() : null, V, tokens, model.Info.Llama!);
        var logits = model.Logits(tokens, 1, tokens.Length);
        double worst = 0;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < V; v++) worst = Math.Max(worst, Math.Abs(reference[t, v] - logits[t * V + v]));
        return worst;
    }

    static int[] Greedy(LanguageModel model, int[] prompt, int steps)
    {
        using var context = model.CreateDecodingContext();
        var ids = new List<int>();
        var logits = context.Prefill(prompt);
        for (int i = 0; i < steps; i++)
        {
            int next = 0;
            for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[next]) next = v;
            ids.Add(next);
            if (context.CachedPositions == model.InputLength) break;
            logits = context.DecodeStep(next);
        }
        return [.. ids];
    }

    [Theory]
    [InlineData(DType.F32, 1)]
    [InlineData(DType.BF16, 1)]
    [InlineData(DType.F32, 3)]
    public void HuggingFaceFolder_Loads_AndMatchesTheReference(DType dtype, int shards)
    {
        using var dir = new TempDir();
        var info = TinyLlamaHalf.Descriptor;
        var weights = RandomWeights(info, 3);
        WriteFolder(dir.Path, info, weights, dtype: dtype, shards: shards);
        var loaded = HuggingFaceLlama.Load(dir.Path, Edge.Generated.ModelRegistry.All, Tokenizer);
        using var model = loaded.Model;
        Assert.Equal("test-llama-half", loaded.Info.Name);
        var expected = dtype == DType.BF16 ? TruncatedToBf16(weights) : weights;
        double worst = WorstAgainstReference(model, expected, [1, 5, 2, 8, 3, 0, 7]);
        Assert.True(worst <= 1e-4, $"{dtype}, {shards} shard(s): max |edge - reference| = {worst:G3}");
    }

    [Fact]
    public void Qwen2Folder_WithQkvBiases_LoadsIntoTheDeclarationWithBiases()
    {
        using var dir = new TempDir();
        var info = TinyLlamaMqa.Descriptor;
        var weights = RandomWeights(info, 4);
        WriteFolder(dir.Path, info, weights, modelType: "qwen2");
        var loaded = HuggingFaceLlama.Load(dir.Path, Edge.Generated.ModelRegistry.All, Tokenizer);
        using var model = loaded.Model;
        Assert.Equal("test-llama-mqa", loaded.Info.Name);
        Assert.True(WorstAgainstReference(model, weights, [4, 4, 1, 9]) <= 1e-4);
    }

    [Fact]
    public void Llama2cCheckpoint_AndTheHuggingFaceFolderOfTheSameWeights_GenerateIdenticalGreedyTokens()
    {
        using var dir = new TempDir();
        var weights = RandomWeights(TinyLlamaHalf.Descriptor, 5);
        WriteFolder(dir.Path, TinyLlamaHalf.Descriptor, weights);
        var hf = HuggingFaceLlama.Load(dir.Path, [TinyLlamaHalf.Descriptor], Tokenizer);
        using var hfModel = hf.Model;

        // llama2.c stores Meta's interleaved q/k rows: the writer permutes them, the reader permutes them back for a
        // half-layout declaration, or keeps them for an interleaved one.
        string bin = dir.File("model.bin");
        Llama2cCheckpoint.Write(bin, hfModel);
        var header = Llama2cCheckpoint.ReadHeader(bin);
        Assert.Equal((16, 32, 2, 4, 2, V, false), (header.Dim, header.Hidden, header.Layers, header.Heads, header.KvHeads, header.VocabSize, header.SharedClassifier));
        var asInterleaved = Llama2cCheckpoint.Load(bin, [TinyLlamaHalf.Descriptor, TinyLlamaInterleavedTwin.Descriptor], Tokenizer);
        var asHalf = Llama2cCheckpoint.Load(bin, [TinyLlamaHalf.Descriptor], Tokenizer);
        using var interleaved = asInterleaved.Model;
        using var half = asHalf.Model;
        Assert.Equal("test-llama-interleaved-twin", asInterleaved.Info.Name);
        Assert.True(half.Weights.SequenceEqual(hfModel.Weights), "the half-layout load restores the Hugging Face rows exactly");

        int[] prompt = [2, 11, 7];
        var expected = Greedy(hfModel, prompt, 12);
        Assert.Equal(expected, Greedy(interleaved, prompt, 12));
        Assert.Equal(expected, Greedy(half, prompt, 12));
        Assert.True(expected.Distinct().Count() > 1, "greedy decoding of random weights should not repeat one token");
    }

    [Theory]
    [InlineData(", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}", "rope_scaling is not supported")]
    [InlineData(", \"hidden_act\": \"gelu\"", "hidden_act 'gelu' is not supported")]
    [InlineData(", \"head_dim\": 8", "head_dim 8 is not hidden_size / num_attention_heads (4)")]
    public void UnsupportedConfigs_AreRefusedOnOneLine(string extra, string expected)
    {
        using var dir = new TempDir();
        var info = TinyLlamaHalf.Descriptor;
        WriteFolder(dir.Path, info, RandomWeights(info, 6), extra: extra.Replace("\"hidden_act\": \"gelu\"", "\"mlp_bias\": false, \"hidden_act\": \"gelu\""));
        // The written config has hidden_act "silu" first; a later duplicate key takes effect.
        var e = Assert.Throws<EdgeException>(() => HuggingFaceLlama.Load(dir.Path, Edge.Generated.ModelRegistry.All, Tokenizer));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AShapeNoDeclarationHas_IsRefused_NamingTheShapeAndTheDeclarations()
    {
        using var dir = new TempDir();
        var info = TinyLlamaHalf.Descriptor;
        WriteFolder(dir.Path, info, RandomWeights(info, 7));
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), File.ReadAllText(Path.Combine(dir.Path, "config.json")).Replace("\"intermediate_size\": 32", "\"intermediate_size\": 48"));
        var e = Assert.Throws<EdgeException>(() => HuggingFaceLlama.Load(dir.Path, Edge.Generated.ModelRegistry.All, Tokenizer));
        Assert.Contains("no declared model has 2 layers, 4 heads over 2 kv heads, width 16, MLP 48", e.Message);
        Assert.Contains("test-llama-half", e.Message);
    }

    [Fact]
    public void ALlama2cFileOfTheWrongSize_IsRefused()
    {
        using var dir = new TempDir();
        var info = TinyLlamaHalf.Descriptor;
        using var model = info.Create(V);
        model.Initialize(1);
        string bin = dir.File("m.bin");
        Llama2cCheckpoint.Write(bin, model);
        File.WriteAllBytes(bin, File.ReadAllBytes(bin)[..^4]);
        var e = Assert.Throws<EdgeException>(() => Llama2cCheckpoint.Load(bin, [info], Tokenizer));
        Assert.Contains("bytes, but its header", e.Message);
    }
}
