using BenchmarkDotNet.Attributes;
using Edge;
using Edge.Lora;
using Edge.Models;

/// <summary>
/// Switching LoRA adapters on a loaded baby GPT (two rank-8 adapters on c_attn): the switch itself, and one decoded
/// token with and without a switch before it. A switch changes the set's scales; the base is never touched.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class LoraSwitchBenchmarks
{
    LanguageModel _model = null!;
    ModelContext _context = null!;
    LoraAdapter _a = null!, _b = null!;
    AdapterSet _set = null!;
    int _i;

    [GlobalSetup]
    public void Setup()
    {
        Edge.Kernels.Parallelism.Threads = 1;
        _model = ModelCatalog.Find("baby-gpt")!.Create(65);
        _context = _model.CreateDecodingContext();
        _model.Initialize(1);
        var config = new LoraConfig(8, 16, 0.05, LoraConfig.DefaultTargets);
        _a = LoraAdapter.Create(_model.Layout, config, 1);
        _b = LoraAdapter.Create(_model.Layout, config, 2);
        var rng = new Rng(3);
        foreach (ref float v in _a.Weights) v = rng.NextGaussian() * 0.02f;
        foreach (ref float v in _b.Weights) v = rng.NextGaussian() * 0.02f;
        _set = new AdapterSet(_model.Layout, [_a, _b]);
        _context.Adapters = _set;
        _set.ActivateOnly(0);
        _context.Prefill([1, 2, 3, 4]);
    }

    /// <summary>One adapter off, the other on (what a generation call does to choose its adapter).</summary>
    [Benchmark]
    public void Switch() => _set.ActivateOnly(++_i & 1);

    /// <summary>A decoded token with an adapter on (the cache is rewound so every call decodes position 4).</summary>
    [Benchmark(Baseline = true)]
    public float DecodeToken()
    {
        _context.Prefill([1, 2, 3, 4]);
        return _context.DecodeStep(5)[0];
    }

    /// <summary>The same with a switch of adapter before the token.</summary>
    [Benchmark]
    public float SwitchThenDecodeToken()
    {
        _set.ActivateOnly(++_i & 1);
        _context.Prefill([1, 2, 3, 4]);
        return _context.DecodeStep(5)[0];
    }
}
