using System.Buffers.Binary;
using System.Text;
using Edge.Formats;
using Edge.Tests.Support;
using Edge.Text;
using Xunit;

namespace Edge.Tests.Fuzz;

/// <summary>Inputs the fuzzer found that a parser did not refuse cleanly, each pinned by its own test.</summary>
public class ParserRegressionTests
{
    /// <summary>A safetensors file with <paramref name="header"/> as its JSON header and 8 bytes of data.</summary>
    static string WriteSafeTensors(TempDir dir, string header)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static void AssertOneLineNaming(string path, EdgeException e)
    {
        Assert.Contains(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        Assert.False(e.Message.Any(char.IsControl), $"a control character in: {e.Message}");
    }

    [Theory]
    [InlineData("""{"__metadata__":{"note":"\ud800"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""")]
    [InlineData("""{"__metadata__":{"\udc00":"x"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""")]
    [InlineData("""{"w\ud800":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""")]
    [InlineData("""{"w":{"dtype":"F3\ud800","shape":[2],"data_offsets":[0,8]}}""")]
    public void SafeTensors_UnpairedSurrogateEscapeInTheHeader_IsRefusedNamingTheFile(string header)
    {
        // JsonElement.GetString throws InvalidOperationException for "\ud800" without its pair; it used to escape Open.
        using var dir = new TempDir();
        string path = WriteSafeTensors(dir, header);
        var e = Assert.Throws<EdgeException>(() => SafeTensorsFile.Open(path).Dispose());
        AssertOneLineNaming(path, e);
        Assert.Contains("not valid text", e.Message);
    }

    [Theory]
    [InlineData("vocab.json")]
    [InlineData("tokenizer.json")]
    public void BpeJson_ThatIsNotJson_IsRefusedOnOneLine(string name)
    {
        // The JSON parser's message quotes the bad literal, line breaks and all; the refusal was several lines long.
        using var dir = new TempDir();
        string path = dir.File(name);
        File.WriteAllText(path, "nope\n  \"a\": 1,\r\n  \"b\": 2\n");
        File.WriteAllText(dir.File("merges.txt"), "#version: 0.2\na b\n");
        var e = Assert.Throws<EdgeException>(() => name == "vocab.json"
            ? BpeTokenizer.FromHuggingFace(path, dir.File("merges.txt"))
            : BpeTokenizer.FromTokenizerJson(path));
        AssertOneLineNaming(path, e);
        Assert.Contains("malformed JSON", e.Message);
    }

    [Fact]
    public void HuggingFaceConfig_ThatIsNotJson_IsRefusedOnOneLine()
    {
        using var dir = new TempDir();
        string path = dir.File("config.json");
        File.WriteAllText(path, "t\u0006rue\r\"model_type\": \"gpt2\"\n");
        var e = Assert.Throws<EdgeException>(() => HuggingFaceGpt2.ReadConfig(dir.Path));
        AssertOneLineNaming(path, e);
        Assert.DoesNotContain('\u0006', e.Message);
    }

    [Fact]
    public void CharTokenizer_MalformedJson_IsRefusedOnOneLine()
    {
        var e = Assert.Throws<EdgeException>(() => CharTokenizer.FromJson("nope\n{\"symbols\": [\"a\"]}\n"));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith("tokenizer vocabulary: malformed JSON", e.Message);
    }

    [Fact]
    public void Checkpoint_ModelNameWithALineBreak_IsRefusedOnOneLine()
    {
        // The name comes from the file's metadata and went into the message as it was.
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        SafeTensorsWriter.Write(path, [("w", DType.F32, [1])], _ => new byte[4],
            new Dictionary<string, string> { [Checkpoint.ModelKey] = "mlp\nedge: all is well", [Checkpoint.TokenizerKey] = "{}" });
        var e = Assert.Throws<EdgeException>(() => Checkpoint.Load(path, [Models.TinyDeepMlp.Descriptor]));
        AssertOneLineNaming(path, e);
        Assert.Contains("which this build of edge does not have", e.Message);
    }

    [Theory]
    [InlineData("""{"model_type": "gpt2\nbert", "n_layer": 2}""")]
    [InlineData("""{"model_type": "gpt2", "activation_function": "relu\r\n", "n_layer": 2}""")]
    [InlineData("""{"model_type": "gpt2", "layer_norm_epsilon": 1e400, "n_layer": 2}""")]
    [InlineData("""{"model_type": "gpt2", "layer_norm_epsilon": "1e-5", "n_layer": 2}""")]
    public void HuggingFaceConfig_ValuesWithLineBreaksOrOutOfRange_AreRefusedOnOneLine(string json)
    {
        using var dir = new TempDir();
        string path = dir.File("config.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<EdgeException>(() => HuggingFaceGpt2.ReadConfig(dir.Path));
        AssertOneLineNaming(path, e);
    }

    [Fact]
    public void TokenizerJson_ModelTypeSpanningLines_IsRefusedOnOneLine()
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer.json");
        File.WriteAllText(path, "{\"model\": {\"type\": {\n\"name\": \"BPE\"\n}, \"vocab\": {}, \"merges\": []}}");
        var e = Assert.Throws<EdgeException>(() => BpeTokenizer.FromTokenizerJson(path));
        AssertOneLineNaming(path, e);
        Assert.Contains("expected \"BPE\"", e.Message);
    }

    [Fact]
    public void CharTokenizer_MarkerSpanningLines_IsRefusedOnOneLine()
    {
        var e = Assert.Throws<EdgeException>(() => CharTokenizer.FromJson("{\"symbols\": [\"a\"], \"marker\": [\n0\n]}"));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("\"marker\" must be an integer id or null", e.Message);
    }

    /// <summary>A tiny base, with a rank-4 adapter for it saved in <paramref name="dir"/> (PEFT layout).</summary>
    static LanguageModel BaseWithSavedAdapter(TempDir dir)
    {
        var model = Edge.Tests.Models.TinyGpt.Descriptor.Create(11);
        model.Initialize(3);
        using var adapter = Edge.Lora.LoraAdapter.Create(model.Layout, new Edge.Lora.LoraConfig(4, 8, 0, Edge.Lora.LoraConfig.DefaultTargets), 5);
        Edge.Lora.AdapterFile.Save(dir.Path, adapter);
        return model;
    }

    [Fact]
    public void LoraAdapter_AHugeRankInTheConfig_IsRefusedByShape_NamingTheFile()
    {
        // adapter_config.json saying r = 16777216 over tensors of rank 4 used to allocate the adapter first and fail
        // with a message that named no file.
        using var dir = new TempDir();
        using var model = BaseWithSavedAdapter(dir);
        string config = Path.Combine(dir.Path, "adapter_config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"r\": 4", "\"r\": 16777216"));
        Assert.Contains("16777216", File.ReadAllText(config));
        var e = Assert.Throws<EdgeException>(() => Edge.Lora.AdapterFile.Load(dir.Path, model));
        AssertOneLineNaming(Path.Combine(dir.Path, "adapter_model.safetensors"), e);
        Assert.Contains("has shape [4, 8]", e.Message);
    }

    [Fact]
    public void LoraAdapter_ControlCharactersInATargetOrTensorName_StayOnOneLine()
    {
        // A JSON escape in target_modules or in a tensor name put a tab or a carriage return into the message.
        using var dir = new TempDir();
        using var model = BaseWithSavedAdapter(dir);
        string config = Path.Combine(dir.Path, "adapter_config.json");
        string original = File.ReadAllText(config);
        File.WriteAllText(config, original.Replace("\"attn.c_attn\"", "\"attn.c_\\r\\nattn\""));
        AssertOneLineNaming(config, Assert.Throws<EdgeException>(() => Edge.Lora.AdapterFile.Load(dir.Path, model)));

        File.WriteAllText(config, original);
        string weights = Path.Combine(dir.Path, "adapter_model.safetensors");
        using (var file = SafeTensorsFile.Open(weights))
        {
            var tensors = file.Tensors.Select(t => (t.Name.Replace("attn.c_attn", "attn.c_\tattn"), t.DType, t.Shape)).ToList();
            var data = file.Tensors.Select(t => file.GetBytes(t).ToArray()).ToList();
            file.Dispose();
            SafeTensorsWriter.Write(weights, tensors, k => data[k]);
        }
        AssertOneLineNaming(weights, Assert.Throws<EdgeException>(() => Edge.Lora.AdapterFile.Load(dir.Path, model)));
    }
}
