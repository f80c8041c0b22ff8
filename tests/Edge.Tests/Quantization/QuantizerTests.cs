using Edge.Formats;
using Edge.Quantization;
using Xunit;

namespace Edge.Tests.Quantization;

public class QuantizerTests
{
    static float[] Gaussian(int n, ulong seed, float scale = 1f)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, n).Select(_ => scale * rng.NextGaussian()).ToArray();
    }

    /// <summary>
    /// The rounding bound of one block: half a step (Q8_0: max|w| / 254; Q4_1: (max - min) / 30), a whole step for
    /// Q4_0 (the value of largest magnitude maps exactly to -8, so the opposite extreme may clamp at +7), plus the
    /// fp16 rounding of the scale and minimum (2^-11 relative, times at most max|w|).
    /// </summary>
    static double Bound(QuantType type, double amax, double range) => type switch
    {
        QuantType.Q8_0 => amax / 254 + amax / 2048,
        QuantType.Q4_0 => amax / 8 + amax / 1024,
        _ => range / 30 + amax / 512,
    };

    [Theory]
    [InlineData(QuantType.Q8_0, 34)]
    [InlineData(QuantType.Q4_0, 18)]
    [InlineData(QuantType.Q4_1, 20)]
    public void Blocks_HaveTheDocumentedSize_AndRoundWithinTheirStep(QuantType type, int blockBytes)
    {
        Assert.Equal(blockBytes, type.BlockBytes());
        const int inDim = 128, outDim = 5;
        var w = Gaussian(inDim * outDim, 1);
        var bytes = Quantizer.Quantize(w, inDim, outDim, transposed: false, type, out var worst);
        Assert.Equal(outDim * (inDim / 32) * blockBytes, bytes.Length);
        var back = QuantizedMatrix.FromBytes(type, outDim, inDim, bytes).Dequantize();
        double worstSeen = 0;
        // Row j of the quantised matrix is column j of W [in, out].
        for (int j = 0; j < outDim; j++)
            for (int blk = 0; blk < inDim / 32; blk++)
            {
                var block = Enumerable.Range(blk * 32, 32).Select(i => (double)w[i * outDim + j]).ToArray();
                double bound = Bound(type, block.Max(Math.Abs), block.Max() - block.Min());
                for (int i = blk * 32; i < blk * 32 + 32; i++)
                {
                    double err = Math.Abs(back[j * inDim + i] - w[i * outDim + j]);
                    worstSeen = Math.Max(worstSeen, err);
                    Assert.True(err <= bound, $"{type} row {j} input {i}: {w[i * outDim + j]} -> {back[j * inDim + i]}, bound {bound:G3}");
                }
            }
        Assert.Equal(worstSeen, worst.MaxAbsError, 6);
    }

    [Fact]
    public void Transposed_QuantisesRowsAsStored()
    {
        // A tied head's wte [V, C] is already [out, in]: rows are quantised as they are.
        var w = Gaussian(3 * 64, 2);
        var rows = QuantizedMatrix.Create(w, 64, 3, transposed: true, QuantType.Q8_0).Dequantize();
        for (int i = 0; i < w.Length; i++) Assert.True(Math.Abs(rows[i] - w[i]) <= 0.02, $"element {i}: {w[i]} -> {rows[i]}");
    }

    [Theory]
    [InlineData(QuantType.Q8_0)]
    [InlineData(QuantType.Q4_0)]
    [InlineData(QuantType.Q4_1)]
    public void ZeroBlocks_StayZero_AndHaveFiniteScales(QuantType type)
    {
        var w = new float[64];
        for (int i = 0; i < 32; i++) w[i] = i - 16;
        var m = QuantizedMatrix.Create(w, 64, 1, transposed: true, type);
        var back = m.Dequantize();
        for (int i = 32; i < 64; i++) Assert.Equal(0f, back[i]);
        Assert.Equal(-1, m.FindCorruptBlock());
    }

    [Fact]
    public void XxHash64_MatchesPublishedValues()
    {
        Assert.Equal(0xEF46DB3751D8E999UL, System.IO.Hashing.XxHash64.HashToUInt64([]));
        Assert.Equal(0x44BC2CF5AD770999UL, System.IO.Hashing.XxHash64.HashToUInt64("abc"u8));
        Assert.Equal(0xFBCEA83C8A378BF1UL, System.IO.Hashing.XxHash64.HashToUInt64("Nobody inspects the spammish repetition"u8));
    }

    [Theory]
    [InlineData("q8", QuantType.Q8_0)]
    [InlineData("q4", QuantType.Q4_0)]
    [InlineData("q4m", QuantType.Q4_1)]
    [InlineData("q4_1", QuantType.Q4_1)]
    public void Names_Parse(string name, QuantType type)
    {
        Assert.True(QuantTypes.TryParse(name, out var parsed));
        Assert.Equal(type, parsed);
        Assert.False(QuantTypes.TryParse("q3_k", out _));
    }
}
