using Edge.Generation;
using Xunit;

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
}
