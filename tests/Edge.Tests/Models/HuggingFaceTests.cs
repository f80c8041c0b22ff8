using System.Runtime.InteropServices;
using Edge.Formats;
using Edge.Tests.Support;
using Edge.Text;
using Xunit;

namespace Edge.Tests.Models;

/// <summary>A GPT-2-layout Hugging Face directory, built by the test (random weights, HF names and shapes).</summary>
public class HuggingFaceTests
{
    const int Layers = 2, Context = 16, Vocab = 50257;

    /// <summary>Writes the folder: GPT-2's layout with 2 layers and a context of 16 (test-gpt2-tiny's shape by default).</summary>
    internal static Dictionary<string, float[]> WriteModelDirectory(string dir, string prefix = "transformer.", string config = "", int width = 24, int heads = 3,
        string activation = "gelu_new")
    {
        File.WriteAllText(Path.Combine(dir, "config.json"), config.Length > 0 ? config : $$"""
            {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": {{Layers}}, "n_head": {{heads}},
             "n_embd": {{width}}, "n_positions": {{Context}}, "n_ctx": {{Context}}, "vocab_size": {{Vocab}},
             "activation_function": "{{activation}}", "layer_norm_epsilon": 1e-05}
            """);
        File.Copy(TestData.File("gpt2/encoder.json"), Path.Combine(dir, "vocab.json"));
        File.Copy(TestData.File("gpt2/vocab.bpe"), Path.Combine(dir, "merges.txt"));

        var rng = new Rng(17);
        var tensors = new List<(string Name, long[] Shape)>
        {
            ("wte.weight", [Vocab, width]), ("wpe.weight", [Context, width]),
        };
        for (int l = 0; l < Layers; l++)
        {
            string h = $"h.{l}.";
            tensors.AddRange(new (string, long[])[]
            {
                (h + "ln_1.weight", [width]), (h + "ln_1.bias", [width]),
                (h + "attn.bias", [1, 1, Context, Context]), // the causal-mask buffer older checkpoints carry
                (h + "attn.c_attn.weight", [width, 3 * width]), (h + "attn.c_attn.bias", [3 * width]),
                (h + "attn.c_proj.weight", [width, width]), (h + "attn.c_proj.bias", [width]),
                (h + "ln_2.weight", [width]), (h + "ln_2.bias", [width]),
                (h + "mlp.c_fc.weight", [width, 4 * width]), (h + "mlp.c_fc.bias", [4 * width]),
                (h + "mlp.c_proj.weight", [4 * width, width]), (h + "mlp.c_proj.bias", [width]),
            });
        }
        tensors.Add(("ln_f.weight", [width]));
        tensors.Add(("ln_f.bias", [width]));
        var values = tensors.ToDictionary(t => t.Name, t =>
        {
            var a = new float[t.Shape.Aggregate(1L, (x, y) => x * y)];
            bool scale = t.Name.EndsWith("ln_1.weight") || t.Name.EndsWith("ln_2.weight") || t.Name == "ln_f.weight";
            for (int i = 0; i < a.Length; i++) a[i] = (scale ? 1f : 0f) + rng.NextGaussian() * 0.1f;
            return a;
        });
        values["lm_head.weight"] = values["wte.weight"]; // tied, as GPT2LMHeadModel saves it
        var all = tensors.Select(t => (prefix + t.Name, DType.F32, t.Shape)).Append(("lm_head.weight", DType.F32, new long[] { Vocab, width })).ToList();
        var order = tensors.Select(t => t.Name).Append("lm_head.weight").ToList();
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), all,
            i => MemoryMarshal.AsBytes(values[order[i]].AsSpan()), new Dictionary<string, string> { ["format"] = "pt" });
        return values;
    }

    [Theory]
    [InlineData("transformer.")]
    [InlineData("")]
    public void Gpt2Directory_Loads_AndMatchesTheReferenceForward(string prefix)
    {
        using var dir = new TempDir();
        var values = WriteModelDirectory(dir.Path, prefix);
        var loaded = Checkpoint.LoadAny(dir.Path, [TinyGpt2.Descriptor]);
        using var model = loaded.Model;
        Assert.Equal("test-gpt2-tiny", loaded.Info.Name);
        var bpe = Assert.IsType<BpeTokenizer>(loaded.Tokenizer);
        var tokens = bpe.Encode("Hello world, this is a tiny GPT-2.");
        using var context = model.CreateInferenceContext();
        var logits = context.Logits(tokens, 1, tokens.Length).ToArray();
        var reference = ReferenceGpt.Logits(name => values.TryGetValue(name, out var v) && name != "lm_head.weight" ? v.Select(f => (double)f).ToArray() : null,
            Vocab, tokens, Layers, 3);
        double worst = 0;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < Vocab; v++) worst = Math.Max(worst, Math.Abs(reference[t, v] - logits[t * Vocab + v]));
        Assert.True(worst <= 1e-4, $"max |edge - reference| = {worst:G3}");

        // And it generates: KV-cache decoding past the context (16), streaming BPE bytes as whole characters.
        var output = new StringWriter();
        using var decoding = model.CreateDecodingContext();
        int produced = new Edge.Generation.TextGenerator(decoding, bpe).Generate(tokens, 40, new Edge.Generation.Sampler(Vocab, seed: 3), output);
        Assert.Equal(40, produced);
        Assert.True(output.ToString().Length > 0);
    }

    [Theory]
    [InlineData("gelu_new", "test-gpt2-tiny", false)]
    [InlineData("gelu_pytorch_tanh", "test-gpt2-tiny", false)]
    [InlineData("gelu", "test-gpt2-tiny-exact", true)]
    public void ActivationFunction_PicksTheDeclaredModelWithThatGelu(string activation, string expected, bool exact)
    {
        using var dir = new TempDir();
        var values = WriteModelDirectory(dir.Path, activation: activation);
        var loaded = Checkpoint.LoadAny(dir.Path, [TinyGpt2.Descriptor, TinyGpt2Exact.Descriptor]);
        using var model = loaded.Model;
        Assert.Equal(expected, loaded.Info.Name);
        int[] tokens = [464, 3290, 11, 995];
        using var context = model.CreateInferenceContext();
        var logits = context.Logits(tokens, 1, tokens.Length).ToArray();
        double[]? Tensor(string name) => values.TryGetValue(name, out var v) && name != "lm_head.weight" ? v.Select(f => (double)f).ToArray() : null;
        var reference = ReferenceGpt.Logits(Tensor, Vocab, tokens, Layers, 3, exact);
        var other = ReferenceGpt.Logits(Tensor, Vocab, tokens, Layers, 3, !exact);
        double worst = 0, toOther = 0;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < Vocab; v++)
            {
                worst = Math.Max(worst, Math.Abs(reference[t, v] - logits[t * Vocab + v]));
                toOther = Math.Max(toOther, Math.Abs(other[t, v] - logits[t * Vocab + v]));
            }
        Assert.True(worst <= 1e-4, $"max |edge - reference| = {worst:G3}");
        Assert.True(toOther > 10 * worst, $"the two GELU forms should be told apart: {toOther:G3} vs {worst:G3}");
    }

    [Fact]
    public void ExactGeluConfig_WithoutAnExactDeclaration_IsRefused_SayingSo()
    {
        using var dir = new TempDir();
        WriteModelDirectory(dir.Path, activation: "gelu");
        var e = Assert.Throws<EdgeException>(() => Checkpoint.LoadAny(dir.Path, [TinyGpt2.Descriptor]));
        Assert.Contains("no declared model has 2 layers, 3 heads, width 24 and context 16 with the exact GELU", e.Message);
    }

    [Theory]
    [InlineData("""{"model_type": "gpt2", "n_layer": 2, "activation_function": "relu"}""", "activation_function 'relu' is not supported")]
    [InlineData("""{"model_type": "bert", "n_layer": 2}""", "unsupported architecture 'bert'")]
    [InlineData("""{"model_type": "gpt2", "n_layer": 7, "n_head": 3, "n_embd": 24, "n_positions": 16, "vocab_size": 50257}""", "no declared model has 7 layers")]
    [InlineData("""{"model_type": "gpt2", "n_head": 3}""", "'n_layer' is missing")]
    [InlineData("""not json""", "not valid JSON")]
    public void BadConfig_IsRefused_NamingTheFile(string config, string message)
    {
        using var dir = new TempDir();
        WriteModelDirectory(dir.Path, config: config);
        var e = Assert.Throws<EdgeException>(() => Checkpoint.LoadAny(dir.Path, [TinyGpt2.Descriptor]));
        Assert.Contains("config.json", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void TensorWithTheWrongShape_IsRefused_NamingIt()
    {
        using var dir = new TempDir();
        WriteModelDirectory(dir.Path, config: $$"""
            {"model_type": "gpt2", "n_layer": 2, "n_head": 3, "n_embd": 24, "n_positions": 16, "vocab_size": 50257}
            """);
        var path = Path.Combine(dir.Path, "model.safetensors");
        // Replace the weights with a file whose wpe is too short.
        SafeTensorsWriter.Write(path, [("wte.weight", DType.F32, [Vocab, 24]), ("wpe.weight", DType.F32, [8, 24])],
            i => new byte[(i == 0 ? Vocab : 8) * 24 * 4]);
        var e = Assert.Throws<EdgeException>(() => Checkpoint.LoadAny(dir.Path, [TinyGpt2.Descriptor]));
        Assert.Contains("tensor 'wpe.weight' has shape [8, 24], test-gpt2-tiny needs [16, 24]", e.Message);
    }
}
