using Edge.Diagnostics;
using Edge.Kernels;
using Edge.Quantization;
using System.Runtime.Intrinsics.X86;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class QuantizedLinearTests
{
    static readonly QuantType[] Types = [QuantType.Q8_0, QuantType.Q4_0, QuantType.Q4_1];
    // Both layouts of a 4-bit matrix on every width: row groups (an AVX2 machine's) and rows as stored (ARM64's).
    static readonly bool[] Layouts = [true, false];
    // In: one block, several, and a GPT-2-like width; Out covers partial worker splits (and decoding's rows a quarter of a
    // part apart, with rows left over); n: decoding (1) and small batches.
    static readonly (int N, int In, int Out)[] Shapes = [(1, 32, 1), (1, 64, 17), (1, 256, 203), (3, 96, 40), (5, 256, 65), (2, 768, 24)];

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Forward_MatchesDequantisedReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(90);
        foreach (var type in Types)
            foreach (var (n, inDim, outDim) in Shapes)
                foreach (bool transposed in new[] { false, true })
                foreach (bool grouped in Layouts)
                {
                    float[] wf = Data.Gaussian(ref rng, inDim * outDim, 0.1f), x = Data.Gaussian(ref rng, n * inDim);
                    float[] b = transposed ? [] : Data.Gaussian(ref rng, outDim);
                    var w = QuantizedMatrix.Create(wf, inDim, outDim, transposed, type, grouped);
                    var y = Data.Gaussian(ref rng, (n + 1) * outDim);
                    float[] past = y[(n * outDim)..];
                    QuantizedLinear.Forward(x, w, b, y, n, inDim, outDim);
                    Expect.Close(ScalarReference.QuantizedLinearForwardAuto(w, x, b, n), y.AsSpan(0, n * outDim), $"{type} grouped={w.Grouped} bits={bits} n={n} in={inDim} out={outDim}", rel: 1e-4, abs: 1e-4);
                    Assert.Equal(past, y[(n * outDim)..]);
                }
    }

    // Many rows (the integer tiles or the dequantise-a-tile path, from ManyRowsFrom on): tile edges (out not a multiple of the tile's
    // columns or of a micro-kernel's), rows not a multiple of a micro-kernel's, several tiles per part.
    static readonly (int N, int In, int Out)[] ManyRowShapes =
        [(1, 64, 17), (5, 96, 40), (16, 32, 1), (17, 96, 40), (23, 256, 200), (40, 768, 24), (64, 128, 301)];

    /// <summary>
    /// The dequantise-a-tile path (forced at every row count, one row included) against the dequantised reference in
    /// double: y = b + deq(W) x with x in fp32. Tolerance: 1e-4 relative and absolute, as for the integer path
    /// (sums of up to 768 fp32 products of unit-scale values).
    /// </summary>
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void ForwardDequantised_MatchesTheDequantisedReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(96);
        foreach (var type in Types)
            foreach (var (n, inDim, outDim) in ManyRowShapes)
                foreach (bool transposed in new[] { false, true })
                {
                    float[] wf = Data.Gaussian(ref rng, inDim * outDim, 0.1f), x = Data.Gaussian(ref rng, n * inDim);
                    float[] b = transposed ? [] : Data.Gaussian(ref rng, outDim);
                    var w = QuantizedMatrix.Create(wf, inDim, outDim, transposed, type, grouped: transposed);
                    var y = Data.Gaussian(ref rng, (n + 1) * outDim);
                    float[] past = y[(n * outDim)..];
                    QuantizedLinear.Forward(x, w, b, y, n, inDim, outDim, QuantizedLinear.Path.Dequantised);
                    Expect.Close(ScalarReference.DequantisedLinearForward(w, x, b, n), y.AsSpan(0, n * outDim), $"{type} bits={bits} n={n} in={inDim} out={outDim}", rel: 1e-4, abs: 1e-4);
                    Assert.Equal(past, y[(n * outDim)..]);
                    if (QuantizedLinear.Route(n, w) == QuantizedLinear.Path.Dequantised)
                    {
                        var auto = new float[n * outDim];
                        QuantizedLinear.Forward(x, w, b, auto, n, inDim, outDim);
                        Expect.BitIdentical(y.AsSpan(0, n * outDim).ToArray(), auto, $"auto {type} bits={bits} n={n}");
                    }
                }
    }

    /// <summary>
    /// The integer tiles (QuantizedTiles: AVX2 at 256 bits and more), forced at every many-row shape (rows not a
    /// multiple of the micro-kernel's 6, features not a multiple of its 16, several panels a part) against their
    /// quantised reference: the same integer sums, the float scaling added in another order. Where the path does not
    /// serve (128 bits, scalar, a CPU without AVX2), Auto must not take it.
    /// </summary>
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void ForwardIntegerTiles_MatchesTheQuantisedReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(98);
        int served = 0;
        foreach (var type in Types)
            foreach (var (n, inDim, outDim) in ManyRowShapes.Append((70, 3072, 40)))
            {
                float[] wf = Data.Gaussian(ref rng, inDim * outDim, 0.1f), x = Data.Gaussian(ref rng, n * inDim), b = Data.Gaussian(ref rng, outDim);
                var w = QuantizedMatrix.Create(wf, inDim, outDim, false, type);
                if (!QuantizedTiles.Serve)
                {
                    Assert.NotEqual(QuantizedLinear.Path.IntegerTiles, QuantizedLinear.Route(n, w));
                    continue;
                }
                served++;
                foreach (var bias in new[] { b, [] })
                {
                    var y = Data.Gaussian(ref rng, (n + 1) * outDim);
                    float[] past = y[(n * outDim)..];
                    QuantizedLinear.Forward(x, w, bias, y, n, inDim, outDim, QuantizedLinear.Path.IntegerTiles);
                    Expect.Close(ScalarReference.QuantizedTilesForward(w, x, bias, n), y.AsSpan(0, n * outDim), $"{type} bits={bits} n={n} in={inDim} out={outDim}", rel: 1e-4, abs: 1e-4);
                    Assert.Equal(past, y[(n * outDim)..]);
                    if (type == QuantType.Q8_0) continue;
                    // The other layout: a row group's panel is unpacked where rows are packed, to the same panel.
                    var other = QuantizedMatrix.Create(wf, inDim, outDim, false, type, grouped: !w.Grouped);
                    var z = new float[n * outDim];
                    QuantizedLinear.Forward(x, other, bias, z, n, inDim, outDim, QuantizedLinear.Path.IntegerTiles);
                    Expect.BitIdentical(y.AsSpan(0, n * outDim).ToArray(), z, $"{type} grouped={other.Grouped} bits={bits} n={n}");
                }
            }
        Assert.Equal(bits >= 256 && Simd.MachineIsa == SimdIsa.Avx2 ? Types.Length * (ManyRowShapes.Length + 1) : 0, served);
    }

    /// <summary>
    /// Every type takes the integer tiles from TilesFromRows rows on where they serve (a small matrix too), else the
    /// dequantised path from DequantiseFromRows on; below, the integer path.
    /// </summary>
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void ManyRows_TakeTheTiles_WhereTheyServe(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(99);
        foreach (var type in Types)
            foreach (var (inDim, outDim) in new[] { (768, 200), (128, 64) })
            {
                var w = QuantizedMatrix.Create(Data.Gaussian(ref rng, inDim * outDim, 0.1f), inDim, outDim, false, type);
                bool tiles = bits >= 256 && Simd.MachineIsa == SimdIsa.Avx2;
                int many = tiles ? QuantizedLinear.TilesFromRows(type) : QuantizedLinear.DequantiseFromRows;
                Assert.Equal(many, QuantizedLinear.ManyRowsFrom(type));
                Assert.Equal(QuantizedLinear.Path.Integer, QuantizedLinear.Route(many - 1, w));
                Assert.Equal(tiles ? QuantizedLinear.Path.IntegerTiles : QuantizedLinear.Path.Dequantised, QuantizedLinear.Route(many, w));
                var x = Data.Gaussian(ref rng, many * inDim);
                var y = new float[many * outDim];
                QuantizedLinear.Forward(x, w, [], y, many, inDim, outDim);
                Expect.Close(ScalarReference.QuantizedLinearForwardAuto(w, x, [], many), y, $"{type} bits={bits}", rel: 1e-4, abs: 1e-4);
            }
    }

    /// <summary>The many-row paths: 30 rows of a small matrix (its kept fp32 form), and of a large 4-bit one (the integer tiles where they serve).</summary>
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void ForwardManyRows_IsTheSameForEveryThreadCount(int bits)
    {
        SameForEveryThreadCount(bits, 97, 30, 128, 250, QuantType.Q4_0);
        SameForEveryThreadCount(bits, 95, 30, 768, 250, QuantType.Q4_1);
    }

    static void SameForEveryThreadCount(int bits, ulong seed, int n, int inDim, int outDim, QuantType type)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(seed);
        float[] wf = Data.Gaussian(ref rng, inDim * outDim, 0.1f), x = Data.Gaussian(ref rng, n * inDim), b = Data.Gaussian(ref rng, outDim);
        var w = QuantizedMatrix.Create(wf, inDim, outDim, false, type);
        float[]? first = null;
        foreach (int threads in ThreadCounts.All)
        {
            using var __ = ThreadCounts.Use(threads);
            var y = new float[n * outDim];
            QuantizedLinear.Forward(x, w, b, y, n, inDim, outDim);
            if (first is null) first = y;
            else Expect.BitIdentical(first, y, $"threads={threads}");
        }
    }

    [Fact]
    public void Forward_IsCloseToTheFp32Product_WithinTheFormatsError()
    {
        // Against fp32 weights and activations: the error the formats cost, bounded relative to the output's scale.
        var rng = new Rng(91);
        const int n = 4, inDim = 256, outDim = 64;
        float[] wf = Data.Gaussian(ref rng, inDim * outDim, 0.05f), x = Data.Gaussian(ref rng, n * inDim);
        var exact = new double[n * outDim];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < outDim; j++)
                for (int i = 0; i < inDim; i++) exact[r * outDim + j] += (double)x[r * inDim + i] * wf[i * outDim + j];
        double rms = Math.Sqrt(exact.Sum(v => v * v) / exact.Length);
        foreach (var (type, tolerance) in new[] { (QuantType.Q8_0, 0.02), (QuantType.Q4_0, 0.2), (QuantType.Q4_1, 0.2) })
        {
            var y = new float[n * outDim];
            QuantizedLinear.Forward(x, QuantizedMatrix.Create(wf, inDim, outDim, false, type), [], y, n, inDim, outDim);
            double err = Math.Sqrt(exact.Select((v, i) => (v - y[i]) * (v - y[i])).Sum() / exact.Length);
            Assert.True(err <= tolerance * rms, $"{type}: rms error {err:G3} against rms output {rms:G3}");
        }
    }

    /// <summary>The integer path: 3 rows.</summary>
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Forward_IsTheSameForEveryThreadCount(int bits) => SameForEveryThreadCount(bits, 92, 3, 128, 200, QuantType.Q4_1);

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void ABatch_GivesEachRowWhatItGivesAlone(int bits)
    {
        // Batches below ManyRowsFrom go four rows per pass over the weights on the AVX2 path: bit-identical to
        // decoding row by row. (From there on, a batch takes the integer or dequantised tiles, whose rows agree with
        // decoding to float rounding or the activations' int8 rounding only: checked against each path's reference.)
        using var _ = Widths.Use(bits);
        var rng = new Rng(94);
        const int inDim = 96, outDim = 24;
        foreach (var type in Types)
        {
            int n = Math.Min(11, QuantizedLinear.ManyRowsFrom(type) - 1);
            Assert.True(n >= 4, $"{type}: {n} rows make no four-row pass");
            float[] wf = Data.Gaussian(ref rng, inDim * outDim, 0.1f), x = Data.Gaussian(ref rng, n * inDim), b = Data.Gaussian(ref rng, outDim);
            var w = QuantizedMatrix.Create(wf, inDim, outDim, false, type);
            var batch = new float[n * outDim];
            QuantizedLinear.Forward(x, w, b, batch, n, inDim, outDim);
            var one = new float[outDim];
            for (int r = 0; r < n; r++)
            {
                QuantizedLinear.Forward(x.AsSpan(r * inDim, inDim), w, b, one, 1, inDim, outDim);
                Expect.BitIdentical(one, batch.AsSpan(r * outDim, outDim), $"{type} row {r}");
            }
        }
    }

    /// <summary>
    /// The tile dequantiser of the many-row path, eight rows at a time in AVX2 registers, gives the scalar loop's floats
    /// bit for bit, and both give <see cref="QuantizedMatrix.DequantizeRow"/>'s values transposed; row counts with and
    /// without a tail of fewer than eight, a destination wider than the rows (ld &gt; rows).
    /// </summary>
    [Fact]
    public unsafe void DequantizeTransposed_InAvx2_GivesTheScalarFloats()
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return;   // no AVX2 path on this CPU
        var rng = new Rng(95);
        foreach (var type in Types)
            foreach (var (rows, inDim) in new[] { (8, 32), (13, 64), (24, 96), (31, 256) })
            {
                var w = QuantizedMatrix.Create(Data.Gaussian(ref rng, rows * inDim, 0.2f), inDim, rows, false, type, grouped: false);
                int ld = rows + 3;
                float[] scalar = new float[inDim * ld], vector = new float[inDim * ld];
                fixed (float* half = QuantizedMatrix.HalfTable, ps = scalar, pv = vector)
                {
                    QuantizedLinear.DequantizeTransposed(type, w.Data, w.RowBytes, rows, inDim, half, ps, ld, avx2: false);
                    QuantizedLinear.DequantizeTransposed(type, w.Data, w.RowBytes, rows, inDim, half, pv, ld, avx2: true);
                }
                Expect.BitIdentical(scalar, vector, $"{type} rows={rows} in={inDim}");
                var row = new float[inDim];
                for (int j = 0; j < rows; j++)
                {
                    w.DequantizeRow(j, row);
                    for (int i = 0; i < inDim; i++) Assert.Equal(row[i], scalar[i * ld + j]);
                }
            }
    }

    /// <summary>
    /// The activations' quantiser in vectors gives the scalar one's scales, codes and code sums exactly (round half to
    /// even included: blocks built so x / scale lands on .5), and its sums of x to float rounding.
    /// </summary>
    /// <remarks>256: the 8-float quantiser (x86 with AVX2); 128: the 4-float one (ARM64's, portable code, so it runs here too).</remarks>
    [Theory]
    [InlineData(256)]
    [InlineData(128)]
    public unsafe void QuantizeActivations_InVectors_GivesTheScalarCodes(int bits)
    {
        if (bits == 256 && !System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated) return; // no vector path to compare
        var rng = new Rng(94);
        const int blocks = 40;
        float[] x = Data.Gaussian(ref rng, blocks * 32, 3f);
        x.AsSpan(0, 32).Clear(); // an all-zero block: scale 0, codes 0
        for (int i = 0; i < 32; i++) x[32 + i] = i == 0 ? 127f : (i - 16) + 0.5f; // scale 1: codes on .5 ties
        for (int i = 0; i < 32; i++) x[64 + i] = -x[32 + i];
        sbyte[] qs = new sbyte[x.Length], qv = new sbyte[x.Length];
        float[] ss = new float[3 * blocks], sv = new float[3 * blocks];
        fixed (float* px = x, ps = ss, pv = sv)
        fixed (sbyte* pqs = qs, pqv = qv)
            for (int k = 0; k < blocks; k++)
            {
                QuantizedLinear.QuantizeBlockScalar(px + 32 * k, pqs + 32 * k, ps + k, ps + blocks + k, ps + 2 * blocks + k);
                if (bits == 256) QuantizedLinear.QuantizeBlock256(px + 32 * k, pqv + 32 * k, pv + k, pv + blocks + k, pv + 2 * blocks + k);
                else QuantizedLinear.QuantizeBlock128(px + 32 * k, pqv + 32 * k, pv + k, pv + blocks + k, pv + 2 * blocks + k);
            }
        Assert.Equal(qs, qv);
        Assert.Equal(ss.AsSpan(0, blocks).ToArray(), sv.AsSpan(0, blocks).ToArray());
        Assert.Equal(ss.AsSpan(2 * blocks).ToArray(), sv.AsSpan(2 * blocks).ToArray());
        Expect.Close(ss.AsSpan(blocks, blocks).ToArray().Select(v => (double)v).ToArray(), sv.AsSpan(blocks, blocks), "sums of x", rel: 1e-5, abs: 1e-4);
        Assert.Equal(new sbyte[] { 127, -14, -14 }, new[] { qs[32], qs[33], qs[34] }); // -14.5 and -13.5 both go to -14 (to even)
    }

    /// <summary>
    /// An AVX-512 CPU has AVX2, and at 512 bits the integer path takes the 256-bit AVX2 kernels (a block is 32 bytes):
    /// the same bits as the 256-bit setting, for decoding (several rows of weights per pass, rows a quarter of the
    /// matrix apart) and small batches. The portable 512-bit path is checked against the reference above.
    /// </summary>
    [Fact]
    public void At512Bits_TheIntegerPathIsThe256BitOne()
    {
        if (!Simd.Supports(SimdIsa.Avx2)) return; // nothing to compare with
        var rng = new Rng(95);
        foreach (var type in Types)
            foreach (var (n, inDim, outDim) in Shapes)
            {
                float[] wf = Data.Gaussian(ref rng, inDim * outDim, 0.1f), x = Data.Gaussian(ref rng, n * inDim), b = Data.Gaussian(ref rng, outDim);
                var w = QuantizedMatrix.Create(wf, inDim, outDim, false, type);
                float[] at512 = new float[n * outDim], at256 = new float[n * outDim];
                using (Simd.Force(512, SimdIsa.Avx2)) QuantizedLinear.Forward(x, w, b, at512, n, inDim, outDim);
                using (Simd.Force(256, SimdIsa.Avx2)) QuantizedLinear.Forward(x, w, b, at256, n, inDim, outDim);
                Expect.BitIdentical(at256, at512, $"{type} n={n} in={inDim} out={outDim}");
            }
    }

    [Fact]
    public void Forward_AllocatesNothing_AfterWarmUp()
    {
        var rng = new Rng(93);
        float[] wf = Data.Gaussian(ref rng, 64 * 48), x = Data.Gaussian(ref rng, 3 * 64), y = new float[3 * 48];
        using var _ = ThreadCounts.Use(1); // every part on this thread, so its allocations are the ones counted
        foreach (var type in Types)
        {
            var w = QuantizedMatrix.Create(wf, 64, 48, false, type);
            foreach (int n in new[] { 1, 3 })
                Expect.AllocatesNothing(() => QuantizedLinear.Forward(x, w, [], y, n, 64, 48), $"a {type} {n}-row product", warmUp: 1, calls: 10);
        }
    }

    [Fact]
    public void ForwardDequantised_AllocatesNothing_AfterWarmUp()
    {
        var rng = new Rng(98);
        const int n = 40, inDim = 128, outDim = 200;
        float[] wf = Data.Gaussian(ref rng, inDim * outDim), x = Data.Gaussian(ref rng, n * inDim), y = new float[n * outDim];
        var w = QuantizedMatrix.Create(wf, inDim, outDim, false, QuantType.Q4_0);
        using var _ = ThreadCounts.Use(1); // every part on this thread, so its allocations are the ones counted
        Expect.AllocatesNothing(() => QuantizedLinear.Forward(x, w, [], y, n, inDim, outDim), $"a q4_0 {n}-row product", warmUp: 1, calls: 10);
    }

    [Fact]
    public void IntegerTiles_AllocateNothing_AfterWarmUp()
    {
        if (!QuantizedTiles.Serve) { Assert.False(Simd.MachineIsa == SimdIsa.Avx2 && Simd.MachineBits >= 256); return; }
        var rng = new Rng(89);
        const int n = 40, inDim = 256, outDim = 600;
        float[] x = Data.Gaussian(ref rng, n * inDim), y = new float[n * outDim];
        using var _ = ThreadCounts.Use(1);
        foreach (var type in Types)
        {
            var w = QuantizedMatrix.Create(Data.Gaussian(ref rng, inDim * outDim), inDim, outDim, false, type);
            Expect.AllocatesNothing(() => QuantizedLinear.Forward(x, w, [], y, n, inDim, outDim, QuantizedLinear.Path.IntegerTiles), $"a {type} {n}-row product", warmUp: 1, calls: 10);
        }
    }

    /// <summary>
    /// Q8_0's 16-bit activation codes: the vector quantiser against the scalar one, bit for bit (codes and scale), on
    /// Gaussian blocks, an all-zero block, a block of one value and halves that round to even.
    /// </summary>
    [Fact]
    public unsafe void WideActivationCodes_AreTheScalarOnes()
    {
        if (!Avx2.IsSupported) { Assert.False(QuantizedTiles.Serve); return; }
        var rng = new Rng(88);
        var blocks = new List<float[]> { new float[32], Enumerable.Repeat(-3.5f, 32).ToArray(), Enumerable.Range(0, 32).Select(i => (i - 16) * 0.5f).ToArray() };
        for (int t = 0; t < 50; t++) blocks.Add(Data.Gaussian(ref rng, 32, t + 0.01f));
        var halves = Enumerable.Range(0, 32).Select(i => i * 1.5f).ToArray();
        halves[31] = 32767f; // scale 1: every code is x rounded, halves to even
        blocks.Add(halves);
        short[] q = new short[32], qs = new short[32];
        foreach (var x in blocks)
        {
            float d, ds;
            fixed (float* px = x)
            fixed (short* pq = q, pqs = qs)
            {
                QuantizedTiles.QuantizeBlockWide(px, pq, &d);
                QuantizedTiles.QuantizeBlockWideScalar(px, pqs, &ds);
            }
            Assert.Equal(BitConverter.SingleToInt32Bits(ds), BitConverter.SingleToInt32Bits(d));
            Assert.Equal(qs, q);
            Assert.True(qs.Max(v => Math.Abs((int)v)) <= 32767);
        }
        // The last block was the halves, at scale 1: 0, 1.5, 3, 4.5, 6 round half to even to 0, 2, 3, 4, 6.
        Assert.Equal(new short[] { 0, 2, 3, 4, 6 }, q[..5]);
    }
}
