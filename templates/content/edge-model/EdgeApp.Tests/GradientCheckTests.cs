using Edge;
using Xunit;

namespace EdgeApp.Tests;

/// <summary>The generated backward pass of every model in EdgeApp against central finite differences of its forward pass.</summary>
public class GradientCheckTests
{
    const int Vocab = 11, Batch = 4;

    public static TheoryData<string> Models()
    {
        var data = new TheoryData<string>();
        foreach (var m in Edge.Generated.ModelRegistry.All) data.Add(m.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Backward_MatchesFiniteDifferences(string name)
    {
        var info = Edge.Generated.ModelRegistry.All.Single(m => m.Name == name);
        using var model = info.Create(Vocab);
        model.Initialize(seed: 7);
        using var context = model.CreateTrainingContext(Batch);
        var rng = new Rng(99);
        // Weights larger than the initial ones, so that every layer's gradient is well above float rounding.
        var w = model.Weights;
        foreach (var p in model.Parameters)
            for (int i = 0; i < p.Length; i++) w[p.Offset + i] = rng.NextGaussian() * 0.5f;
        int length = model.InputLength;
        var inputs = new int[Batch * length];
        var targets = new int[Batch * (model.IsSequenceModel ? length : 1)];
        for (int i = 0; i < inputs.Length; i++) inputs[i] = rng.NextInt(Vocab);
        for (int i = 0; i < targets.Length; i++) targets[i] = rng.NextInt(Vocab);
        float Loss() => context.Forward(inputs, targets, Batch, length, training: false);

        context.ZeroWeightGradients();
        Loss();
        context.Backward();
        var analytic = context.WeightGradients.ToArray();

        const float eps = 1e-3f;
        foreach (var p in model.Parameters)
        {
            // Every element of small tensors, an even sample of larger ones.
            for (int i = 0; i < p.Length; i += Math.Max(1, p.Length / 40))
            {
                int k = p.Offset + i;
                float saved = w[k];
                w[k] = saved + eps;
                double plus = Loss();
                w[k] = saved - eps;
                double minus = Loss();
                w[k] = saved;
                double numeric = (plus - minus) / (2 * eps);
                Assert.True(Math.Abs(numeric - analytic[k]) <= 2e-3 + 2e-2 * Math.Abs(numeric),
                    $"{name} {p.Name}[{i}]: analytic {analytic[k]:G6}, numeric {numeric:G6}");
            }
        }
    }
}
