using System.Text.Json;
using Edge.Formats;
using Edge.Lora;
using Edge.Tests.Models;
using Edge.Tests.Support;
using Xunit;

namespace Edge.Tests.Lora;

/// <summary>Adapters on disk: PEFT's names, shapes and config, the base fingerprint, and bad files refused.</summary>
public class AdapterFileTests
{
    const int Vocab = 11;
    static readonly LoraConfig Config = new(4, 8, 0.05, ["attn.c_attn", "mlp.c_fc"]) { BaseModel = "tests/tiny" };

    static (TinyGpt Model, LoraAdapter Adapter) Make(ulong baseSeed = 3)
    {
        var model = new TinyGpt(Vocab);
        model.Initialize(baseSeed);
        var adapter = LoraMathTests.RandomAdapter(model.Layout, Config, 5);
        adapter.BaseFingerprint = BaseFingerprint.Of(model);
        return (model, adapter);
    }

    [Fact]
    public void RoundTrip_KeepsWeightsAndConfig()
    {
        using var dir = new TempDir();
        var (model, adapter) = Make();
        using var _ = model;
        using var __ = adapter;
        string path = Path.Combine(dir.Path, "my-adapter");
        AdapterFile.Save(path, adapter);
        using var loaded = AdapterFile.Load(path, model);
        Assert.Equal(adapter.Weights.ToArray(), loaded.Weights.ToArray());
        Assert.Equal(4, loaded.Rank);
        Assert.Equal(8, loaded.Config.Alpha);
        Assert.Equal(0.05, loaded.Config.Dropout);
        Assert.Equal(["attn.c_attn", "mlp.c_fc"], loaded.Config.Targets);
        Assert.Equal("my-adapter", loaded.Name);
        Assert.Equal(adapter.Targets.Select(t => t.Module), loaded.Targets.Select(t => t.Module));
        // The adapter file's own path works too.
        using var again = AdapterFile.Load(Path.Combine(path, AdapterFile.WeightsName), model);
        Assert.Equal(adapter.Weights.ToArray(), again.Weights.ToArray());
    }

    [Fact]
    public void File_HasPeftNamesShapesAndConfig()
    {
        using var dir = new TempDir();
        var (model, adapter) = Make();
        using var _ = model;
        using var __ = adapter;
        AdapterFile.Save(dir.Path, adapter);
        using (var file = SafeTensorsFile.Open(dir.File(AdapterFile.WeightsName)))
        {
            // TinyGpt: width 8, 2 layers, MLP ratio 2: c_attn [8, 24], c_fc [8, 16].
            var a = file.Get("base_model.model.transformer.h.1.attn.c_attn.lora_A.weight");
            var b = file.Get("base_model.model.transformer.h.1.attn.c_attn.lora_B.weight");
            Assert.Equal([4L, 8], a.Shape);
            Assert.Equal([24L, 4], b.Shape);
            Assert.Equal([16L, 4], file.Get("base_model.model.transformer.h.0.mlp.c_fc.lora_B.weight").Shape);
            Assert.Equal(8, file.Tensors.Count);
            Assert.All(file.Tensors, t => Assert.Equal(DType.F32, t.DType));
            Assert.Equal(adapter.BaseFingerprint, file.Metadata[AdapterFile.FingerprintKey]);
            // lora_A.weight is stored [r, In] row-major: the adapter's A as is.
            var values = new float[a.ElementCount];
            file.ReadFloats(a, values);
            Assert.Equal(adapter.A(adapter.Targets.Single(t => t.Module == "h.1.attn.c_attn")).ToArray(), values);
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(dir.File(AdapterFile.ConfigName)));
        var root = doc.RootElement;
        Assert.Equal("LORA", root.GetProperty("peft_type").GetString());
        Assert.Equal("CAUSAL_LM", root.GetProperty("task_type").GetString());
        Assert.Equal(4, root.GetProperty("r").GetInt32());
        Assert.Equal(8, root.GetProperty("lora_alpha").GetDouble());
        Assert.Equal(0.05, root.GetProperty("lora_dropout").GetDouble());
        Assert.Equal("none", root.GetProperty("bias").GetString());
        Assert.True(root.GetProperty("fan_in_fan_out").GetBoolean());
        Assert.Equal("tests/tiny", root.GetProperty("base_model_name_or_path").GetString());
        Assert.Equal(["attn.c_attn", "mlp.c_fc"], root.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void AdapterForAnotherBase_IsRefusedByFingerprint()
    {
        using var dir = new TempDir();
        var (model, adapter) = Make(baseSeed: 3);
        using var _ = model;
        using var __ = adapter;
        AdapterFile.Save(dir.Path, adapter);
        using var other = new TinyGpt(Vocab);
        other.Initialize(4);                              // same shapes, other weights
        var e = Assert.Throws<EdgeException>(() => AdapterFile.Load(dir.Path, other));
        Assert.Contains("made for another base", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void PeftFileWithoutFingerprint_LoadsByShapes_AndWrongShapesAreRefused()
    {
        using var dir = new TempDir();
        var (model, adapter) = Make();
        using var _ = model;
        using var __ = adapter;
        AdapterFile.Save(dir.Path, adapter);
        // Rewrite the weights as PEFT would: same names, no Edge metadata.
        string path = dir.File(AdapterFile.WeightsName);
        RewriteWithoutMetadata(path);
        using (var loaded = AdapterFile.Load(dir.Path, model))
            Assert.Equal(adapter.Weights.ToArray(), loaded.Weights.ToArray());

        // The same file on a base of another width: refused by shape, in one line.
        using var wide = new TinyGptUntied(Vocab);
        var e = Assert.Throws<EdgeException>(() => AdapterFile.Load(dir.Path, wide));
        Assert.Contains("another base", e.Message);
    }

    [Fact]
    public void TruncatedOrCorruptFiles_AreRefused_AndTheBaseKeepsWorking()
    {
        using var dir = new TempDir();
        var (model, adapter) = Make();
        using var _ = model;
        using var __ = adapter;
        int[] prompt = [1, 2, 3, 4];
        using var context = model.CreateInferenceContext();
        var before = context.Logits(prompt, 1, 4).ToArray();
        string weights = dir.File(AdapterFile.WeightsName), config = dir.File(AdapterFile.ConfigName);

        AdapterFile.Save(dir.Path, adapter);
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<EdgeException>(() => AdapterFile.Load(dir.Path, model));
        Assert.StartsWith(weights, e.Message);

        File.WriteAllBytes(weights, bytes[..5]);
        Assert.Throws<EdgeException>(() => AdapterFile.Load(dir.Path, model));

        File.WriteAllBytes(weights, bytes);
        File.WriteAllText(config, "{\"r\": ");
        e = Assert.Throws<EdgeException>(() => AdapterFile.Load(dir.Path, model));
        Assert.Contains("not valid JSON", e.Message);

        File.WriteAllText(config, "{\"peft_type\": \"PREFIX_TUNING\", \"r\": 4}");
        Assert.Contains("not a LoRA adapter", Assert.Throws<EdgeException>(() => AdapterFile.Load(dir.Path, model)).Message);

        File.WriteAllText(config, "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 8, \"target_modules\": [\"c_attn\", \"c_fc\"]}");   // rank disagrees with the tensors
        Assert.Contains("shape", Assert.Throws<EdgeException>(() => AdapterFile.Load(dir.Path, model)).Message);

        File.Delete(config);
        Assert.Contains("adapter_config.json", Assert.Throws<EdgeException>(() => AdapterFile.Load(dir.Path, model)).Message);

        Assert.True(before.AsSpan().SequenceEqual(context.Logits(prompt, 1, 4)), "the base is untouched by failed loads");
    }

    [Fact]
    public void NonFiniteValues_AreRefused()
    {
        using var dir = new TempDir();
        var (model, adapter) = Make();
        using var _ = model;
        using var __ = adapter;
        adapter.Weights[3] = float.NaN;
        AdapterFile.Save(dir.Path, adapter);
        Assert.Contains("non-finite", Assert.Throws<EdgeException>(() => AdapterFile.Load(dir.Path, model)).Message);
    }

    [Fact]
    public void FileSize_IsRankTimesInPlusOut_PerTarget_PlusASmallHeader()
    {
        // DistilGPT-2's shapes (no weights needed: the layout alone), rank 8 on c_attn: 6 x 8 x (768 + 2304).
        var layout = Edge.Models.ModelCatalog.Find("distilgpt2")!.Describe(50257);
        using var adapter = LoraAdapter.Create(layout, new LoraConfig(8, 16, 0.05, LoraConfig.DefaultTargets), 1);
        Assert.Equal(147_456, adapter.ParameterCount);
        Assert.Equal(6, adapter.Targets.Count);
        using var dir = new TempDir();
        AdapterFile.Save(dir.Path, adapter);
        long size = new FileInfo(dir.File(AdapterFile.WeightsName)).Length;
        long header = size - 4 * adapter.ParameterCount;
        Assert.InRange(header, 8, 4096);
        Assert.Equal(589_824 + header, size);   // 576 KiB of fp32 values
    }

    static void RewriteWithoutMetadata(string path)
    {
        var tensors = new List<(string, DType, long[])>();
        var data = new List<byte[]>();
        using (var file = SafeTensorsFile.Open(path))
            foreach (var t in file.Tensors)
            {
                tensors.Add((t.Name, t.DType, t.Shape));
                data.Add(file.GetBytes(t).ToArray());
            }
        SafeTensorsWriter.Write(path, tensors, i => data[i]);
    }
}
