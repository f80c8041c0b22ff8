using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

/// <summary>Double-precision references for the Llama family's kernels, written from their definitions.</summary>
static class LlamaReference
{
    public static (double[] Y, double[] Rstd) RmsNorm(double[] x, double[] w, int n, int c, double eps)
    {
        var y = new double[n * c];
        var rstd = new double[n];
        for (int r = 0; r < n; r++)
        {
            double ms = 0;
            for (int i = 0; i < c; i++) ms += x[r * c + i] * x[r * c + i];
            rstd[r] = 1 / Math.Sqrt(ms / c + eps);
            for (int i = 0; i < c; i++) y[r * c + i] = x[r * c + i] * rstd[r] * w[i];
        }
        return (y, rstd);
    }

    /// <summary>Rotation of each head's pairs by pos * theta^(-2i/hs), pos = start + t (the angle in double).</summary>
    public static double[] Rope(double[] x, int b, int t, int start, int heads, int hs, double theta, bool interleaved)
    {
        var y = new double[b * t * heads * hs];
        for (int row = 0; row < b * t; row++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < hs / 2; i++)
                {
                    double angle = (start + row % t) * Math.Pow(theta, -2.0 * i / hs);
                    int a = interleaved ? 2 * i : i, bb = interleaved ? 2 * i + 1 : i + hs / 2, at = (row * heads + h) * hs;
                    y[at + a] = x[at + a] * Math.Cos(angle) - x[at + bb] * Math.Sin(angle);
                    y[at + bb] = x[at + bb] * Math.Cos(angle) + x[at + a] * Math.Sin(angle);
                }
        return y;
    }

    public static double Silu(double g) => g / (1 + Math.Exp(-g));

    public static double[] SwiGlu(double[] gate, double[] up) => gate.Select((g, i) => Silu(g) * up[i]).ToArray();

    /// <summary>Causal grouped-query attention: q [B, T, H*hs], k, v [B, T, KvH*hs] (dense) -> y [B, T, H*hs].</summary>
    public static double[] Attention(double[] q, double[] k, double[] v, int b, int t, int h, int kvh, int hs)
    {
        var y = new double[b * t * h * hs];
        int group = h / kvh;
        for (int bb = 0; bb < b; bb++)
            for (int hh = 0; hh < h; hh++)
                for (int t1 = 0; t1 < t; t1++)
                {
                    var s = new double[t1 + 1];
                    for (int t2 = 0; t2 <= t1; t2++)
                    {
                        double dot = 0;
                        for (int d = 0; d < hs; d++)
                            dot += q[((bb * t + t1) * h + hh) * hs + d] * k[((bb * t + t2) * kvh + hh / group) * hs + d];
                        s[t2] = dot / Math.Sqrt(hs);
                    }
                    double max = s.Max(), sum = s.Sum(z => Math.Exp(z - max));
                    for (int t2 = 0; t2 <= t1; t2++)
                    {
                        double p = Math.Exp(s[t2] - max) / sum;
                        for (int d = 0; d < hs; d++)
                            y[((bb * t + t1) * h + hh) * hs + d] += p * v[((bb * t + t2) * kvh + hh / group) * hs + d];
                    }
                }
        return y;
    }
}

/// <summary>RMSNorm, RoPE, SwiGLU and grouped-query attention against their references, on every vector width.</summary>
[Collection(SimdWidthCollection.Name)]
public class LlamaKernelTests
{
    static double[] D(float[] a) => ScalarReference.ToDouble(a);

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void RmsNorm_ForwardAndBackward_MatchTheReference(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(50);
        foreach (int n in new[] { 1, 5 })
            foreach (int c in new[] { 1, 3, 20, 33, 64, 130 })
            {
                float[] x = Data.Gaussian(ref rng, n * c, 2f), w = Data.Gaussian(ref rng, c);
                float[] y = new float[n * c], rstd = new float[n];
                RmsNorm.Forward(x, w, y, rstd, n, c, 1e-5f);
                var (ey, er) = LlamaReference.RmsNorm(D(x), D(w), n, c, 1e-5);
                Expect.Close(ey, y, $"y n={n} c={c}", rel: 1e-5, abs: 1e-5);
                Expect.Close(er, rstd, $"rstd n={n} c={c}", rel: 1e-5);

                // loss = sum(y * g): backward from g, accumulated onto non-zero starting gradients.
                float[] g = Data.Gaussian(ref rng, n * c), dx0 = Data.Gaussian(ref rng, n * c), dw0 = Data.Gaussian(ref rng, c);
                float[] dx = (float[])dx0.Clone(), dw = (float[])dw0.Clone();
                RmsNorm.Backward(g, x, w, rstd, dx, dw, n, c);
                double[] xd = D(x), wd = D(w);
                var ndx = FiniteDifferences.Gradient(a => FiniteDifferences.Weighted(LlamaReference.RmsNorm(a, wd, n, c, 1e-5).Y, g), xd);
                var ndw = FiniteDifferences.Gradient(a => FiniteDifferences.Weighted(LlamaReference.RmsNorm(xd, a, n, c, 1e-5).Y, g), wd);
                Expect.Close(ndx.Select((v, i) => v + dx0[i]).ToArray(), dx, $"dx n={n} c={c}", rel: 1e-3, abs: 1e-3);
                Expect.Close(ndw.Select((v, i) => v + dw0[i]).ToArray(), dw, $"dw n={n} c={c}", rel: 1e-3, abs: 1e-3);
            }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Rope_MatchesTheReference_BothLayouts_AtAnyStart_AndBackwardIsTheTranspose(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(51);
        foreach (bool interleaved in new[] { false, true })
            foreach (var (b, t, start, heads, hs) in new[] { (1, 1, 0, 1, 2), (2, 5, 0, 3, 8), (1, 4, 9, 2, 32), (2, 3, 60, 4, 34), (1, 2, 3, 2, 64) })
            {
                const double theta = 10000;
                int n = b * t * heads * hs;
                var (cos, sin) = Rope.Table(start + t, hs, theta);
                float[] x = Data.Gaussian(ref rng, n), y = new float[n];
                Rope.Forward(x, y, cos, sin, b, t, start, heads, hs, interleaved);
                string shape = $"{(interleaved ? "interleaved" : "half")} b={b} t={t} start={start} heads={heads} hs={hs}";
                Expect.Close(LlamaReference.Rope(D(x), b, t, start, heads, hs, theta, interleaved), y, $"y {shape}", rel: 1e-4, abs: 2e-5);

                // The rotation is linear: the gradient of sum(y * g) with respect to x is R^T g, which Backward adds.
                float[] g = Data.Gaussian(ref rng, n), dx0 = Data.Gaussian(ref rng, n), dx = (float[])dx0.Clone();
                Rope.Backward(g, dx, cos, sin, b, t, start, heads, hs, interleaved);
                var numeric = FiniteDifferences.Gradient(a => FiniteDifferences.Weighted(LlamaReference.Rope(a, b, t, start, heads, hs, theta, interleaved), g), D(x));
                Expect.Close(numeric.Select((v, i) => v + dx0[i]).ToArray(), dx, $"dx {shape}", rel: 1e-4, abs: 1e-4);
            }
    }

    [Fact]
    public void RopeLayouts_AreOneFunction_UpToAPermutationOfEachHead()
    {
        // Interleaved channel 2i and 2i + 1 are the half layout's i and i + hs/2: Hugging Face's conversion permutation.
        const int heads = 3, hs = 8, t = 5;
        var rng = new Rng(52);
        var (cos, sin) = Rope.Table(t, hs, 10000);
        float[] half = Data.Gaussian(ref rng, t * heads * hs), interleaved = new float[half.Length];
        for (int r = 0; r < t * heads; r++)
            for (int i = 0; i < hs / 2; i++)
            {
                interleaved[r * hs + 2 * i] = half[r * hs + i];
                interleaved[r * hs + 2 * i + 1] = half[r * hs + i + hs / 2];
            }
        float[] yHalf = new float[half.Length], yInter = new float[half.Length];
        Rope.Forward(half, yHalf, cos, sin, 1, t, 0, heads, hs, interleaved: false);
        Rope.Forward(interleaved, yInter, cos, sin, 1, t, 0, heads, hs, interleaved: true);
        for (int r = 0; r < t * heads; r++)
            for (int i = 0; i < hs / 2; i++)
            {
                Assert.Equal(yHalf[r * hs + i], yInter[r * hs + 2 * i]);
                Assert.Equal(yHalf[r * hs + i + hs / 2], yInter[r * hs + 2 * i + 1]);
            }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void SwiGlu_ForwardAndBackward_MatchTheReference(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(53);
        foreach (int n in Data.Sizes)
        {
            float[] gate = Data.Gaussian(ref rng, n, 3f), up = Data.Gaussian(ref rng, n), h = new float[n];
            gate[0] = 30f;   // a saturated gate: sigmoid rounds to 1, exp(-g) to ~0
            if (n > 1) gate[1] = -30f;
            SwiGlu.Forward(gate, up, h);
            Expect.Close(LlamaReference.SwiGlu(D(gate), D(up)), h, $"h n={n}", rel: 1e-5, abs: 1e-6);
            float[] g = Data.Gaussian(ref rng, n), dg0 = Data.Gaussian(ref rng, n), du0 = Data.Gaussian(ref rng, n);
            float[] dg = (float[])dg0.Clone(), du = (float[])du0.Clone();
            SwiGlu.Backward(gate, up, g, dg, du);
            double[] gd = D(gate), ud = D(up);
            var ndg = FiniteDifferences.Gradient(a => FiniteDifferences.Weighted(LlamaReference.SwiGlu(a, ud), g), gd);
            var ndu = FiniteDifferences.Gradient(a => FiniteDifferences.Weighted(LlamaReference.SwiGlu(gd, a), g), ud);
            Expect.Close(ndg.Select((v, i) => v + dg0[i]).ToArray(), dg, $"dgate n={n}", rel: 1e-4, abs: 1e-4);
            Expect.Close(ndu.Select((v, i) => v + du0[i]).ToArray(), du, $"dup n={n}", rel: 1e-4, abs: 1e-4);
        }
    }

    public static TheoryData<int, int, int> GroupedCases()
    {
        var data = new TheoryData<int, int, int>();
        foreach (var bits in Simd.AllBits)
            foreach (var (h, kvh) in new[] { (4, 4), (4, 2), (8, 2), (4, 1) })
                data.Add(bits, h, kvh);
        return data;
    }

    [Theory, MemberData(nameof(GroupedCases))]
    public void GroupedAttention_MatchesTheReference_AndItsBackwardFiniteDifferences(int bits, int h, int kvh)
    {
        using var _ = Widths.Use(bits);
        const int b = 2, t = 5, hs = 8;
        var rng = new Rng((ulong)(54 + h + kvh));
        int qn = b * t * h * hs, kvn = b * t * kvh * hs;
        float[] q = Data.Gaussian(ref rng, qn), k = Data.Gaussian(ref rng, kvn), v = Data.Gaussian(ref rng, kvn);
        float[] y = new float[qn], att = new float[b * h * t * t];
        Attention.Forward(q, k, v, h * hs, kvh * hs, y, att, b, t, h, kvh, hs);
        Expect.Close(LlamaReference.Attention(D(q), D(k), D(v), b, t, h, kvh, hs), y, $"y h={h} kvh={kvh}", rel: 1e-4, abs: 1e-5);

        // An inference pass (no probabilities kept) computes the same y bit for bit.
        float[] y2 = new float[qn];
        Attention.Forward(q, k, v, h * hs, kvh * hs, y2, default, b, t, h, kvh, hs);
        Expect.BitIdentical(y, y2, "y without att");

        float[] g = Data.Gaussian(ref rng, qn), dq = new float[qn], dk = new float[kvn], dv = new float[kvn], scratch = new float[t];
        Attention.Backward(g, q, k, v, h * hs, kvh * hs, att, dq, dk, dv, scratch, b, t, h, kvh, hs);
        double[] qd = D(q), kd = D(k), vd = D(v);
        Expect.Close(FiniteDifferences.Gradient(a => FiniteDifferences.Weighted(LlamaReference.Attention(a, kd, vd, b, t, h, kvh, hs), g), qd), dq, "dq", rel: 1e-3, abs: 1e-4);
        Expect.Close(FiniteDifferences.Gradient(a => FiniteDifferences.Weighted(LlamaReference.Attention(qd, a, vd, b, t, h, kvh, hs), g), kd), dk, "dk", rel: 1e-3, abs: 1e-4);
        Expect.Close(FiniteDifferences.Gradient(a => FiniteDifferences.Weighted(LlamaReference.Attention(qd, kd, a, b, t, h, kvh, hs), g), vd), dv, "dv", rel: 1e-3, abs: 1e-4);
    }

    [Theory, MemberData(nameof(GroupedCases))]
    public void GroupedAttention_IsBitIdenticalForAnyThreadCount_AndDecodeMatchesItsLastRow(int bits, int h, int kvh)
    {
        using var _ = Widths.Use(bits);
        const int b = 3, t = 7, hs = 16;
        var rng = new Rng(55);
        int qn = b * t * h * hs, kvn = b * t * kvh * hs;
        float[] q = Data.Gaussian(ref rng, qn), k = Data.Gaussian(ref rng, kvn), v = Data.Gaussian(ref rng, kvn), g = Data.Gaussian(ref rng, qn);
        float[]? y1 = null, dk1 = null;
        foreach (int threads in ThreadCounts.All)
        {
            using var __ = ThreadCounts.Use(threads);
            float[] y = new float[qn], att = new float[b * h * t * t], dq = new float[qn], dk = new float[kvn], dv = new float[kvn];
            Attention.Forward(q, k, v, h * hs, kvh * hs, y, att, b, t, h, kvh, hs);
            Attention.Backward(g, q, k, v, h * hs, kvh * hs, att, dq, dk, dv, new float[t], b, t, h, kvh, hs);
            y1 ??= y;
            dk1 ??= dk;
            Expect.BitIdentical(y1, y, $"y at {threads} threads");
            Expect.BitIdentical(dk1, dk, $"dk at {threads} threads (shared by the group's query heads)");
        }

        // The last row of batch 0 from one query against the cache of its keys and values.
        int kv = kvh * hs;
        float[] yDecode = new float[h * hs], scores = new float[t];
        AttentionDecode.Forward(q.AsSpan((t - 1) * h * hs, h * hs), k.AsSpan(0, t * kv), v.AsSpan(0, t * kv), yDecode, scores, t, h, kvh, hs);
        Expect.Close(D(y1!.AsSpan((t - 1) * h * hs, h * hs).ToArray()), yDecode, "decode vs the full pass's last row", rel: 1e-5, abs: 1e-5);
    }
}
