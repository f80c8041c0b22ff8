using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Edge;
using Edge.Kernels;

// Microbenchmarks of the heavy kernels at the shapes that matter (baby GPT: 768 rows of width 128; GPT-2: 768
// wide), one thread and all threads. End-to-end figures come from `edge bench`.
BenchmarkSwitcher.FromAssembly(typeof(LinearBenchmarks).Assembly).Run(args);

[MemoryDiagnoser]
public class LinearBenchmarks
{
    float[] _x = [], _w = [], _b = [], _y = [], _dy = [], _dx = [], _dw = [], _db = [];

    /// <summary>rows x in x out.</summary>
    [Params("768x128x512", "768x512x128", "512x512x512", "1024x1024x1024", "256x768x3072")]
    public string Shape { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    int N => int.Parse(Shape.Split('x')[0]);
    int In => int.Parse(Shape.Split('x')[1]);
    int Out => int.Parse(Shape.Split('x')[2]);

    [GlobalSetup]
    public void Setup()
    {
        Parallelism.Threads = Threads;
        var rng = new Rng(1);
        float[] Random(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = rng.NextGaussian(); return a; }
        _x = Random(N * In); _w = Random(In * Out); _b = Random(Out); _y = new float[N * Out];
        _dy = Random(N * Out); _dx = new float[N * In]; _dw = new float[In * Out]; _db = new float[Out];
    }

    [Benchmark]
    public void Forward() => Linear.Forward(_x, _w, _b, _y, N, In, Out);

    [Benchmark]
    public void Backward() => Linear.Backward(_x, _w, _dy, _dx, _dw, _db, N, In, Out);
}

[MemoryDiagnoser]
public class AttentionBenchmarks
{
    const int B = 12, T = 64, C = 128, H = 4;
    float[] _qkv = [], _y = [], _att = [], _dqkv = [], _scratch = [];

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Parallelism.Threads = Threads;
        var rng = new Rng(2);
        _qkv = new float[B * T * 3 * C];
        for (int i = 0; i < _qkv.Length; i++) _qkv[i] = rng.NextGaussian();
        _y = new float[B * T * C]; _att = new float[B * H * T * T]; _dqkv = new float[_qkv.Length]; _scratch = new float[T];
    }

    [Benchmark]
    public void Forward() => Attention.Forward(_qkv, _y, _att, B, T, C, H);

    [Benchmark]
    public void Backward() => Attention.Backward(_y, _qkv, _att, _dqkv, _scratch, B, T, C, H);
}

/// <summary>The MLP's GELU at the baby GPT's shape (batch 12 x context 64 rows of width 512), both forms, one thread.</summary>
[MemoryDiagnoser]
public class GeluBenchmarks
{
    const int N = 12 * 64 * 512;
    float[] _x = [], _y = [], _dy = [], _dx = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(3);
        _x = new float[N]; _dy = new float[N];
        for (int i = 0; i < N; i++) { _x[i] = rng.NextGaussian(); _dy[i] = rng.NextGaussian(); }
        _y = new float[N]; _dx = new float[N];
    }

    [Benchmark(Baseline = true)]
    public void TanhForward() => Gelu.Forward(_x, _y);

    [Benchmark]
    public void TanhBackward() => Gelu.Backward(_x, _dy, _dx);

    [Benchmark]
    public void ExactForward() => GeluExact.Forward(_x, _y);

    [Benchmark]
    public void ExactBackward() => GeluExact.Backward(_x, _dy, _dx);
}
