using Edge.Kernels;
using Edge.Lora;
using Edge.Tests.Models;
using Xunit;
using Edge.Tests.Kernels;

namespace Edge.Tests.Lora;

/// <summary>The LoRA term's gradients, merging, and switching adapters on a base that must not change.</summary>
[Collection(Edge.Tests.Kernels.SimdWidthCollection.Name)]
public class LoraMathTests
{
    const int Vocab = 11, Batch = 3;

    static readonly LoraConfig AllTargets = new(2, 4, 0.0, LoraConfig.ValidTargets);

    /// <summary>An adapter with random A and B (a fresh one has B = 0, which hides half of every gradient).</summary>
    internal static LoraAdapter RandomAdapter(ModelLayout layout, LoraConfig config, ulong seed, float std = 0.3f)
    {
        var adapter = LoraAdapter.Create(layout, config, seed);
        var rng = new Rng(seed + 100);
        foreach (ref float v in adapter.Weights) v = rng.NextGaussian() * std;
        return adapter;
    }

    public static TheoryData<double, int> Cases()
    {
        var data = new TheoryData<double, int>();
        foreach (var dropout in new[] { 0.0, 0.3 })
            foreach (var bits in Simd.AllBits)
                data.Add(dropout, bits);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AdapterGradients_MatchFiniteDifferences_ThroughTheFrozenBase(double dropout, int bits)
    {
        using var _ = Simd.Force(bits);
        using var model = new TinyGpt(Vocab);
        model.Initialize(7);
        var rng = new Rng(5);
        foreach (ref float v in model.Weights) v += rng.NextGaussian() * 0.2f;
        using var adapter = RandomAdapter(model.Layout, AllTargets with { Dropout = dropout }, 3);
        var set = new AdapterSet(model.Layout, [adapter]);
        set.Activate(0, 0.7f);
        using var context = model.CreateTrainingContext(Batch, frozenWeights: true);
        context.Adapters = set;
        adapter.EnableTraining(Batch * model.InputLength);

        int length = model.InputLength - 1;
        var inputs = new int[Batch * length];
        var targets = new int[Batch * length];
        for (int i = 0; i < inputs.Length; i++) { inputs[i] = rng.NextInt(Vocab); targets[i] = rng.NextInt(Vocab); }
        targets[4] = SoftmaxCrossEntropy.IgnoredTarget; // an ignored target: no loss, no gradient
        var modelDropout = context.DropoutState;
        var adapterDropout = adapter.DropoutState;
        float Loss()
        {
            context.DropoutState = modelDropout;
            adapter.DropoutState = adapterDropout;
            return context.Forward(inputs, targets, Batch, length, training: true);
        }

        adapter.ZeroGradients();
        Loss();
        context.Backward();
        var analytic = adapter.Gradients.ToArray();
        Assert.Contains(analytic, g => Math.Abs(g) > 1e-3);

        var w = adapter.Weights;
        const float eps = 1e-3f;
        int checkedCount = 0;
        for (int k = 0; k < w.Length; k += 3)
        {
            float saved = w[k];
            w[k] = saved + eps;
            double plus = Loss();
            w[k] = saved - eps;
            double minus = Loss();
            w[k] = saved;
            double numeric = (plus - minus) / (2 * eps);
            Assert.True(Math.Abs(numeric - analytic[k]) <= 2e-3 + 2e-2 * Math.Abs(numeric),
                $"weight {k} at {bits} bits, dropout {dropout}: analytic {analytic[k]:G6}, numeric {numeric:G6}");
            checkedCount++;
        }
        Assert.True(checkedCount > 100);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void InputGradient_MatchesFiniteDifferences(double dropout, int bits)
    {
        using var _ = Simd.Force(bits);
        using var model = new TinyGpt(Vocab);
        using var adapter = RandomAdapter(model.Layout, AllTargets with { Dropout = dropout }, 9);
        adapter.EnableTraining(8);
        var set = new AdapterSet(model.Layout, [adapter]);
        set.Activate(0, 1.5f);
        var site = adapter.Targets[1];                  // h.0.attn.c_proj
        int rows = 5, n = site.In, m = site.Out;
        var rng = new Rng(2);
        var x = Enumerable.Range(0, rows * n).Select(_ => rng.NextGaussian()).ToArray();
        var g = Enumerable.Range(0, rows * m).Select(_ => rng.NextGaussian()).ToArray();   // loss = sum(y * g), so dy = g
        var state = adapter.DropoutState;
        double Loss()
        {
            adapter.DropoutState = state;
            var y = new float[rows * m];
            set.Forward(site.Site, x, y, rows, training: true);
            return y.Select((v, i) => (double)v * g[i]).Sum();
        }
        Loss();
        var dx = new float[rows * n];
        adapter.ZeroGradients();
        set.Backward(site.Site, x, g, dx, rows);
        const float eps = 1e-2f;                        // the loss is linear in x: any step is exact up to rounding
        for (int i = 0; i < x.Length; i++)
        {
            float saved = x[i];
            x[i] = saved + eps; double plus = Loss();
            x[i] = saved - eps; double minus = Loss();
            x[i] = saved;
            double numeric = (plus - minus) / (2 * eps);
            Assert.True(Math.Abs(numeric - dx[i]) <= 1e-3 + 1e-3 * Math.Abs(numeric), $"dx[{i}] at {bits} bits: analytic {dx[i]:G6}, numeric {numeric:G6}");
        }
        Assert.Contains(dx, v => v != 0f);
    }

    [Fact]
    public void Merged_MatchesUnmerged_AndUnmergeRestoresTheBase()
    {
        using var model = new TinyGpt(Vocab);
        model.Initialize(3);
        using var adapter = RandomAdapter(model.Layout, AllTargets, 4, std: 0.5f);
        var set = new AdapterSet(model.Layout, [adapter]);
        int[] tokens = [1, 4, 2, 9, 0, 3, 5, 5, 7, 10];
        using var context = model.CreateInferenceContext(2);
        var baseWeights = model.Weights.ToArray();
        var baseLogits = context.Logits(tokens, 2, 5).ToArray();

        set.Activate(0, 0.8f);
        context.Adapters = set;
        var adapted = context.Logits(tokens, 2, 5).ToArray();
        context.Adapters = null;
        Assert.True(MaxDiff(adapted, baseLogits) > 1e-2, "the adapter should change the logits");

        adapter.Merge(model, 0.8f);
        var merged = context.Logits(tokens, 2, 5).ToArray();
        Assert.True(MaxDiff(merged, adapted) <= 1e-5, $"merged vs unmerged: {MaxDiff(merged, adapted)}");

        adapter.Unmerge(model, 0.8f);
        Assert.True(MaxDiff(model.Weights.ToArray(), baseWeights) <= 1e-6, "unmerging restores the weights up to rounding");
        Assert.True(MaxDiff(context.Logits(tokens, 2, 5).ToArray(), baseLogits) <= 1e-5);
    }

    [Fact]
    public void MergingIntoMappedWeights_IsRefused()
    {
        using var dir = new Edge.Tests.Support.TempDir();
        using var model = new TinyGpt(Vocab);
        model.Initialize(3);
        var tokenizer = Edge.Text.CharTokenizer.FromText("abcdefghijk");
        Checkpoint.Save(dir.File("m.safetensors"), model, tokenizer);
        var loaded = Checkpoint.Load(dir.File("m.safetensors"), [model.Info], mapWeights: true);
        using var mapped = loaded.Model;
        Assert.True(mapped.WeightsAreMapped);
        using var adapter = RandomAdapter(mapped.Layout, AllTargets, 4);
        var e = Assert.Throws<EdgeException>(() => adapter.Merge(mapped));
        Assert.Contains("memory-mapped", e.Message);
    }

    [Fact]
    public void ActivatingThenDeactivating_RestoresTheBaseLogitsBitForBit()
    {
        using var model = new TinyGpt(Vocab);
        model.Initialize(5);
        using var a = RandomAdapter(model.Layout, AllTargets, 1);
        using var b = RandomAdapter(model.Layout, new LoraConfig(3, 3, 0, LoraConfig.DefaultTargets), 2);
        var weights = model.Weights.ToArray();
        var set = new AdapterSet(model.Layout, [a, b]);
        using var inference = model.CreateInferenceContext();
        using var decoding = model.CreateDecodingContext();
        inference.Adapters = set;
        decoding.Adapters = set;
        int[] prompt = [3, 1, 4, 1, 5];
        var before = inference.Logits(prompt, 1, 5).ToArray();
        var decodedBefore = Decode(decoding, prompt);

        set.Activate(0, 1f);
        set.Activate(1, 0.5f);
        Assert.True(MaxDiff(inference.Logits(prompt, 1, 5).ToArray(), before) > 1e-3);
        Assert.True(MaxDiff(Decode(decoding, prompt), decodedBefore) > 1e-3);
        set.Deactivate(0);
        set.DeactivateAll();

        Assert.True(before.AsSpan().SequenceEqual(inference.Logits(prompt, 1, 5)));
        Assert.True(decodedBefore.AsSpan().SequenceEqual(Decode(decoding, prompt)));
        Assert.True(weights.AsSpan().SequenceEqual(model.Weights), "switching never writes the base");
    }

    [Fact]
    public void Decoding_WithAnAdapter_MatchesTheFullForward()
    {
        using var model = new TinyGpt(Vocab);
        model.Initialize(6);
        using var adapter = RandomAdapter(model.Layout, AllTargets, 8);
        var set = new AdapterSet(model.Layout, [adapter]);
        set.Activate(0, 1f);
        using var decoding = model.CreateDecodingContext();
        decoding.Adapters = set;
        int[] tokens = [2, 7, 1, 8, 2, 8];
        decoding.Prefill(tokens.AsSpan(0, 3));
        var last = decoding.DecodeStep(tokens[3]).ToArray();
        using var inference = model.CreateInferenceContext();
        inference.Adapters = set;
        var full = inference.Logits(tokens, 1, 4).ToArray()[(3 * Vocab)..];
        Assert.True(MaxDiff(last, full) <= 1e-4, $"decode vs forward: {MaxDiff(last, full)}");
        // Another context without adapters is unaffected by this one's set.
        using var bare = model.CreateInferenceContext();
        Assert.True(MaxDiff(bare.Logits(tokens, 1, 4).ToArray()[(3 * Vocab)..], full) > 1e-3);
    }

    [Fact]
    public void Contexts_UseTheirOwnAdapters_SideBySide()
    {
        using var model = new TinyGpt(Vocab);
        model.Initialize(6);
        using var adapter = RandomAdapter(model.Layout, AllTargets, 8);
        var on = new AdapterSet(model.Layout, [adapter]);
        on.Activate(0);
        var off = on.View();
        using var s1 = model.CreateDecodingContext();
        using var s2 = model.CreateDecodingContext();
        s1.Adapters = on;
        s2.Adapters = off;
        int[] prompt = [1, 2, 3];
        var withAdapter = s1.Prefill(prompt).ToArray();
        var bare = s2.Prefill(prompt).ToArray();
        Assert.True(MaxDiff(withAdapter, bare) > 1e-3);
        using var inference = model.CreateInferenceContext();
        Assert.True(MaxDiff(bare, inference.Logits(prompt, 1, 3)[(2 * Vocab)..]) <= 1e-5);
    }

    [Fact]
    public void InvalidTargets_AreRefused_NamingTheValidOnes()
    {
        var e = Assert.Throws<EdgeException>(() => new LoraConfig(8, 16, 0.05, ["attn.q_proj"]).Validate());
        Assert.Contains("attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj", e.Message);
        Assert.Equal(["attn.c_proj", "mlp.c_proj"], LoraConfig.ParseTargets(["c_proj"]));
        var layout = Edge.Models.ModelCatalog.Find("char-mlp")!.Describe(30);
        Assert.Throws<EdgeException>(() => LoraAdapter.Create(layout, new LoraConfig(8, 16, 0, LoraConfig.DefaultTargets), 1));
    }

    [Fact]
    public void SwitchingAdapters_AllocatesNothing()
    {
        using var model = new TinyGpt(Vocab);
        using var a = RandomAdapter(model.Layout, AllTargets, 1);
        using var b = RandomAdapter(model.Layout, AllTargets, 2);
        var set = new AdapterSet(model.Layout, [a, b]);
        using var context = model.CreateDecodingContext();
        context.Adapters = set;
        int[] prompt = [1, 2, 3];
        set.ActivateOnly(0); context.Prefill(prompt); context.DecodeStep(4);
        set.ActivateOnly(1); context.Prefill(prompt); context.DecodeStep(4);
        int i = 0;
        Expect.AllocatesNothing(() =>
        {
            set.ActivateOnly(i % 2, 0.5f + i % 3);
            context.Adapters = i % 3 == 0 ? null : set;
            context.Prefill(prompt);
            context.DecodeStep(4);
            i++;
        }, "switching adapters between decodes", warmUp: 0, calls: 100);
        Expect.AllocatesNothing(set.DeactivateAll, "deactivating every adapter", warmUp: 0, calls: 1);
    }

    static float[] Decode(ModelContext context, int[] prompt)
    {
        var all = new List<float>(context.Prefill(prompt.AsSpan(0, 2)).ToArray());
        for (int i = 2; i < prompt.Length; i++) all.AddRange(context.DecodeStep(prompt[i]).ToArray());
        return all.ToArray();
    }

    internal static double MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }
}
