using Edge.Models;
using Xunit;

namespace Edge.Tests.Models;

/// <summary>
/// The threading contract (docs/ARCHITECTURE.md, "Model and context"): any number of contexts on one model, on any
/// threads, each giving exactly what it gives alone; each context keeps its own KV cache, activations and adapters.
/// </summary>
public class ModelContextTests
{
    const int V = 65;

    /// <summary>Logits after each step of prefill(prompt) then decoding `steps` greedy tokens, as one array.</summary>
    static float[] Run(ModelContext context, int[] prompt, int steps)
    {
        var all = new List<float>();
        var logits = context.Prefill(prompt);
        for (int i = 0; ; i++)
        {
            all.AddRange(logits.ToArray());
            if (i == steps) break;
            int next = 0;
            for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[next]) next = v;
            logits = context.DecodeStep(next);
        }
        return all.ToArray();
    }

    [Fact]
    public void ConcurrentDecodingContexts_GiveExactlyWhatEachGivesAlone()
    {
        using var model = ModelCatalog.Find("baby-gpt")!.Create(V);
        model.Initialize(3);
        var prompts = Enumerable.Range(0, 4).Select(s => Enumerable.Range(0, 3 + 5 * s).Select(i => (i * 7 + s * 11) % V).ToArray()).ToArray();
        const int steps = 24;
        var alone = prompts.Select(p => { using var c = model.CreateDecodingContext(); return Run(c, p, steps); }).ToArray();

        var contexts = prompts.Select(_ => model.CreateDecodingContext()).ToArray();
        try
        {
            for (int repeat = 0; repeat < 5; repeat++)
            {
                var results = new float[prompts.Length][];
                var threads = Enumerable.Range(0, prompts.Length)
                    .Select(i => new Thread(() => results[i] = Run(contexts[i], prompts[i], steps))).ToArray();
                foreach (var t in threads) t.Start();
                foreach (var t in threads) t.Join();
                for (int i = 0; i < prompts.Length; i++)
                    Assert.True(alone[i].AsSpan().SequenceEqual(results[i]), $"repeat {repeat}: context {i} differs from its run alone");
            }
        }
        finally
        {
            foreach (var c in contexts) c.Dispose();
        }
    }

    [Fact]
    public void InferenceAndDecodingContexts_RunSideBySide_OnOneModel()
    {
        // Before the model/context split, Logits on one thread raced with a prefill on another (both used the model's arena).
        using var model = new TinyGpt(7);
        model.Initialize(5);
        int[] batch = [1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5];
        float[] expectLogits;
        using (var alone = model.CreateInferenceContext(2)) expectLogits = alone.Logits(batch, 2, 6).ToArray();
        float[] expectDecode;
        using (var alone = model.CreateDecodingContext()) expectDecode = Run(alone, [3, 1, 4], 2);

        using var inference = model.CreateInferenceContext(2);
        using var decoding = model.CreateDecodingContext();
        var logits = new List<float[]>();
        var decoded = new List<float[]>();
        var a = new Thread(() => { for (int i = 0; i < 200; i++) logits.Add(inference.Logits(batch, 2, 6).ToArray()); });
        var b = new Thread(() => { for (int i = 0; i < 200; i++) decoded.Add(Run(decoding, [3, 1, 4], 2)); });
        a.Start(); b.Start(); a.Join(); b.Join();
        Assert.All(logits, l => Assert.Equal(expectLogits, l));
        Assert.All(decoded, d => Assert.Equal(expectDecode, d));
    }

    [Fact]
    public void DecodingContexts_KeepTheirOwnCache_WhenInterleaved()
    {
        using var model = new TinyGpt(7);
        model.Initialize(2);
        using var a = model.CreateDecodingContext();
        using var b = model.CreateDecodingContext();
        int[] pa = [1, 2, 3], pb = [4, 5];
        var expectA = Run(a, pa, 3);
        var expectB = Run(b, pb, 3);
        // Interleave: prefill both, then alternate steps; each must match its own uninterrupted run.
        var got = new[] { new List<float>(a.Prefill(pa).ToArray()), new List<float>(b.Prefill(pb).ToArray()) };
        var contexts = new[] { a, b };
        for (int step = 0; step < 3; step++)
            for (int k = 0; k < 2; k++)
            {
                var last = got[k].GetRange(got[k].Count - 7, 7);
                int next = last.IndexOf(last.Max());
                got[k].AddRange(contexts[k].DecodeStep(next).ToArray());
            }
        Assert.Equal(expectA, got[0].ToArray());
        Assert.Equal(expectB, got[1].ToArray());
        Assert.Equal(6, a.CachedPositions);
        Assert.Equal(5, b.CachedPositions);
    }

    [Fact]
    public void Append_ExtendsTheCache_AsOnePrefillOfBothParts()
    {
        using var model = new TinyGpt(7);
        model.Initialize(6);
        using var whole = model.CreateDecodingContext();
        using var parts = model.CreateDecodingContext();
        var expect = whole.Prefill([1, 2, 3, 4, 5]).ToArray();
        parts.Prefill([1, 2]);
        var got = parts.Append([3, 4, 5]).ToArray();
        Assert.Equal(5, parts.CachedPositions);
        for (int v = 0; v < expect.Length; v++) Assert.Equal(expect[v], got[v], 5);
    }

    [Fact]
    public void WindowModels_HaveNoDecodingContext()
    {
        using var model = ModelCatalog.Find("char-mlp")!.Create(V);
        Assert.Throws<InvalidOperationException>(() => model.CreateDecodingContext());
    }

    [Fact]
    public void ContextKinds_RefuseWhatTheyCannotDo()
    {
        using var model = new TinyGpt(7);
        model.Initialize(1);
        int[] x = [1, 2, 3], y = [2, 3, 4];
        using var inference = model.CreateInferenceContext();
        Assert.Throws<InvalidOperationException>(() => inference.Forward(x, y, 1, 3, training: true));
        Assert.Throws<InvalidOperationException>(() => inference.Backward());
        Assert.Throws<InvalidOperationException>(() => inference.Prefill(x));
        using var decoding = model.CreateDecodingContext();
        Assert.Throws<InvalidOperationException>(() => decoding.Logits(x, 1, 3));
        Assert.Throws<InvalidOperationException>(() => decoding.DecodeStep(1));
    }

    [Fact]
    public void FrozenWeights_BackwardRuns_WithoutWeightGradients_AndLeavesWeightsAlone()
    {
        using var model = new TinyGpt(7);
        model.Initialize(4);
        using var context = model.CreateTrainingContext(2, frozenWeights: true);
        var before = model.Weights.ToArray();
        int[] x = [1, 2, 3, 4, 5, 6, 0, 1], y = [2, 3, 4, 5, 6, 0, 1, 2];
        float loss = context.Forward(x, y, 2, 4, training: true);
        context.Backward();
        Assert.True(float.IsFinite(loss));
        Assert.False(context.HasWeightGradients);
        Assert.Throws<InvalidOperationException>(() => context.WeightGradients.Length);
        Assert.Equal(before, model.Weights.ToArray());
    }

    [Fact]
    public void InferenceContexts_ShareMemoryByLifetime_AndComputeWhatTrainingContextsCompute()
    {
        using var model = ModelCatalog.Find("baby-gpt")!.Create(V);
        model.Initialize(8);
        using var inference = model.CreateInferenceContext(4);
        using var training = model.CreateTrainingContext(4);
        var rng = new Rng(3);
        var x = Enumerable.Range(0, 4 * 64).Select(_ => rng.NextInt(V)).ToArray();
        var y = Enumerable.Range(0, 4 * 64).Select(_ => rng.NextInt(V)).ToArray();
        Assert.Equal(training.Forward(x, y, 4), inference.Forward(x, y, 4));
        Assert.Equal(training.Logits(x, 4).ToArray(), inference.Logits(x, 4).ToArray());
        // Shared slots and no attention maps: far less than every activation of a training pass.
        long activations = ContextLayout.Build(model.Info, V, 4, ContextKind.Training).ArenaLength;
        Assert.True(4 * ContextLayout.Build(model.Info, V, 4, ContextKind.Inference).ArenaLength < activations,
            "an inference context should hold under a quarter of a training context's activations");
    }
}
