using Xunit;

namespace Edge.Tests.Models;

/// <summary>The generated forward against a plain, obviously-correct double-precision MLP written here.</summary>
public class ReferenceForwardTests
{
    [Fact]
    public void DeepMlpForward_MatchesDoublePrecisionReference()
    {
        const int V = 9, B = 4, C = 3;
        using var model = new TinyDeepMlp(V);
        model.Initialize(11);
        var rng = new Rng(5);
        var inputs = Enumerable.Range(0, B * C).Select(_ => rng.NextInt(V)).ToArray();
        var targets = Enumerable.Range(0, B).Select(_ => rng.NextInt(V)).ToArray();

        using var context = model.CreateInferenceContext(B);
        float loss = context.Forward(inputs, targets, B);
        var logits = context.Logits(inputs, B).ToArray();

        double[] P(string name) => model.Weights.Slice(model.Layout.Find(name)!.Offset, model.Layout.Find(name)!.Length).ToArray().Select(f => (double)f).ToArray();
        double expectedLoss = 0;
        for (int b = 0; b < B; b++)
        {
            var x = new List<double>();
            for (int c = 0; c < C; c++) x.AddRange(P("wte.weight").Skip(inputs[b * C + c] * 4).Take(4));
            var h = Dense(x.ToArray(), P("fc1.weight"), P("fc1.bias"), 7).Select(Math.Tanh).ToArray();
            h = Dense(h, P("fc2.weight"), P("fc2.bias"), 6).Select(v => Math.Max(0, v)).ToArray();
            h = Dense(h, P("fc3.weight"), P("fc3.bias"), 5);
            var z = Dense(h, P("lm_head.weight"), P("lm_head.bias"), V);
            for (int j = 0; j < V; j++) Assert.Equal(z[j], logits[b * V + j], 1e-5);
            double max = z.Max();
            double logSum = Math.Log(z.Sum(v => Math.Exp(v - max))) + max;
            expectedLoss += (logSum - z[targets[b]]) / B;
        }
        Assert.Equal(expectedLoss, loss, 1e-5);
    }

    /// <summary>y[j] = b[j] + sum_i x[i] W[i, j], W stored [in, out].</summary>
    static double[] Dense(double[] x, double[] w, double[] bias, int outDim)
    {
        var y = new double[outDim];
        for (int j = 0; j < outDim; j++)
        {
            double s = bias[j];
            for (int i = 0; i < x.Length; i++) s += x[i] * w[i * outDim + j];
            y[j] = s;
        }
        return y;
    }
}
