using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Edge.Data;
using Edge.Formats;
using Edge.Quantization;
using Edge.Tests.Support;
using Edge.Tests.Kernels;
using Edge.Tests.Models;
using Edge.Training;
using Xunit;

namespace Edge.Tests.Quantization;

/// <summary>Quantised files: written, loaded into the projection hook, decoded, and refused when damaged.</summary>
public class QuantizedModelTests
{
    const string Text = "the keeper lit the lamp; the baker baked the bread; the sea rose and the bell rang over the bay\n";
    static readonly ModelInfo[] Models = [TinyQuantGpt.Descriptor];

    /// <summary>A fp32 checkpoint of the tiny quantisable GPT (random weights, std 0.1 so logits are not flat).</summary>
    static string WriteFp32(TempDir dir, out CharTokenizerAndModel fp32)
    {
        var tokenizer = TrainingData.BuildTokenizer(Text, DataLayout.Text);
        var model = TinyQuantGpt.Descriptor.Create(tokenizer.VocabSize);
        model.Initialize(7);
        var rng = new Rng(8);
        foreach (ref var w in model.Weights) w += 0.1f * rng.NextGaussian();
        string path = Path.Combine(dir.Path, "model.safetensors");
        Checkpoint.Save(path, model, tokenizer);
        fp32 = new CharTokenizerAndModel(tokenizer, model);
        return path;
    }

    internal sealed record CharTokenizerAndModel(Edge.Text.CharTokenizer Tokenizer, LanguageModel Model);

    static string Quantize(TempDir dir, LanguageModel model, Edge.Text.CharTokenizer tokenizer, QuantType type, out QuantizeReport report)
    {
        string path = Path.Combine(dir.Path, type.Name() + ".safetensors");
        report = QuantizedCheckpoint.Write(path, model, type, new Dictionary<string, string>
        {
            [Checkpoint.ModelKey] = model.Name, [Checkpoint.TokenizerKey] = tokenizer.ToJson(),
        });
        return path;
    }

    /// <summary>RMS of (a - b) relative to the RMS of a.</summary>
    static double RelativeRms(float[] a, float[] b) =>
        Math.Sqrt(a.Select((v, i) => (double)(v - b[i]) * (v - b[i])).Average()) / Math.Sqrt(a.Average(v => (double)v * v));

    /// <summary>
    /// The quantised model's forward is the fp32 forward over the dequantised weights, except that each product also
    /// rounds its input activations to 8 bits per block of 32 (about 0.4% of a block's largest value): against an
    /// fp32 model holding exactly the dequantised weights, the logits agree to within a few percent, for every format. Against
    /// the original weights the error is the format's own (random weights, so larger than a trained model's).
    /// </summary>
    [Theory]
    [InlineData(QuantType.Q8_0, 0.05)]
    [InlineData(QuantType.Q4_0, 0.5)]
    [InlineData(QuantType.Q4_1, 0.4)]
    public void QuantisedLogits_AreTheDequantisedModelsLogits_AndTheFileIsSmaller(QuantType type, double formatError)
    {
        using var dir = new TempDir();
        WriteFp32(dir, out var fp32);
        using var reference = fp32.Model;
        string path = Quantize(dir, reference, fp32.Tokenizer, type, out var report);
        Assert.Equal(2 * 4 + 1, report.QuantizedTensors); // four products per block, and the tied head (wte)
        Assert.True(report.FileBytes < report.Fp32Bytes / 2, $"{report.FileBytes} bytes against {report.Fp32Bytes} in fp32");

        var loaded = Checkpoint.Load(path, Models);
        using var model = loaded.Model;
        Assert.True(model.IsQuantized);
        Assert.Equal(type, model.QuantizedWeight("h.1.mlp.c_proj.weight")!.Type);
        Assert.Null(model.QuantizedWeight("wpe.weight"));
        int[] tokens = [1, 5, 9, 2, 7, 3, 3, 8, 0, 4];
        var original = reference.Logits(tokens, 1, tokens.Length).ToArray();
        var got = model.Logits(tokens, 1, tokens.Length).ToArray();

        // The same weights, dequantised into an fp32 model: rows of a quantised matrix are [out] of [in] inputs.
        using var dequantised = TinyQuantGpt.Descriptor.Create(reference.VocabSize);
        reference.Weights.CopyTo(dequantised.Weights);
        foreach (var site in model.Layout.Projections)
        {
            var q = model.QuantizedWeight(site.Weight.Name)!;
            var deq = q.Dequantize();
            var w = dequantised.Weights.Slice(site.Weight.Offset, site.Weight.Length);
            for (int o = 0; o < site.Out; o++)
                for (int i = 0; i < site.In; i++)
                    w[site.Transposed ? o * site.In + i : i * site.Out + o] = deq[o * site.In + i];
        }
        var same = dequantised.Logits(tokens, 1, tokens.Length).ToArray();
        Assert.True(RelativeRms(same, got) <= 0.04, $"{type}: {RelativeRms(same, got):G3} from the dequantised model");
        Assert.True(RelativeRms(original, got) <= formatError, $"{type}: {RelativeRms(original, got):G3} from the original fp32 model");
        Assert.True(RelativeRms(original, got) > 0, "quantisation changed nothing: is the quantised path in use?");
    }

    [Fact]
    public void Decoding_AQuantisedModel_MatchesItsFullForward_AndAllocatesNothing()
    {
        using var dir = new TempDir();
        WriteFp32(dir, out var fp32);
        using var reference = fp32.Model;
        var loaded = Checkpoint.Load(Quantize(dir, reference, fp32.Tokenizer, QuantType.Q4_1, out _), Models);
        using var model = loaded.Model;
        int V = model.VocabSize;
        int[] tokens = [1, 5, 9, 2, 7, 3, 3, 8, 0, 4, 6, 2];
        var full = model.Logits(tokens, 1, tokens.Length).ToArray();
        using var context = model.CreateDecodingContext();
        var logits = context.Prefill(tokens.AsSpan(0, 2)).ToArray();
        double worst = 0;
        for (int t = 2; t < tokens.Length; t++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var step = context.DecodeStep(tokens[t]);
            if (t > 3) Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            for (int v = 0; v < V; v++) worst = Math.Max(worst, Math.Abs(step[v] - full[t * V + v]));
        }
        Assert.True(worst <= 1e-4, $"max |decode - forward| = {worst:G3}");
    }

    [Fact]
    public void AnAdapterTrainedForTheFp32Base_AppliesToItsQuantisedCopy_AndSwitchesOffExactly()
    {
        using var dir = new TempDir();
        WriteFp32(dir, out var fp32);
        using var reference = fp32.Model;
        var config = new Edge.Lora.LoraConfig(4, 8, 0.0, Edge.Lora.LoraConfig.ValidTargets);
        using var adapter = Edge.Tests.Lora.LoraMathTests.RandomAdapter(reference.Layout, config, 5, std: 0.2f);
        adapter.BaseFingerprint = Edge.Lora.BaseFingerprint.Of(reference);
        string adapterDir = Path.Combine(dir.Path, "adapter");
        Edge.Lora.AdapterFile.Save(adapterDir, adapter);

        using var model = Checkpoint.Load(Quantize(dir, reference, fp32.Tokenizer, QuantType.Q8_0, out _), Models).Model;
        // The quantised copy carries its fp32 base's fingerprint, so the adapter is accepted for it.
        using var loaded = Edge.Lora.AdapterFile.Load(adapterDir, model);
        int[] tokens = [1, 5, 9, 2, 7, 3];
        var bare = model.Logits(tokens, 1, tokens.Length).ToArray();
        var set = new Edge.Lora.AdapterSet(model.Layout, [loaded]);
        set.Activate(0);
        var adapted = model.Logits(tokens, 1, tokens.Length, set).ToArray();
        // The same adapter on the fp32 base moves the logits the same way, up to the quantisation of the base.
        var fpSet = new Edge.Lora.AdapterSet(reference.Layout, [adapter]);
        var fpBare = reference.Logits(tokens, 1, tokens.Length).ToArray();
        fpSet.Activate(0);
        var fpAdapted = reference.Logits(tokens, 1, tokens.Length, fpSet).ToArray();
        var shift = adapted.Select((v, i) => v - bare[i]).ToArray();
        var fpShift = fpAdapted.Select((v, i) => v - fpBare[i]).ToArray();
        Assert.True(RelativeRms(fpShift, shift) <= 0.1, $"the adapter's effect differs by {RelativeRms(fpShift, shift):G3} over the quantised base");
        set.Deactivate(0);
        Expect.BitIdentical(bare, model.Logits(tokens, 1, tokens.Length, set).ToArray(), "logits after switching the adapter off");
    }

    [Fact]
    public void AQuantisedModel_CannotBeTrainedOrSavedAsFp32()
    {
        using var dir = new TempDir();
        WriteFp32(dir, out var fp32);
        using var reference = fp32.Model;
        using var model = Checkpoint.Load(Quantize(dir, reference, fp32.Tokenizer, QuantType.Q8_0, out _), Models).Model;
        Assert.Throws<InvalidOperationException>(() => model.CreateTrainingContext(1));
        Assert.Throws<InvalidOperationException>(() => model.CreateTrainingContext(1, frozenWeights: true));
        Assert.Throws<EdgeException>(() => Checkpoint.Save(Path.Combine(dir.Path, "again.safetensors"), model, fp32.Tokenizer));
        Assert.Throws<EdgeException>(() => QuantizedCheckpoint.Write(Path.Combine(dir.Path, "twice.safetensors"), model, QuantType.Q4_0, new Dictionary<string, string>()));
    }

    /// <summary>Rewrites a quantised file with one tensor's bytes or record changed, keeping everything else.</summary>
    static void Rewrite(string path, string tensor, Func<byte[], byte[]>? bytes = null, Action<JsonObject>? record = null, Action<Dictionary<string, string>>? metadata = null)
    {
        List<(string, DType, long[])> specs;
        List<byte[]> data;
        Dictionary<string, string> meta;
        using (var file = SafeTensorsFile.Open(path))
        {
            specs = file.Tensors.Select(t => (t.Name, t.DType, t.Shape)).ToList();
            data = file.Tensors.Select(t => file.GetBytes(t).ToArray()).ToList();
            meta = new Dictionary<string, string>(file.Metadata);
        }
        int i = specs.FindIndex(s => s.Item1 == tensor);
        if (bytes is not null)
        {
            data[i] = bytes(data[i]);
            specs[i] = (specs[i].Item1, specs[i].Item2, [1, data[i].Length]);
        }
        if (record is not null)
        {
            var json = JsonNode.Parse(meta[QuantizedCheckpoint.TensorKeyPrefix + tensor])!.AsObject();
            record(json);
            meta[QuantizedCheckpoint.TensorKeyPrefix + tensor] = json.ToJsonString();
        }
        metadata?.Invoke(meta);
        SafeTensorsWriter.Write(path, specs, k => data[k], meta);
    }

    static string Checksum(byte[] b) => System.IO.Hashing.XxHash64.HashToUInt64(b).ToString("x16");

    public static TheoryData<string, string> Damage() => new()
    {
        { "flipped bit", "is corrupted (its bytes do not match the checksum" },
        { "NaN scale", "block 3 has a non-finite scale" },
        { "missing block", "holds 1,054 bytes (31 q8_0 blocks), its shape needs 32 blocks (1,088 bytes)" },
        { "unknown type", "unknown quantisation type 'q3_k'" },
        { "unknown file type", "unknown quantisation type 'q2'" },
        { "no record", "is U8 but the metadata has no 'edge.quant.h.0.attn.c_proj.weight' record" },
        { "wrong rows", "is stored as [33, 32], the product needs [32, 32]" },
    };

    [Theory]
    [MemberData(nameof(Damage))]
    public void ADamagedQuantisedFile_IsRefused_WithOneClearLine(string damage, string expected)
    {
        using var dir = new TempDir();
        WriteFp32(dir, out var fp32);
        using var reference = fp32.Model;
        string path = Quantize(dir, reference, fp32.Tokenizer, QuantType.Q8_0, out _);
        const string tensor = "h.0.attn.c_proj.weight"; // [32, 32]: 32 rows of one 34-byte block
        switch (damage)
        {
            case "flipped bit": Rewrite(path, tensor, b => { b[100] ^= 0x10; return b; }); break;
            case "NaN scale":
                Rewrite(path, tensor, b => { BitConverter.TryWriteBytes(b.AsSpan(3 * 34), Half.NaN); return b; });
                Rewrite(path, tensor, record: r => r["xxh64"] = Checksum(ReadTensor(path, tensor)));
                break;
            case "missing block": Rewrite(path, tensor, b => b[..^34]); break;
            case "unknown type": Rewrite(path, tensor, record: r => r["type"] = "q3_k"); break;
            case "unknown file type": Rewrite(path, tensor, metadata: m => m[QuantizedCheckpoint.TypeKey] = "q2"); break;
            case "no record": Rewrite(path, tensor, metadata: m => m.Remove(QuantizedCheckpoint.TensorKeyPrefix + tensor)); break;
            case "wrong rows": Rewrite(path, tensor, record: r => r["rows"] = 33); break;
        }
        var e = Assert.Throws<EdgeException>(() => Checkpoint.Load(path, Models));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // The fp32 model beside it still loads and runs.
        using var ok = Checkpoint.Load(Path.Combine(dir.Path, "model.safetensors"), Models).Model;
        Assert.Equal(ok.VocabSize, ok.Logits([1, 2], 1, 2).Length / 2);
    }

    static byte[] ReadTensor(string path, string name)
    {
        using var file = SafeTensorsFile.Open(path);
        return file.GetBytes(file.Get(name)).ToArray();
    }

    [Fact]
    public void AHuggingFaceFolder_QuantisesIntoAFolder_ThatLoadsWithItsTokenizer()
    {
        using var source = new TempDir();
        using var target = new TempDir();
        HuggingFaceTests.WriteModelDirectory(source.Path, width: 32, heads: 2);
        var loaded = Checkpoint.LoadAny(source.Path, Models);
        using var fp32 = loaded.Model;
        foreach (var name in new[] { "config.json", "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(source.Path, name), Path.Combine(target.Path, name));
        QuantizedCheckpoint.Write(Path.Combine(target.Path, "model.safetensors"), fp32, QuantType.Q8_0, new Dictionary<string, string>());
        var quantized = Checkpoint.LoadAny(target.Path, Models);
        using var model = quantized.Model;
        Assert.True(model.IsQuantized);
        Assert.Equal(50257, quantized.Tokenizer.VocabSize);
        var tokens = ((Edge.Text.BpeTokenizer)quantized.Tokenizer).Encode("Hello world");
        var want = fp32.Logits(tokens, 1, tokens.Length).ToArray();
        var got = model.Logits(tokens, 1, tokens.Length).ToArray();
        Assert.True(RelativeRms(want, got) <= 0.05, $"relative rms logit error {RelativeRms(want, got):G3}");
    }
}
