using Edge.Models;
using Xunit;

namespace Edge.Tests.Models;

public class DecodeTests
{
    public static TheoryData<string> TransformerModels() => new() { "baby-gpt", "baby-gpt-nanogpt", "mini-gpt", "shakespeare-gpt" };

    [Theory]
    [MemberData(nameof(TransformerModels))]
    public void IncrementalDecoding_MatchesTheFullForward_AtEveryPosition(string name)
    {
        const int V = 65;
        var info = ModelCatalog.Find(name)!;
        using var model = info.Create(V, 1);
        model.Initialize(5);
        int T = model.InputLength;
        var rng = new Rng(8);
        var tokens = Enumerable.Range(0, T).Select(_ => rng.NextInt(V)).ToArray();
        var full = model.Logits(tokens, 1, T).ToArray();

        // Prefill a short prompt, then one token at a time up to the full context.
        const int prompt = 3;
        var logits = model.Prefill(tokens.AsSpan(0, prompt)).ToArray();
        double worst = MaxDiff(full.AsSpan((prompt - 1) * V, V), logits);
        for (int t = prompt; t < T; t++)
        {
            logits = model.DecodeStep(tokens[t]).ToArray();
            worst = Math.Max(worst, MaxDiff(full.AsSpan(t * V, V), logits));
        }
        Assert.Equal(T, model.CachedPositions);
        Assert.True(worst <= 1e-4, $"{name}: max |decode - forward| = {worst:G3}");
        Assert.Throws<InvalidOperationException>(() => model.DecodeStep(0));
    }

    [Fact]
    public void DecodeStep_AllocatesNothing()
    {
        using var model = new TinyGpt(7, 1);
        model.Initialize(1);
        model.Prefill([1, 2]);
        model.DecodeStep(3);
        long before = GC.GetAllocatedBytesForCurrentThread();
        model.DecodeStep(4);
        model.DecodeStep(5);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    static double MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
