using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Models;

/// <summary>Every generated backward against central finite differences of the generated forward, on every vector width.</summary>
[Collection(Edge.Tests.Kernels.SimdWidthCollection.Name)]
public class GradientCheckTests
{
    const int Vocab = 11, Batch = 5;

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in new[] { "test-deep-mlp", "test-linear", "test-context-one", "test-bigram", "test-gpt", "test-gpt-untied", "test-gpt-nobias", "test-gpt-exact", "test-tied-mlp", "test-llama", "test-llama-interleaved", "test-llama-mqa" })
            foreach (var bits in Simd.AllBits)
                data.Add(name, bits);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_MatchesFiniteDifferences(string modelName, int bits)
    {
        using var _ = Simd.Force(bits);
        var info = Edge.Generated.ModelRegistry.All.Single(m => m.Name == modelName);
        using var model = info.Create(Vocab);
        model.Initialize(seed: 7);
        using var context = model.CreateTrainingContext(Batch);
        var rng = new Rng(99);
        // Larger weights than the defaults so that every layer's gradient is well above float rounding.
        var w = model.Weights;
        foreach (var p in model.Parameters)
            for (int i = 0; i < p.Length; i++) w[p.Offset + i] = rng.NextGaussian() * 0.5f;
        // Sequence models are checked at a length shorter than their context, the case generation relies on.
        int length = model.IsSequenceModel ? model.InputLength - 1 : model.InputLength;
        var inputs = new int[Batch * length];
        var targets = new int[Batch * (model.IsSequenceModel ? length : 1)];
        for (int i = 0; i < inputs.Length; i++) inputs[i] = rng.NextInt(Vocab);
        for (int i = 0; i < targets.Length; i++) targets[i] = rng.NextInt(Vocab);
        // Dropout is checked too: every forward replays the same masks from the same dropout state.
        bool dropout = context.DropoutRate > 0;
        var dropoutState = context.DropoutState;
        float Loss()
        {
            context.DropoutState = dropoutState;
            return context.Forward(inputs, targets, Batch, length, training: dropout);
        }

        context.ZeroWeightGradients();
        Loss();
        context.Backward();
        var analytic = context.WeightGradients.ToArray();

        const float eps = 1e-3f;
        int checkedCount = 0;
        foreach (var p in model.Parameters)
        {
            // Every element of small tensors, an even sample of larger ones.
            int stride = Math.Max(1, p.Length / 40);
            for (int i = 0; i < p.Length; i += stride)
            {
                int k = p.Offset + i;
                float saved = w[k];
                w[k] = saved + eps;
                double plus = Loss();
                w[k] = saved - eps;
                double minus = Loss();
                w[k] = saved;
                double numeric = (plus - minus) / (2 * eps);
                double error = Math.Abs(numeric - analytic[k]);
                Assert.True(error <= 2e-3 + 2e-2 * Math.Abs(numeric),
                    $"{modelName} {p.Name}[{i}] at {bits} bits: analytic {analytic[k]:G6}, numeric {numeric:G6}");
                checkedCount++;
            }
        }
        Assert.True(checkedCount >= model.Parameters.Count);
    }

    [Fact]
    public void Backward_AccumulatesAcrossCalls()
    {
        var info = Edge.Generated.ModelRegistry.All.Single(m => m.Name == "test-deep-mlp");
        using var model = info.Create(Vocab);
        model.Initialize(3);
        using var context = model.CreateTrainingContext(Batch);
        var inputs = Enumerable.Range(0, Batch * 3).Select(i => i % Vocab).ToArray();
        var targets = Enumerable.Range(0, Batch).Select(i => (i * 5) % Vocab).ToArray();
        context.ZeroWeightGradients();
        context.Forward(inputs, targets, Batch);
        context.Backward();
        var once = context.WeightGradients.ToArray();
        context.Forward(inputs, targets, Batch);
        context.Backward();
        var twice = context.WeightGradients.ToArray();
        Assert.Contains(once, g => g != 0);
        for (int i = 0; i < once.Length; i++) Assert.Equal(2 * once[i], twice[i], 1e-5f);
    }
}
