using Edge.Gpu.Kernels;
using ILGPU;
using ILGPU.Runtime;
using Xunit;
using K = global::Edge.Kernels;

namespace Edge.Gpu.Tests;

/// <summary>
/// Every device kernel against the CPU kernel it mirrors (Edge.Kernels), forward and backward, on ILGPU's CPU accelerator
/// with one-thread groups and with 4 x 4 tiles and 8-thread row groups (the shared-memory paths), within 1e-4 relative.
/// Shapes are odd on purpose: no dimension is a multiple of the tile or the group. Backward kernels accumulate, so their
/// outputs start from random values on both sides.
/// </summary>
[Collection(DeviceCollection.Name)]
public sealed class KernelTests : IDisposable
{
    readonly List<IDisposable> _buffers = [];

    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
    }

    ArrayView<float> Up(GpuDevice device, float[] values)
    {
        var buffer = device.Accelerator.Allocate1D(values.Length == 0 ? new float[1] : values);
        _buffers.Add(buffer);
        return buffer.View;
    }

    ArrayView<int> Up(GpuDevice device, int[] values)
    {
        var buffer = device.Accelerator.Allocate1D(values);
        _buffers.Add(buffer);
        return buffer.View;
    }

    static float[] Down(ArrayView<float> view) => view.GetAsArray();

    static float[] R(int n, int seed, float scale = 1f) => Near.Random(n, seed, scale);

    /// <summary>Shapes below one block, and over two blocks of 4 tiles in every dimension (every thread's 4 x 4 outputs, the edges).</summary>
    public static TheoryData<string, int, int, int> ProductShapes() => new()
    {
        { "fast", 7, 9, 11 }, { "grouped", 7, 9, 11 }, { "grouped", 37, 29, 41 },
    };

    [Theory, MemberData(nameof(ProductShapes))]
    public void Products_BothStorageOrders_EqualLinearAndLinearRows(string name, int rows, int n, int m)
    {
        var d = Devices.Get(name);
        foreach (bool transposed in new[] { false, true })
        {
            float[] x = R(rows * n, 1), w = R(n * m, 2), b = R(m, 3), dy = R(rows * m, 4);
            var y = new float[rows * m];
            float[] dx = R(rows * n, 5), dw = R(n * m, 6), db = R(m, 7);
            var (gdx, gdw, gdb) = (Up(d, dx), Up(d, dw), Up(d, db));
            var gy = Up(d, y);
            Products.Forward(d.Kernels, Up(d, x), Up(d, w), Up(d, b), gy, rows, n, m, transposed);
            Products.Backward(d.Kernels, Up(d, x), Up(d, w), Up(d, dy), gdx, gdw, gdb, rows, n, m, transposed);
            if (transposed)
            {
                K.LinearRows.Forward(x, w, b, y, rows, n, m);
                K.LinearRows.Backward(x, w, dy, dx, dw, db, rows, n, m);
            }
            else
            {
                K.Linear.Forward(x, w, b, y, rows, n, m);
                K.Linear.Backward(x, w, dy, dx, dw, db, rows, n, m);
            }
            string what = transposed ? "[out, in]" : "[in, out]";
            Near.Equal(y, Down(gy), what: $"y {what}");
            Near.Equal(dx, Down(gdx), what: $"dx {what}");
            Near.Equal(dw, Down(gdw), what: $"dw {what}");
            Near.Equal(db, Down(gdb), what: $"db {what}");
        }
    }

    [Theory, MemberData(nameof(Devices.Both), MemberType = typeof(Devices))]
    public void LayerNorm_ForwardAndBackward_EqualTheCpu(string name)
    {
        var d = Devices.Get(name);
        const int rows = 5, c = 13;
        foreach (bool bias in new[] { true, false })
        {
            float[] x = R(rows * c, 1, 2f), w = R(c, 2), b = bias ? R(c, 3) : [], dy = R(rows * c, 4);
            float[] y = new float[rows * c], mean = new float[rows], rstd = new float[rows];
            float[] dx = R(rows * c, 5), dw = R(c, 6), db = bias ? R(c, 7) : [];
            var (gy, gmean, grstd, gdx, gdw) = (Up(d, y), Up(d, mean), Up(d, rstd), Up(d, dx), Up(d, dw));
            var gdb = bias ? Up(d, db) : default;
            var (gx, gw, gdy) = (Up(d, x), Up(d, w), Up(d, dy));
            d.Kernels.LayerNormForward(gx, gw, bias ? Up(d, b) : default, gy, gmean, grstd, rows, c, K.LayerNorm.Eps);
            d.Kernels.LayerNormBackwardInput(gdy, gx, gw, gmean, grstd, gdx, rows, c);
            d.Kernels.LayerNormBackwardParameters(gdy, gx, gmean, grstd, gdw, gdb, rows, c);
            K.LayerNorm.Forward(x, w, b, y, mean, rstd, rows, c);
            K.LayerNorm.Backward(dy, x, w, mean, rstd, dx, dw, db, rows, c);
            Near.Equal(y, Down(gy), what: "y");
            Near.Equal(mean, Down(gmean), what: "mean");
            Near.Equal(rstd, Down(grstd), what: "rstd");
            Near.Equal(dx, Down(gdx), what: "dx");
            Near.Equal(dw, Down(gdw), what: "dweight");
            if (bias) Near.Equal(db, Down(gdb), what: "dbias");
        }
    }

    [Theory, MemberData(nameof(Devices.Both), MemberType = typeof(Devices))]
    public void RmsNorm_ForwardAndBackward_EqualTheCpu(string name)
    {
        var d = Devices.Get(name);
        const int rows = 6, c = 11;
        const float eps = 1e-6f;
        float[] x = R(rows * c, 1, 2f), w = R(c, 2), dy = R(rows * c, 3);
        float[] y = new float[rows * c], rstd = new float[rows], dx = R(rows * c, 4), dw = R(c, 5);
        var (gx, gw, gdy, gy, grstd, gdx, gdw) = (Up(d, x), Up(d, w), Up(d, dy), Up(d, y), Up(d, rstd), Up(d, dx), Up(d, dw));
        d.Kernels.RmsNormForward(gx, gw, gy, grstd, rows, c, eps);
        d.Kernels.RmsNormBackwardInput(gdy, gx, gw, grstd, gdx, rows, c);
        d.Kernels.RmsNormBackwardWeight(gdy, gx, grstd, gdw, rows, c);
        K.RmsNorm.Forward(x, w, y, rstd, rows, c, eps);
        K.RmsNorm.Backward(dy, x, w, rstd, dx, dw, rows, c);
        Near.Equal(y, Down(gy), what: "y");
        Near.Equal(rstd, Down(grstd), what: "rstd");
        Near.Equal(dx, Down(gdx), what: "dx");
        Near.Equal(dw, Down(gdw), what: "dweight");
    }

    /// <summary>Both GELU forms, tanh and ReLU (backward from the output), over a range that reaches both tails.</summary>
    [Theory, MemberData(nameof(Devices.Both), MemberType = typeof(Devices))]
    public void Activations_ForwardAndBackward_EqualTheCpu(string name)
    {
        var d = Devices.Get(name);
        const int n = 301;
        var x = Enumerable.Range(0, n).Select(i => (i - 150) / 15f).ToArray();
        var dy = R(n, 2);
        void Check(string what, Action<ArrayView<float>, ArrayView<float>, int> forward, Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int> backward,
            bool fromOutput, Action<float[], float[]> cpuForward, Action<float[], float[], float[]> cpuBackward)
        {
            float[] y = new float[n], dx = R(n, 3);
            var (gx, gy, gdx) = (Up(d, x), Up(d, y), Up(d, dx));
            forward(gx, gy, n);
            backward(fromOutput ? gy : gx, Up(d, dy), gdx, n);
            cpuForward(x, y);
            cpuBackward(fromOutput ? y : x, dy, dx);
            Near.Equal(y, Down(gy), what: $"{what} y");
            Near.Equal(dx, Down(gdx), what: $"{what} dx");
        }
        var k = d.Kernels;
        Check("gelu", k.Gelu, k.GeluBackward, false, (a, b) => K.Gelu.Forward(a, b), (a, b, c) => K.Gelu.Backward(a, b, c));
        Check("exact gelu", k.GeluExact, k.GeluExactBackward, false, (a, b) => K.GeluExact.Forward(a, b), (a, b, c) => K.GeluExact.Backward(a, b, c));
        Check("tanh", k.Tanh, k.TanhBackward, true, (a, b) => K.Activations.TanhForward(a, b), (a, b, c) => K.Activations.TanhBackward(a, b, c));
        Check("relu", k.Relu, k.ReluBackward, true, (a, b) => K.Activations.ReluForward(a, b), (a, b, c) => K.Activations.ReluBackward(a, b, c));
    }

    [Theory, MemberData(nameof(Devices.Both), MemberType = typeof(Devices))]
    public void SwiGlu_ForwardAndBackward_EqualTheCpu(string name)
    {
        var d = Devices.Get(name);
        const int n = 97;
        float[] gate = R(n, 1, 3f), up = R(n, 2), dh = R(n, 3), h = new float[n], dgate = R(n, 4), dup = R(n, 5);
        var (gh, gdgate, gdup) = (Up(d, h), Up(d, dgate), Up(d, dup));
        d.Kernels.SwiGlu(Up(d, gate), Up(d, up), gh, n);
        d.Kernels.SwiGluBackward(Up(d, gate), Up(d, up), Up(d, dh), gdgate, gdup, n);
        K.SwiGlu.Forward(gate, up, h);
        K.SwiGlu.Backward(gate, up, dh, dgate, dup);
        Near.Equal(h, Down(gh), what: "h");
        Near.Equal(dgate, Down(gdgate), what: "dgate");
        Near.Equal(dup, Down(gdup), what: "dup");
    }

    [Theory, MemberData(nameof(Devices.Both), MemberType = typeof(Devices))]
    public void Rope_BothLayouts_ForwardAndBackward_EqualTheCpu(string name)
    {
        var d = Devices.Get(name);
        const int b = 2, t = 3, start = 2, heads = 3, hs = 6, context = 8;
        var (cos, sin) = K.Rope.Table(context, hs, 500);
        foreach (bool interleaved in new[] { false, true })
        {
            float[] x = R(b * t * heads * hs, 1), y = new float[x.Length], dy = R(x.Length, 2), dx = R(x.Length, 3);
            var (gy, gdx) = (Up(d, y), Up(d, dx));
            d.Kernels.Rope(Up(d, x), gy, Up(d, cos), Up(d, sin), b * t, t, start, heads, hs, interleaved, backward: false);
            d.Kernels.Rope(Up(d, dy), gdx, Up(d, cos), Up(d, sin), b * t, t, start, heads, hs, interleaved, backward: true);
            K.Rope.Forward(x, y, cos, sin, b, t, start, heads, hs, interleaved);
            K.Rope.Backward(dy, dx, cos, sin, b, t, start, heads, hs, interleaved);
            Near.Equal(y, Down(gy), what: $"y interleaved={interleaved}");
            Near.Equal(dx, Down(gdx), what: $"dx interleaved={interleaved}");
        }
    }

    /// <summary>GPT-2's fused qkv and grouped-query attention (3 query heads per kv head): y, att and dq, dk, dv.</summary>
    [Theory, MemberData(nameof(Devices.Both), MemberType = typeof(Devices))]
    public void Attention_FusedAndGrouped_ForwardAndBackward_EqualTheCpu(string name)
    {
        var d = Devices.Get(name);
        const int b = 2, t = 5, hs = 4;
        foreach (var (h, kvh) in new[] { (3, 3), (6, 2) })
        {
            bool fused = h == kvh;
            int qs = fused ? 3 * h * hs : h * hs, kvs = fused ? 3 * h * hs : kvh * hs;
            float[] q = R(b * t * qs, 1), k = fused ? q : R(b * t * kvs, 2), v = fused ? q : R(b * t * kvs, 3);
            int kOff = fused ? h * hs : 0, vOff = fused ? 2 * h * hs : 0;
            float[] y = new float[b * t * h * hs], att = new float[b * h * t * t], dy = R(y.Length, 4);
            float[] dq = R(q.Length, 5), dk = fused ? dq : R(k.Length, 6), dv = fused ? dq : R(v.Length, 7);
            var gq = Up(d, q);
            var gk = fused ? gq : Up(d, k);
            var gv = fused ? gq : Up(d, v);
            var gdq = Up(d, (float[])dq.Clone());
            var gdk = fused ? gdq : Up(d, (float[])dk.Clone());
            var gdv = fused ? gdq : Up(d, (float[])dv.Clone());
            var (gy, gatt) = (Up(d, y), Up(d, att));
            var s = new AttentionShape { T = t, Heads = h, Group = h / kvh, Hs = hs, QStride = qs, KvStride = kvs, KeyRows = t, Scale = 1f / MathF.Sqrt(hs) };
            ArrayView<float> From(ArrayView<float> view, int offset) => view.SubView(offset, view.Length - offset);
            d.Kernels.Attention(gq, From(gk, kOff), From(gv, vOff), gy, gatt, s, b, t);
            d.Kernels.AttentionBackward(Up(d, dy), gq, From(gk, kOff), From(gv, vOff), gatt, Up(d, new float[att.Length]),
                gdq, From(gdk, kOff), From(gdv, vOff), s, b);
            K.Attention.Forward(q, k.AsSpan(kOff), v.AsSpan(vOff), qs, kvs, y, att, b, t, h, kvh, hs);
            K.Attention.Backward(dy, q, k.AsSpan(kOff), v.AsSpan(vOff), qs, kvs, att, dq, dk.AsSpan(kOff), dv.AsSpan(vOff), new float[t], b, t, h, kvh, hs);
            string what = fused ? "fused" : "grouped";
            Near.Equal(y, Down(gy), what: $"{what} y");
            Near.Equal(att, Down(gatt), what: $"{what} att");
            Near.Equal(dq, Down(gdq), what: $"{what} dq");
            if (!fused)
            {
                Near.Equal(dk, Down(gdk), what: "grouped dk");
                Near.Equal(dv, Down(gdv), what: "grouped dv");
            }
        }
    }

    /// <summary>Decoding: two new rows at position 3 go to the cache and attend over it, as AttentionDecode.Chunk computes.</summary>
    [Theory, MemberData(nameof(Devices.Both), MemberType = typeof(Devices))]
    public void AttentionOverTheCache_EqualsAttentionDecode(string name)
    {
        var d = Devices.Get(name);
        const int h = 4, kvh = 2, hs = 4, context = 7, position = 3, t = 2;
        int qd = h * hs, kvd = kvh * hs;
        float[] q = R(t * qd, 1), k = R(t * kvd, 2), v = R(t * kvd, 3);
        float[] keys = R(context * kvd, 4), values = R(context * kvd, 5), y = new float[t * qd];
        var (gkeys, gvalues, gy) = (Up(d, (float[])keys.Clone()), Up(d, (float[])values.Clone()), Up(d, y));
        d.Kernels.AppendToCache(Up(d, k), Up(d, v), gkeys, gvalues, t, kvd, kvd, position);
        var s = new AttentionShape { T = t, Start = position, Heads = h, Group = h / kvh, Hs = hs, QStride = qd, KvStride = kvd, KeyRows = context, Scale = 1f / MathF.Sqrt(hs) };
        d.Kernels.Attention(Up(d, q), gkeys, gvalues, gy, default, s, 1, position + t);
        K.AttentionDecode.Chunk(q, k, v, qd, kvd, keys, values, y, new float[context], position, t, h, kvh, hs);
        Near.Equal(y, Down(gy), what: "y");
        Near.Equal(keys, Down(gkeys), what: "key cache");
    }

    [Theory, MemberData(nameof(Devices.Both), MemberType = typeof(Devices))]
    public void SoftmaxCrossEntropy_ForwardAndBackward_EqualTheCpu(string name)
    {
        var d = Devices.Get(name);
        const int rows = 6, vocab = 19;
        float[] logits = R(rows * vocab, 1, 4f), probs = new float[logits.Length], dlogits = R(logits.Length, 2), losses = new float[rows];
        int[] targets = [3, 0, -1, 18, 7, 7];
        var (gprobs, gd, glosses) = (Up(d, probs), Up(d, dlogits), Up(d, losses));
        var gt = Up(d, targets);
        d.Kernels.SoftmaxCrossEntropyForward(Up(d, logits), gt, gprobs, glosses, rows, vocab);
        float scale = 1f / rows * rows / 5;    // five scored rows, as the device context rescales
        d.Kernels.SoftmaxCrossEntropyBackward(gprobs, gt, gd, rows, vocab, scale);
        float loss = K.SoftmaxCrossEntropy.Forward(logits, targets, probs, rows, vocab);
        K.SoftmaxCrossEntropy.Backward(probs, targets, dlogits, rows, vocab, 1f / rows);
        Near.Equal(probs.Where((_, i) => targets[i / vocab] >= 0).ToArray(), Down(gprobs).Where((_, i) => targets[i / vocab] >= 0).ToArray(), what: "probs");
        Near.Equal(dlogits, Down(gd), what: "dlogits");
        Assert.Equal(loss, Down(glosses).Sum() / 5, 1e-5f);
    }

    /// <summary>Lookups with positions from an offset, and the scatter-add with repeated tokens, against Embedding.</summary>
    [Theory, MemberData(nameof(Devices.Both), MemberType = typeof(Devices))]
    public void Embedding_ForwardAndBackward_EqualTheCpu(string name)
    {
        var d = Devices.Get(name);
        const int b = 2, t = 4, dim = 5, vocab = 7, context = 6;
        int[] tokens = [3, 1, 3, 6, 0, 3, 1, 1];
        float[] table = R(vocab * dim, 1), wpe = R(context * dim, 2), y = new float[b * t * dim], dy = R(y.Length, 3);
        float[] dtable = R(table.Length, 4), dwpe = R(wpe.Length, 5);
        var (gy, gdtable, gdwpe) = (Up(d, y), Up(d, dtable), Up(d, dwpe));
        d.Kernels.Embed(Up(d, tokens), Up(d, table), Up(d, wpe), gy, b * t, dim, t, 0);
        // The device context's plan for the scatter-add: distinct tokens, their positions in order.
        var groups = tokens.Select((token, i) => (token, i)).GroupBy(p => p.token).OrderBy(g => g.Key).ToArray();
        var order = groups.SelectMany(g => g.Select(p => p.i)).ToArray();
        var starts = groups.Select(g => g.First()).Select(p => Array.IndexOf(order, p.i)).Append(order.Length).ToArray();
        d.Kernels.EmbedBackward(Up(d, groups.Select(g => g.Key).ToArray()), Up(d, starts), Up(d, order), Up(d, dy), gdtable, groups.Length, dim);
        d.Kernels.PositionsBackward(Up(d, dy), gdwpe, b, t, dim);
        K.Embedding.Forward(tokens, table, y, b * t, dim);
        K.Embedding.AddPositions(y, wpe, b, t, dim);
        K.Embedding.Backward(tokens, dy, dtable, b * t, dim);
        K.Embedding.PositionsBackward(dy, dwpe, b, t, dim);
        Near.Equal(y, Down(gy), what: "y");
        Near.Equal(dtable, Down(gdtable), what: "dtable");
        Near.Equal(dwpe, Down(gdwpe), what: "dwpe");
    }

    [Theory, MemberData(nameof(Devices.Both), MemberType = typeof(Devices))]
    public void OptimizerSteps_AndTheGradientNorm_EqualTheCpu(string name)
    {
        var d = Devices.Get(name);
        const int n = 1001;
        float[] w = R(n, 1), g = R(n, 2), m = R(n, 3, 0.1f), v = R(n, 4, 0.1f).Select(MathF.Abs).ToArray();
        var (gw, gm, gv) = (Up(d, (float[])w.Clone()), Up(d, (float[])m.Clone()), Up(d, (float[])v.Clone()));
        const float lr = 3e-3f, beta1 = 0.9f, beta2 = 0.99f, eps = 1e-8f, wd = 0.1f;
        const int step = 3;
        d.Kernels.AdamW(gw, Up(d, g), gm, gv, n, 1f - lr * wd, beta1, beta2, (float)(lr / (1 - Math.Pow(beta1, step))),
            (float)(1 / Math.Sqrt(1 - Math.Pow(beta2, step))), eps);
        K.AdamW.Update(w, g, m, v, lr, beta1, beta2, eps, wd, step);
        Near.Equal(w, Down(gw), what: "AdamW w");
        Near.Equal(m, Down(gm), what: "AdamW m");
        Near.Equal(v, Down(gv), what: "AdamW v");

        var sgd = Up(d, (float[])w.Clone());
        d.Kernels.Sgd(sgd, Up(d, g), n, 1f - 0.1f * wd, 0.1f);
        K.Sgd.Update(w, g, 0.1f, wd);
        Near.Equal(w, Down(sgd), what: "SGD w");

        var partials = Up(d, new float[d.Kernels.SumGroups]);
        d.Kernels.SumOfSquares(Up(d, g), partials, n);
        Assert.Equal(K.GradientNorm.SumOfSquares(g), Down(partials).Sum(p => (double)p), 1e-3);
    }
}
