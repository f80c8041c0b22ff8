using Edge.Models;
using Xunit;

namespace Edge.Tests.Models;

public class DecodeTests
{
    public static TheoryData<string> TransformerModels() => new() { "baby-gpt", "baby-gpt-nanogpt", "mini-gpt", "shakespeare-gpt", "small-llama" };

    [Theory]
    [MemberData(nameof(TransformerModels))]
    public void IncrementalDecoding_MatchesTheFullForward_AtEveryPosition(string name)
    {
        const int V = 65;
        var info = ModelCatalog.Find(name)!;
        using var model = info.Create(V);
        model.Initialize(5);
        int T = model.InputLength;
        var rng = new Rng(8);
        var tokens = Enumerable.Range(0, T).Select(_ => rng.NextInt(V)).ToArray();
        using var inference = model.CreateInferenceContext();
        var full = inference.Logits(tokens, 1, T).ToArray();

        // Prefill a short prompt, then one token at a time up to the full context.
        using var decoding = model.CreateDecodingContext();
        const int prompt = 3;
        var logits = decoding.Prefill(tokens.AsSpan(0, prompt)).ToArray();
        double worst = MaxDiff(full.AsSpan((prompt - 1) * V, V), logits);
        for (int t = prompt; t < T; t++)
        {
            logits = decoding.DecodeStep(tokens[t]).ToArray();
            worst = Math.Max(worst, MaxDiff(full.AsSpan(t * V, V), logits));
        }
        Assert.Equal(T, decoding.CachedPositions);
        Assert.True(worst <= 1e-4, $"{name}: max |decode - forward| = {worst:G3}");
        Assert.Throws<InvalidOperationException>(() => decoding.DecodeStep(0));

        // A full-context prefill is the forward pass's last row.
        var last = decoding.Prefill(tokens).ToArray();
        Assert.True(MaxDiff(full.AsSpan((T - 1) * V, V), last) <= 1e-4, $"{name}: prefill of the whole context differs from the forward pass");
    }

    [Fact]
    public void DecodeStep_AllocatesNothing()
    {
        using var model = new TinyGpt(7);
        model.Initialize(1);
        using var context = model.CreateDecodingContext();
        context.Prefill([1, 2]);
        context.DecodeStep(3);
        long before = GC.GetAllocatedBytesForCurrentThread();
        context.DecodeStep(4);
        context.DecodeStep(5);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    static double MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
