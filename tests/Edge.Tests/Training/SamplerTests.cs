using Edge.Generation;
using Xunit;
using Edge.Tests.Kernels;

namespace Edge.Tests.Training;

public class SamplerTests
{
    static readonly float[] Logits = [0.1f, 2.5f, -1f, 2.4f, 0.7f, 2.45f, -3f];

    [Fact]
    public void TemperatureZero_IsGreedy_AndPicksTheArgMax()
    {
        var sampler = new Sampler(Logits.Length, seed: 1, temperature: 0f);
        for (int i = 0; i < 20; i++) Assert.Equal(1, sampler.Sample(Logits));
    }

    [Fact]
    public void TopK_NeverEmitsATokenOutsideTheKBest()
    {
        var sampler = new Sampler(Logits.Length, seed: 2, temperature: 5f, topK: 3);
        var seen = new HashSet<int>();
        for (int i = 0; i < 2000; i++) seen.Add(sampler.Sample(Logits));
        Assert.Equal(new HashSet<int> { 1, 3, 5 }, seen);
    }

    [Fact]
    public void TopK_WithTies_KeepsExactlyK()
    {
        var tied = new float[] { 1f, 1f, 1f, 1f, 0f };
        var sampler = new Sampler(tied.Length, seed: 3, temperature: 1f, topK: 2);
        var seen = new HashSet<int>();
        for (int i = 0; i < 500; i++) seen.Add(sampler.Sample(tied));
        Assert.Equal(2, seen.Count);
    }

    [Fact]
    public void SameSeed_GivesSameDraws()
    {
        var a = new Sampler(Logits.Length, seed: 9);
        var b = new Sampler(Logits.Length, seed: 9);
        var c = new Sampler(Logits.Length, seed: 10);
        var da = Enumerable.Range(0, 100).Select(_ => a.Sample(Logits)).ToArray();
        var db = Enumerable.Range(0, 100).Select(_ => b.Sample(Logits)).ToArray();
        var dc = Enumerable.Range(0, 100).Select(_ => c.Sample(Logits)).ToArray();
        Assert.Equal(da, db);
        Assert.NotEqual(da, dc);
    }

    [Fact]
    public void Frequencies_FollowTheSoftmax()
    {
        var logits = new float[] { 0f, MathF.Log(3f) }; // probabilities 1/4, 3/4
        var sampler = new Sampler(2, seed: 4);
        int ones = Enumerable.Range(0, 20000).Count(_ => sampler.Sample(logits) == 1);
        Assert.InRange(ones / 20000.0, 0.74, 0.76);
    }

    /// <summary>
    /// On a GPT-2-sized row, top-k (found in one pass with a heap, then sampled over the k alone) draws each of the
    /// k best as often as their renormalised softmax says, and nothing else; with top-p on top, only the smallest
    /// set of them that reaches p.
    /// </summary>
    [Fact]
    public void TopK_OnALargeVocabulary_FollowsTheSoftmaxOfTheKBest()
    {
        const int v = 50257, draws = 40000;
        var logits = new float[v];
        var rng = new Random(7);
        for (int i = 0; i < v; i++) logits[i] = (float)(rng.NextDouble() * 4 - 8);
        int[] best = [31000, 5, 49999, 12345]; // probabilities 0.4, 0.3, 0.2, 0.1 among themselves
        float[] share = [0.4f, 0.3f, 0.2f, 0.1f];
        for (int j = 0; j < best.Length; j++) logits[best[j]] = 10 + MathF.Log(share[j]);
        var sampler = new Sampler(v, seed: 8, temperature: 1f, topK: 4);
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < draws; i++)
        {
            int token = sampler.Sample(logits);
            counts[token] = counts.GetValueOrDefault(token) + 1;
        }
        Assert.Equal(best.ToHashSet(), counts.Keys.ToHashSet());
        for (int j = 0; j < best.Length; j++) Assert.InRange(counts[best[j]] / (double)draws, share[j] - 0.012, share[j] + 0.012);

        var nucleus = new Sampler(v, seed: 9, temperature: 1f, topK: 4, topP: 0.65f); // 0.4 + 0.3 reach 0.65
        var seen = new HashSet<int>();
        for (int i = 0; i < 3000; i++) seen.Add(nucleus.Sample(logits));
        Assert.Equal(new HashSet<int> { 31000, 5 }, seen);
    }
}

public class SamplerControlTests
{
    [Fact]
    public void TopP_KeepsTheSmallestSetReachingP()
    {
        // probabilities 0.5, 0.3, 0.15, 0.05: p = 0.75 needs the first two; p = 0.85 the first three.
        var logits = new[] { MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f) };
        foreach (var (p, expected) in new[] { (0.75f, new[] { 0, 1 }), (0.85f, new[] { 0, 1, 2 }), (0.4f, new[] { 0 }) })
        {
            var sampler = new Sampler(4, seed: 1, temperature: 1f, topP: p);
            var seen = new HashSet<int>();
            for (int i = 0; i < 3000; i++) seen.Add(sampler.Sample(logits));
            Assert.Equal(expected.ToHashSet(), seen);
        }
    }

    [Fact]
    public void RepetitionPenalty_MakesSeenTokensLessLikely()
    {
        var logits = new[] { 2f, 2f, 0f };
        var plain = new Sampler(3, seed: 2);
        var penalised = new Sampler(3, seed: 2) { RepetitionPenalty = 2f };
        int Count(Sampler s) => Enumerable.Range(0, 4000).Count(_ => s.Sample(logits, [0, 0, 0]) == 0);
        int before = Count(plain), after = Count(penalised);
        Assert.InRange(before / 4000.0, 0.42, 0.5);
        // logit 2 -> 1 for token 0, applied once however often it occurs: p = e / (e + e^2 + 1), about 0.24.
        Assert.InRange(after / 4000.0, 0.21, 0.27);
    }

    [Fact]
    public void NoRepeatNgram_NeverCompletesAnNgramSeenBefore()
    {
        // History "1 2 ... 1": with n = 2, token 2 after 1 would repeat the bigram (1, 2).
        var logits = new[] { 0f, 0f, 5f, 0f };
        var sampler = new Sampler(4, seed: 3, temperature: 0f) { NoRepeatNgram = 2 };
        Assert.NotEqual(2, sampler.Sample(logits, [1, 2, 3, 1]));
        Assert.Equal(2, sampler.Sample(logits, [1, 3, 3, 1]));
    }

    [Fact]
    public void AllControls_AllocateNothingPerToken()
    {
        var rng = new Rng(5);
        var logits = Enumerable.Range(0, 65).Select(_ => rng.NextGaussian()).ToArray();
        var history = Enumerable.Range(0, 64).Select(i => i % 65).ToArray();
        var sampler = new Sampler(65, seed: 1, temperature: 0.8f, topK: 20, topP: 0.9f) { RepetitionPenalty = 1.2f, NoRepeatNgram = 3 };
        Expect.AllocatesNothing(() => sampler.Sample(logits, history), "a sample with every control on", warmUp: 1, calls: 200);
    }

    [Theory]
    [InlineData("the end. THE END", "the end. ")]
    [InlineData("no stop here", "no stop here")]
    [InlineData("almost THE EN", "almost THE EN")]
    [InlineData("THE END at once", "")]
    public void StopSequence_EndsTheOutputBeforeIt(string generated, string expected)
    {
        var stops = new StopSequences(["THE END"]);
        var output = new StringWriter();
        foreach (var ch in generated)
            if (stops.Append([ch], output)) break;
        stops.Flush(output);
        Assert.Equal(expected, output.ToString());
    }
}
