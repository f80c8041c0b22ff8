using BenchmarkDotNet.Attributes;
using Edge;
using Edge.Generation;
using Edge.Kernels;
using Edge.Quantization;

/// <summary>
/// One quantised matrix-vector product (decoding, n = 1) on one thread, with weights small enough to stay in the
/// L2 cache: the kernels' own arithmetic speed, apart from memory. ns per block of 32 = the mean / (in x out / 32).
/// </summary>
[MemoryDiagnoser]
public class QuantizedLinearBenchmarks
{
    QuantizedMatrix _w = null!;
    float[] _x = [], _y = [];

    /// <summary>in x out: 768 x 512 is 12,288 blocks (418 KB in q8).</summary>
    [Params("768x512")]
    public string Shape { get; set; } = "";

    [Params(QuantType.Q8_0, QuantType.Q4_0, QuantType.Q4_1)]
    public QuantType Type { get; set; }

    // Parsed once in Setup: parsing in the benchmark call allocated (208 B a call, none of it the kernel's).
    int In, Out;

    [GlobalSetup]
    public void Setup()
    {
        In = int.Parse(Shape.Split('x')[0]);
        Out = int.Parse(Shape.Split('x')[1]);
        Parallelism.Threads = 1;
        var rng = new Rng(1);
        var w = new float[In * Out];
        for (int i = 0; i < w.Length; i++) w[i] = 0.02f * rng.NextGaussian();
        _w = QuantizedMatrix.Create(w, In, Out, transposed: false, Type);
        _x = new float[In];
        for (int i = 0; i < In; i++) _x[i] = rng.NextGaussian();
        _y = new float[Out];
    }

    [Benchmark]
    public void MatrixVector() => QuantizedLinear.Forward(_x, _w, [], _y, 1, In, Out);
}

/// <summary>
/// A product of many rows (a 64-token prompt pass through one of GPT-2's 768 x 768 matrices) on one thread, on each
/// quantised path that serves it, beside the fp32 GEMM on the same (dequantised) weights: whether the integer tiles
/// beat dequantising to fp32, and by how much. GFLOP/s = 2 x 64 x 768 x 768 / the mean.
/// </summary>
[MemoryDiagnoser]
public class QuantizedManyRowsBenchmarks
{
    const int N = 64, In = 768, Out = 768;
    QuantizedMatrix _w = null!;
    float[] _x = [], _y = [], _fp32 = [];

    [Params(QuantType.Q8_0, QuantType.Q4_0, QuantType.Q4_1)]
    public QuantType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Parallelism.Threads = 1;
        var rng = new Rng(3);
        var w = new float[In * Out];
        for (int i = 0; i < w.Length; i++) w[i] = 0.02f * rng.NextGaussian();
        _w = QuantizedMatrix.Create(w, In, Out, transposed: true, Type);
        _fp32 = new float[In * Out];
        var row = new float[In];
        for (int j = 0; j < Out; j++)
        {
            _w.DequantizeRow(j, row);
            for (int i = 0; i < In; i++) _fp32[i * Out + j] = row[i];
        }
        _x = new float[N * In];
        for (int i = 0; i < _x.Length; i++) _x[i] = rng.NextGaussian();
        _y = new float[N * Out];
    }

    [Benchmark(Baseline = true)]
    public void Fp32Gemm() => Linear.Forward(_x, _fp32, [], _y, N, In, Out);

    [Benchmark]
    public void DequantisedTiles() => QuantizedLinear.Forward(_x, _w, [], _y, N, In, Out, QuantizedLinear.Path.Dequantised);

    [Benchmark]
    public void IntegerTiles() => QuantizedLinear.Forward(_x, _w, [], _y, N, In, Out, QuantizedLinear.Path.IntegerTiles);
}

/// <summary>
/// What a load costs per 4-bit matrix: the file's bytes held as rows (one copy) against regrouped into row groups
/// (RowGroups, what an AVX2 machine does), and the corrupt-block check on each, for GPT-2's c_fc weight (3,072 rows
/// of 768: 1.33 MB in q4_0). x 48 such matrices and the head is a GPT-2 load.
/// </summary>
[MemoryDiagnoser]
public class QuantizedLoadBenchmarks
{
    const int Rows = 3072, Cols = 768;
    byte[] _bytes = [];
    QuantizedMatrix _rows = null!, _grouped = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(5);
        var w = new float[Rows * Cols];
        for (int i = 0; i < w.Length; i++) w[i] = 0.02f * rng.NextGaussian();
        _bytes = Quantizer.Quantize(w, Cols, Rows, transposed: true, QuantType.Q4_0, out _);
        _rows = QuantizedMatrix.FromBytes(QuantType.Q4_0, Rows, Cols, _bytes, grouped: false);
        _grouped = QuantizedMatrix.FromBytes(QuantType.Q4_0, Rows, Cols, _bytes, grouped: true);
    }

    [Benchmark(Baseline = true)]
    public QuantizedMatrix AsRows() => QuantizedMatrix.FromBytes(QuantType.Q4_0, Rows, Cols, _bytes, grouped: false);

    [Benchmark]
    public QuantizedMatrix Regrouped() => QuantizedMatrix.FromBytes(QuantType.Q4_0, Rows, Cols, _bytes, grouped: true);

    [Benchmark]
    public long CorruptCheckAsRows() => _rows.FindCorruptBlock();

    [Benchmark]
    public long CorruptCheckGrouped() => _grouped.FindCorruptBlock();
}

/// <summary>Drawing one token from a row of GPT-2's 50,257 logits with top-k 40 (what `edge bench generate` samples with).</summary>
[MemoryDiagnoser]
public class SamplerBenchmarks
{
    readonly Sampler _sampler = new(50257, seed: 1, temperature: 0.8f, topK: 40);
    readonly float[] _logits = new float[50257];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(2);
        for (int i = 0; i < _logits.Length; i++) _logits[i] = 3 * rng.NextGaussian();
    }

    [Benchmark]
    public int TopK40() => _sampler.Sample(_logits);
}
