using Edge.Lora;
using Edge.Tests.Models;
using Edge.Tests.Support;
using Xunit;

namespace Edge.Tests.Lora;

/// <summary>LoRA on the Llama family's projections, under PEFT's names for them.</summary>
public class LlamaLoraTests
{
    const int Vocab = 13;

    [Fact]
    public void Targets_AreTheLlamaModules_ByPeftsShortNames_AndDefaultToQAndV()
    {
        var layout = TinyLlama.Descriptor.Describe(Vocab);
        Assert.Equal(LoraConfig.LlamaDefaultTargets, LoraConfig.DefaultTargetsFor(layout));
        Assert.Equal(["self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"], LoraConfig.ParseTargets(["q_proj", "v_proj", "down_proj"]));
        var config = new LoraConfig(4, 8, 0, LoraConfig.LlamaTargets);
        Assert.Equal(2 * 7, config.Sites(layout).Count);   // seven modules in each of two layers
        Assert.Throws<EdgeException>(() => new LoraConfig(4, 8, 0, ["attn.c_attn"]).Sites(layout));
    }

    [Fact]
    public void AdapterFile_UsesPeftNamesForLlama_AndRoundTrips()
    {
        using var dir = new TempDir();
        using var model = new TinyLlama(Vocab);
        model.Initialize(2);
        using var adapter = LoraMathTests.RandomAdapter(model.Layout, new LoraConfig(4, 8, 0, LoraConfig.LlamaTargets), 3);
        AdapterFile.Save(dir.Path, adapter);
        using (var file = Edge.Formats.SafeTensorsFile.Open(dir.File(AdapterFile.WeightsName)))
            Assert.NotNull(file.Find("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"));
        Assert.Contains("\"fan_in_fan_out\": false", File.ReadAllText(dir.File(AdapterFile.ConfigName)));
        using var loaded = AdapterFile.Load(dir.Path, model);
        Assert.True(adapter.Weights.SequenceEqual(loaded.Weights));
    }

    [Fact]
    public void Merged_MatchesUnmerged_OnWeightsStoredOutIn()
    {
        using var model = new TinyLlama(Vocab);
        model.Initialize(4);
        using var adapter = LoraMathTests.RandomAdapter(model.Layout, new LoraConfig(3, 6, 0, LoraConfig.LlamaTargets), 5, std: 0.4f);
        var set = new AdapterSet(model.Layout, [adapter]);
        set.Activate(0, 0.7f);
        int[] tokens = [1, 4, 2, 9, 0, 3];
        var adapted = model.Logits(tokens, 1, 6, set);
        var bare = model.Logits(tokens, 1, 6);
        Assert.True(LoraMathTests.MaxDiff(adapted, bare) > 1e-2);
        adapter.Merge(model, 0.7f);
        Assert.True(LoraMathTests.MaxDiff(model.Logits(tokens, 1, 6), adapted) <= 1e-5);
        adapter.Unmerge(model, 0.7f);
        Assert.True(LoraMathTests.MaxDiff(model.Logits(tokens, 1, 6), bare) <= 1e-5);
    }

    [Fact]
    public void AdapterGradients_ThroughAFrozenLlama_MatchFiniteDifferences()
    {
        using var model = new TinyLlama(Vocab);
        model.Initialize(7);
        using var adapter = LoraMathTests.RandomAdapter(model.Layout, new LoraConfig(2, 4, 0, LoraConfig.LlamaTargets), 8);
        using var context = model.CreateTrainingContext(2, frozenWeights: true);
        context.DropoutRate = 0;
        var set = new AdapterSet(model.Layout, [adapter]);
        set.Activate(0);
        context.Adapters = set;
        adapter.EnableTraining(2 * model.InputLength);
        var rng = new Rng(9);
        int length = model.InputLength;
        var inputs = Enumerable.Range(0, 2 * length).Select(_ => rng.NextInt(Vocab)).ToArray();
        var targets = Enumerable.Range(0, 2 * length).Select(_ => rng.NextInt(Vocab)).ToArray();
        float Loss() => context.Forward(inputs, targets, 2, length, training: true);
        adapter.ZeroGradients();
        Loss();
        context.Backward();
        var analytic = adapter.Gradients.ToArray();
        var w = adapter.Weights;
        const float eps = 1e-3f;
        for (int k = 0; k < w.Length; k += 7)
        {
            float saved = w[k];
            w[k] = saved + eps; double plus = Loss();
            w[k] = saved - eps; double minus = Loss();
            w[k] = saved;
            double numeric = (plus - minus) / (2 * eps);
            Assert.True(Math.Abs(numeric - analytic[k]) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"weight {k}: analytic {analytic[k]:G6}, numeric {numeric:G6}");
        }
    }
}
