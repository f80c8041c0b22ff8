using Edge.Gpu.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace Edge.Gpu;

/// <summary>
/// The kernels of <see cref="Kernels"/> compiled for one device, each behind a launch method that takes views and shapes
/// and picks the grid: the only place that knows launch shapes. A kernel compiles on its first launch (on a GPU: PTX, once
/// per process). Empty views stand for absent arguments (a bias a model does not have); they are replaced by a one-float
/// buffer, which the kernel never reads.
/// </summary>
sealed class DeviceKernels : IDisposable
{
    readonly GpuDevice _device;
    readonly Accelerator _acc;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _dummy;

    public DeviceKernels(GpuDevice device)
    {
        _device = device;
        _acc = device.Accelerator;
        _dummy = _acc.Allocate1D<float>(1);
        _dummy.MemSetToZero();
    }

    ArrayView<float> OrDummy(ArrayView<float> view) => view.Length == 0 ? _dummy.View : view;

    static T Lazy<T>(ref T? slot, Func<T> load) where T : class => slot ??= load();

    // ---- products ----

    Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int>? _gemm;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int>? _gemmPerElement;
    Action<Index1D, ArrayView<float>, ArrayView<float>, int, int>? _columnSums;

    /// <summary>
    /// C [M, N] (+)= A @ B (+ bias), A and B through the strides in <paramref name="s"/> (see <see cref="GemmShape"/>): tiled
    /// through shared memory with 4 x 4 outputs per thread, or with one-thread tiles (the CPU accelerator's fast setting) one
    /// element at a time.
    /// </summary>
    public void Gemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, GemmShape s)
    {
        if (s.M == 0 || s.N == 0) return;
        s.HasBias = bias.Length > 0 ? 1 : 0;
        int t = _device.Tile;
        if (t == 1)
        {
            int spread = Spread(checked(s.M * s.N));
            Lazy(ref _gemmPerElement, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int>(MatMulKernels.GemmPerElement))
                (spread, a, b, c, OrDummy(bias), s, spread);
            return;
        }
        var kernel = Lazy(ref _gemm, () => _acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmShape, int>(MatMulKernels.Gemm));
        int block = 4 * t;
        var config = new KernelConfig(new Index2D((s.N + block - 1) / block, (s.M + block - 1) / block), new Index2D(t, t), SharedMemoryConfig.RequestDynamic<float>(8 * t * t));
        kernel(config, a, b, c, OrDummy(bias), s, t);
    }

    /// <summary>sums [width] += the column sums of x [rows, width] (in chunks of rows, see <see cref="Chunks"/>).</summary>
    public void ColumnSums(ArrayView<float> x, ArrayView<float> sums, int rows, int width)
    {
        int chunks = Chunks(rows);
        if (chunks == 1)
        {
            Lazy(ref _columnSums, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(MatMulKernels.ColumnSums))(width, x, sums, rows, width);
            return;
        }
        var partials = Partials((long)chunks * width);
        Lazy(ref _columnPartials, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>(ReductionKernels.ColumnPartials))
            (chunks * width, x, partials, rows, width, chunks);
        AddPartials(partials, sums, width, chunks);
    }

    // ---- sums over rows in chunks ----

    Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>? _columnPartials;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>? _lnPartials;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>? _rmsPartials;
    Action<Index1D, ArrayView<float>, ArrayView<float>, int, int>? _addPartials;
    MemoryBuffer1D<float, Stride1D.Dense>? _partials;

    /// <summary>
    /// Chunks of rows for a sum over rows: on a GPU about 64 rows a chunk (up to 256 chunks), so that rows x columns of
    /// work spread over many threads; on the CPU accelerator one (a single pass), or three with groups of more than one
    /// thread, so that the tests run both forms.
    /// </summary>
    int Chunks(int rows) => _device.IsCpu ? (_device.RowGroup > 1 ? Math.Min(3, Math.Max(1, rows)) : 1) : Math.Clamp(rows / 64, 1, 256);

    ArrayView<float> Partials(long length)
    {
        if (_partials is null || _partials.Length < length)
        {
            _partials?.Dispose();
            _partials = _acc.Allocate1D<float>(length);
        }
        return _partials.View.SubView(0, length);
    }

    void AddPartials(ArrayView<float> partials, ArrayView<float> target, int width, int chunks) =>
        Lazy(ref _addPartials, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(ReductionKernels.AddPartials))
            (width, partials, target, width, chunks);

    // ---- norms ----

    Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>? _lnForward;
    Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>? _lnBackward;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>? _lnParams;
    Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>? _rmsForward;
    Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>? _rmsBackward;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>? _rmsWeight;

    KernelConfig Rows(int rows, int extraShared = 0) =>
        new(rows, _device.RowGroup, SharedMemoryConfig.RequestDynamic<float>(extraShared + _device.RowGroup));

    public void LayerNormForward(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y, ArrayView<float> mean,
        ArrayView<float> rstd, int rows, int c, float eps)
    {
        if (rows == 0) return;
        Lazy(ref _lnForward, () => _acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(NormKernels.LayerNormForward))
            (Rows(rows), x, weight, OrDummy(bias), y, mean, rstd, c, bias.Length > 0 ? 1 : 0, eps);
    }

    public void LayerNormBackwardInput(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> dx, int rows, int c)
    {
        if (rows == 0) return;
        Lazy(ref _lnBackward, () => _acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(NormKernels.LayerNormBackwardInput))
            (Rows(rows), dy, x, weight, mean, rstd, dx, c);
    }

    public void LayerNormBackwardParameters(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> dweight, ArrayView<float> dbias, int rows, int c)
    {
        int chunks = Chunks(rows);
        if (chunks == 1)
        {
            Lazy(ref _lnParams, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(NormKernels.LayerNormBackwardParameters))
                (c, dy, x, mean, rstd, dweight, OrDummy(dbias), rows, c, dbias.Length > 0 ? 1 : 0);
            return;
        }
        var partials = Partials(2L * chunks * c);
        Lazy(ref _lnPartials, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(ReductionKernels.LayerNormPartials))
            (chunks * c, dy, x, mean, rstd, partials, rows, c, chunks);
        AddPartials(partials, dweight, c, chunks);
        if (dbias.Length > 0) AddPartials(partials.SubView((long)chunks * c, (long)chunks * c), dbias, c, chunks);
    }

    public void RmsNormForward(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> y, ArrayView<float> rstd, int rows, int c, float eps)
    {
        if (rows == 0) return;
        Lazy(ref _rmsForward, () => _acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(NormKernels.RmsNormForward))
            (Rows(rows), x, weight, y, rstd, c, eps);
    }

    public void RmsNormBackwardInput(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> rstd, ArrayView<float> dx, int rows, int c)
    {
        if (rows == 0) return;
        Lazy(ref _rmsBackward, () => _acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(NormKernels.RmsNormBackwardInput))
            (Rows(rows), dy, x, weight, rstd, dx, c);
    }

    public void RmsNormBackwardWeight(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> rstd, ArrayView<float> dweight, int rows, int c)
    {
        int chunks = Chunks(rows);
        if (chunks == 1)
        {
            Lazy(ref _rmsWeight, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(NormKernels.RmsNormBackwardWeight))
                (c, dy, x, rstd, dweight, rows, c);
            return;
        }
        var partials = Partials((long)chunks * c);
        Lazy(ref _rmsPartials, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(ReductionKernels.RmsNormPartials))
            (chunks * c, dy, x, rstd, partials, rows, c, chunks);
        AddPartials(partials, dweight, c, chunks);
    }

    // ---- loss ----

    Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>? _lossForward;
    Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, float, int, int>? _lossBackward;

    public void SoftmaxCrossEntropyForward(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> probs, ArrayView<float> losses, int rows, int vocab)
    {
        if (rows == 0) return;
        Lazy(ref _lossForward, () => _acc.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>(LossKernels.Forward))
            (Rows(rows), logits, targets, probs, losses, vocab);
    }

    public void SoftmaxCrossEntropyBackward(ArrayView<float> probs, ArrayView<int> targets, ArrayView<float> dlogits, int rows, int vocab, float scale)
    {
        int n = checked(rows * vocab), spread = Spread(n);
        Lazy(ref _lossBackward, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, float, int, int>(LossKernels.Backward))
            (spread, probs, targets, dlogits, vocab, scale, n, spread);
    }

    // ---- element-wise ----

    Action<Index1D, ArrayView<float>, ArrayView<float>, int, int>? _copy, _accumulate, _tanh, _relu, _gelu, _geluExact;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>? _addTo, _tanhBack, _reluBack, _geluBack, _geluExactBack, _swiglu, _maskedAccumulate;
    Action<Index1D, ArrayView<float>, float, int, int>? _scale;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>? _swigluBack;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ulong, int, int>? _dropout;

    /// <summary>
    /// Threads for an element loop over n elements: all of them on a GPU (up to 2^20, then each takes several); on the CPU
    /// accelerator, where a thread costs microseconds, at most 256, each looping over its share.
    /// </summary>
    int Spread(int n) => Math.Max(1, Math.Min(n, _device.IsCpu ? 256 : 1 << 20));

    void Two(ref Action<Index1D, ArrayView<float>, ArrayView<float>, int, int>? slot, Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> kernel,
        ArrayView<float> a, ArrayView<float> b, int n)
    {
        if (n <= 0) return;
        int spread = Spread(n);
        (slot ??= _acc.LoadAutoGroupedStreamKernel(kernel))(spread, a, b, n, spread);
    }

    void Three(ref Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>? slot,
        Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> kernel, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, int n)
    {
        if (n <= 0) return;
        int spread = Spread(n);
        (slot ??= _acc.LoadAutoGroupedStreamKernel(kernel))(spread, a, b, c, n, spread);
    }

    public void Copy(ArrayView<float> x, ArrayView<float> y, int n) => Two(ref _copy, ElementKernels.Copy, x, y, n);
    public void Accumulate(ArrayView<float> x, ArrayView<float> y, int n) => Two(ref _accumulate, ElementKernels.Accumulate, x, y, n);
    public void AddTo(ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, int n) => Three(ref _addTo, ElementKernels.AddTo, a, b, y, n);
    public void Tanh(ArrayView<float> x, ArrayView<float> y, int n) => Two(ref _tanh, ElementKernels.TanhForward, x, y, n);
    public void TanhBackward(ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int n) => Three(ref _tanhBack, ElementKernels.TanhBackward, y, dy, dx, n);
    public void Relu(ArrayView<float> x, ArrayView<float> y, int n) => Two(ref _relu, ElementKernels.ReluForward, x, y, n);
    public void ReluBackward(ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int n) => Three(ref _reluBack, ElementKernels.ReluBackward, y, dy, dx, n);
    public void Gelu(ArrayView<float> x, ArrayView<float> y, int n) => Two(ref _gelu, ElementKernels.GeluForward, x, y, n);
    public void GeluBackward(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, int n) => Three(ref _geluBack, ElementKernels.GeluBackward, x, dy, dx, n);
    public void GeluExact(ArrayView<float> x, ArrayView<float> y, int n) => Two(ref _geluExact, ElementKernels.GeluExactForward, x, y, n);
    public void GeluExactBackward(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, int n) => Three(ref _geluExactBack, ElementKernels.GeluExactBackward, x, dy, dx, n);
    public void SwiGlu(ArrayView<float> gate, ArrayView<float> up, ArrayView<float> h, int n) => Three(ref _swiglu, ElementKernels.SwiGluForward, gate, up, h, n);
    public void MaskedAccumulate(ArrayView<float> dy, ArrayView<float> mask, ArrayView<float> dx, int n) => Three(ref _maskedAccumulate, ElementKernels.MaskedAccumulate, dy, mask, dx, n);

    public void Scale(ArrayView<float> x, float factor, int n)
    {
        if (n <= 0) return;
        int spread = Spread(n);
        (_scale ??= _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float, int, int>(ElementKernels.Scale))(spread, x, factor, n, spread);
    }

    public void SwiGluBackward(ArrayView<float> gate, ArrayView<float> up, ArrayView<float> dh, ArrayView<float> dgate, ArrayView<float> dup, int n)
    {
        if (n <= 0) return;
        int spread = Spread(n);
        (_swigluBack ??= _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(ElementKernels.SwiGluBackward))
            (spread, gate, up, dh, dgate, dup, n, spread);
    }

    public void Dropout(ArrayView<float> x, ArrayView<float> y, ArrayView<float> mask, int n, float p, ulong seed)
    {
        if (n <= 0) return;
        int spread = Spread(n);
        (_dropout ??= _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ulong, int, int>(ElementKernels.DropoutForward))
            (spread, x, y, mask, p, seed, n, spread);
    }

    // ---- embeddings and positions ----

    Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, int, int>? _embed;
    Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>? _embedBack;
    Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>? _positionsBack;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, int, int>? _rope;

    /// <summary>y [count, dim] = table[tokens] (+ positions[start + k % t] when positions is not empty).</summary>
    public void Embed(ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> positions, ArrayView<float> y, int count, int dim, int t, int start)
    {
        int n = checked(count * dim), spread = Spread(n);
        Lazy(ref _embed, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, int, int>(EmbeddingKernels.Forward))
            (spread, tokens, table, OrDummy(positions), y, dim, Math.Max(1, t), start, positions.Length > 0 ? 1 : 0, n, spread);
    }

    public void EmbedBackward(ArrayView<int> distinct, ArrayView<int> starts, ArrayView<int> order, ArrayView<float> dy, ArrayView<float> dtable, int distinctCount, int dim)
    {
        if (distinctCount == 0) return;
        Lazy(ref _embedBack, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>(EmbeddingKernels.Backward))
            (distinctCount * dim, distinct, starts, order, dy, dtable, dim);
    }

    public void PositionsBackward(ArrayView<float> dy, ArrayView<float> dpositions, int batch, int t, int dim) =>
        Lazy(ref _positionsBack, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>(EmbeddingKernels.PositionsBackward))
            (t * dim, dy, dpositions, batch, t, dim);

    /// <summary>Rotates (or, backward, accumulates the inverse rotation of) rows [rows, heads * hs] at positions start + row % t.</summary>
    public void Rope(ArrayView<float> x, ArrayView<float> y, ArrayView<float> cos, ArrayView<float> sin, int rows, int t, int start, int heads, int hs, bool interleaved, bool backward) =>
        Lazy(ref _rope, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, int, int>(RopeKernels.Apply))
            (rows * heads * (hs / 2), x, y, cos, sin, t, start, heads, hs, interleaved ? 1 : 0, backward ? 1 : 0);

    // ---- attention ----

    Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape, int>? _attention;
    Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>? _attentionScores;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>? _attentionQuery;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>? _attentionKeyValue;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>? _appendCache;

    /// <summary>Attention over <paramref name="batch"/> sequences; att may be empty (inference and decoding keep no map).</summary>
    public void Attention(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> y, ArrayView<float> att, AttentionShape s, int batch, int longestKeys)
    {
        s.KeepAtt = att.Length > 0 ? 1 : 0;
        Lazy(ref _attention, () => _acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape, int>(AttentionKernels.Forward))
            (Rows(batch * s.Heads * s.T, longestKeys), q, k, v, y, OrDummy(att), s, longestKeys);
    }

    /// <summary>The three backward passes (dpre: a [B, H, T, T] scratch); dq, dk, dv accumulate.</summary>
    public void AttentionBackward(ArrayView<float> dy, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> att, ArrayView<float> dpre,
        ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv, AttentionShape s, int batch)
    {
        Lazy(ref _attentionScores, () => _acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>(AttentionKernels.BackwardScores))
            (Rows(batch * s.Heads * s.T, s.T), dy, v, att, dpre, s);
        Lazy(ref _attentionQuery, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>(AttentionKernels.BackwardQuery))
            (batch * s.T * s.Heads * s.Hs, dpre, k, dq, s);
        Lazy(ref _attentionKeyValue, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>(AttentionKernels.BackwardKeyValue))
            (batch * s.T * (s.Heads / s.Group) * s.Hs, dpre, att, q, dy, dk, dv, s);
    }

    public void AppendToCache(ArrayView<float> k, ArrayView<float> v, ArrayView<float> keys, ArrayView<float> values, int rows, int width, int stride, int start) =>
        Lazy(ref _appendCache, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(AttentionKernels.AppendToCache))
            (rows * width, k, v, keys, values, width, stride, start);

    // ---- optimiser ----

    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, float, float, float, float, int, int>? _adamw;
    Action<Index1D, ArrayView<float>, ArrayView<float>, float, float, int, int>? _sgd;
    Action<KernelConfig, ArrayView<float>, ArrayView<float>, int>? _sumOfSquares;

    public void AdamW(ArrayView<float> w, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, int n,
        float keep, float beta1, float beta2, float stepSize, float invSqrtBc2, float eps)
    {
        if (n <= 0) return;
        int spread = Spread(n);
        Lazy(ref _adamw, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, float, float, float, float, int, int>(OptimizerKernels.AdamW))
            (spread, w, g, m, v, keep, beta1, beta2, stepSize, invSqrtBc2, eps, n, spread);
    }

    public void Sgd(ArrayView<float> w, ArrayView<float> g, int n, float keep, float lr)
    {
        if (n <= 0) return;
        int spread = Spread(n);
        Lazy(ref _sgd, () => _acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float, float, int, int>(OptimizerKernels.Sgd))(spread, w, g, keep, lr, n, spread);
    }

    /// <summary>Groups for <see cref="SumOfSquares"/>: the partials buffer holds this many floats.</summary>
    public int SumGroups => _device.IsCpu ? 64 : 1024;

    public void SumOfSquares(ArrayView<float> x, ArrayView<float> partials, int n) =>
        Lazy(ref _sumOfSquares, () => _acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int>(OptimizerKernels.SumOfSquares))
            (new KernelConfig(SumGroups, _device.RowGroup, SharedMemoryConfig.RequestDynamic<float>(_device.RowGroup)), x, partials, n);

    public void Dispose()
    {
        _dummy.Dispose();
        _partials?.Dispose();
    }
}
