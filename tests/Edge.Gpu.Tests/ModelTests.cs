using Xunit;

namespace Edge.Gpu.Tests;

public class ModelTests
{
    static LanguageModel Build(string name, int vocab, int seed = 5)
    {
        var info = Edge.Generated.ModelRegistry.All.Concat(Edge.Models.ModelCatalog.All).First(m => m.Name == name);
        var model = info.Create(vocab);
        model.Initialize((ulong)seed);
        var rng = new Rng((ulong)seed + 1);
        var w = model.Weights;
        for (int i = 0; i < w.Length; i++) w[i] += rng.NextGaussian() * 0.1f;
        return model;
    }

    [Theory]
    [InlineData("gpu-test-gpt")]
    public void Logits_EqualTheCpu(string name)
    {
        const int V = 11, B = 2;
        using var model = Build(name, V);
        int T = model.IsSequenceModel ? Math.Min(5, model.InputLength) : model.InputLength;
        var rng = new Rng(3);
        var tokens = Enumerable.Range(0, B * T).Select(_ => rng.NextInt(V)).ToArray();
        using var cpu = model.CreateInferenceContext(B);
        var expected = cpu.Logits(tokens, B, T).ToArray();
        using var device = new DeviceModel(Devices.Fast, model);
        using var context = device.CreateInferenceContext(B);
        Near.Equal(expected, context.Logits(tokens, B, T), what: name);
    }
}
