using Edge.Models;
using Edge.Text;
using Edge.Generation;
using Xunit;
using Edge.Tests.Kernels;

namespace Edge.Tests.Models;

public class TransformerTests
{
    [Theory]
    [InlineData("test-gpt", 2, 2, false)]
    [InlineData("test-gpt-untied", 1, 3, false)]
    [InlineData("test-gpt-nobias", 1, 2, false)]
    [InlineData("test-gpt-exact", 2, 2, true)]
    public void GeneratedForward_MatchesDoublePrecisionReference(string name, int layers, int heads, bool exactGelu)
    {
        const int V = 13, B = 2;
        var info = Edge.Generated.ModelRegistry.All.Single(m => m.Name == name);
        using var model = info.Create(V);
        model.Initialize(21);
        using var context = model.CreateInferenceContext(B);
        var rng = new Rng(4);
        // Non-trivial LayerNorm scales and biases, so the reference checks every parameter's role.
        foreach (var p in model.Parameters)
            for (int i = 0; i < p.Length; i++) model.Weights[p.Offset + i] += rng.NextGaussian() * 0.1f;

        foreach (int T in new[] { 1, 3, model.InputLength })
        {
            var tokens = Enumerable.Range(0, B * T).Select(_ => rng.NextInt(V)).ToArray();
            var targets = Enumerable.Range(0, B * T).Select(_ => rng.NextInt(V)).ToArray();
            var logits = context.Logits(tokens, B, T).ToArray();
            double expectedLoss = 0;
            for (int b = 0; b < B; b++)
            {
                var reference = ReferenceGpt.Logits(model, tokens[(b * T)..((b + 1) * T)], layers, heads, exactGelu);
                for (int t = 0; t < T; t++)
                {
                    double max = double.NegativeInfinity, sum = 0;
                    for (int v = 0; v < V; v++)
                    {
                        Assert.Equal(reference[t, v], logits[(b * T + t) * V + v], 1e-4);
                        max = Math.Max(max, reference[t, v]);
                    }
                    for (int v = 0; v < V; v++) sum += Math.Exp(reference[t, v] - max);
                    expectedLoss += (Math.Log(sum) + max - reference[t, targets[b * T + t]]) / (B * T);
                }
            }
            Assert.Equal(expectedLoss, context.Forward(tokens, targets, B, T), 1e-4);
        }
    }

    [Fact]
    public void Dropout_OnlyInTraining_AndReproducibleFromItsState()
    {
        using var model = new TinyGpt(9);
        model.Initialize(1);
        using var context = model.CreateTrainingContext(2);
        Assert.Equal(0.25f, context.DropoutRate);
        var tokens = new[] { 1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1 };
        var targets = new[] { 2, 3, 4, 5, 6, 7, 5, 4, 3, 2, 1, 0 };
        float eval1 = context.Forward(tokens, targets, 2);
        float eval2 = context.Forward(tokens, targets, 2);
        Assert.Equal(eval1, eval2);
        var state = context.DropoutState;
        float train1 = context.Forward(tokens, targets, 2, training: true);
        float train2 = context.Forward(tokens, targets, 2, training: true);
        context.DropoutState = state;
        float replay = context.Forward(tokens, targets, 2, training: true);
        Assert.NotEqual(eval1, train1);
        Assert.NotEqual(train1, train2);
        Assert.Equal(train1, replay);
    }

    [Fact]
    public void CausalMask_LaterTokensDoNotChangeEarlierLogits()
    {
        using var model = new TinyGpt(9);
        model.Initialize(2);
        using var context = model.CreateInferenceContext();
        var a = context.Logits(new[] { 1, 2, 3, 4 }, 1, 4).ToArray();
        var b = context.Logits(new[] { 1, 2, 3, 8 }, 1, 4).ToArray();
        Assert.Equal(a.AsSpan(0, 3 * 9).ToArray(), b.AsSpan(0, 3 * 9).ToArray());
        Assert.NotEqual(a.AsSpan(3 * 9).ToArray(), b.AsSpan(3 * 9).ToArray());
    }

    [Fact]
    public void Generation_SlidesPastTheContext_AndAllocatesNothingPerToken()
    {
        using var model = new TinyGpt(5);
        model.Initialize(3);
        var tokenizer = CharTokenizer.FromText("\nabcd");
        using var context = model.CreateDecodingContext();
        var generator = new TextGenerator(context, tokenizer);
        var sampler = new Sampler(5, seed: 1);
        generator.Reset([]);
        // The 10 warm-up tokens go past the context of 6.
        Expect.AllocatesNothing(() => generator.Next(sampler), "a generated token past the context", warmUp: 10, calls: 100);
    }

    [Fact]
    public void DeclaredModels_HaveTheCourseShapes()
    {
        // Per layer 12 C^2 weights + 13 C biases and LayerNorm parameters (2 C without biases), the embeddings
        // (V + T) C, ln_f 2 C (C without bias); the head is tied, so it adds nothing.
        static long Gpt(int layers, int c, int v, int t, bool bias = true) =>
            layers * (12L * c * c + (bias ? 13L : 2L) * c) + (long)(v + t) * c + (bias ? 2L : 1L) * c;
        Assert.Equal(Gpt(4, 128, 65, 64), BabyGpt.Descriptor.ParameterCount(65));
        Assert.Equal(Gpt(4, 128, 65, 256), MiniGpt.Descriptor.ParameterCount(65));
        Assert.Equal(Gpt(6, 384, 65, 256), ShakespeareGpt.Descriptor.ParameterCount(65));
        Assert.Equal(0.2, ShakespeareGpt.Descriptor.Recipe.Dropout, 6);
        Assert.Equal(0.1, MiniGpt.Descriptor.Recipe.Dropout, 6);
        Assert.Equal(0.0, BabyGpt.Descriptor.Recipe.Dropout);
        // nanoGPT's block: 804,096 parameters, which nanoGPT prints as 0.80M (it leaves out wpe's 64 x 128).
        Assert.Equal(Gpt(4, 128, 65, 64, bias: false), BabyGptNanoGpt.Descriptor.ParameterCount(65));
        Assert.Equal(804_096, BabyGptNanoGpt.Descriptor.ParameterCount(65));
        Assert.Equal(BabyGpt.Descriptor.Recipe, BabyGptNanoGpt.Descriptor.Recipe);
        Assert.True(BabyGptNanoGpt.Descriptor.Transformer is { Bias: false, ExactGelu: true });
    }
}
