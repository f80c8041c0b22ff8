using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class EmbeddingTests
{
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void EmbeddingForward_CopiesTableRows_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(20);
        foreach (int dim in Data.Sizes)
            foreach (int count in new[] { 1, 7, 33 })
            {
                const int vocab = 27;
                float[] table = Data.Gaussian(ref rng, vocab * dim), y = Data.Gaussian(ref rng, count * dim);
                int[] tokens = Data.Ints(ref rng, count, vocab);
                Embedding.Forward(tokens, table, y, count, dim);
                Expect.Close(ScalarReference.EmbeddingForward(tokens, table, dim), y, $"dim={dim} count={count}", rel: 0, abs: 0);
            }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void EmbeddingBackward_AccumulatesRepeatedTokens_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(21);
        foreach (int dim in Data.Sizes)
            foreach (int count in new[] { 1, 7, 33 })
            {
                const int vocab = 5; // few tokens, so that rows repeat and gradients add up
                float[] dtable = Data.Gaussian(ref rng, vocab * dim), dy = Data.Gaussian(ref rng, count * dim);
                int[] tokens = Data.Ints(ref rng, count, vocab);
                var expected = ScalarReference.EmbeddingBackward(tokens, dy, dtable, dim);
                Embedding.Backward(tokens, dy, dtable, count, dim);
                Expect.Close(expected, dtable, $"dim={dim} count={count}");
            }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(4)]
    public void Embedding_TokenOutOfRange_Throws(int token)
    {
        int[] tokens = [0, token];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward(tokens, new float[4 * 3], new float[2 * 3], 2, 3));
        Assert.Equal("tokens", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Backward(tokens, new float[2 * 3], new float[4 * 3], 2, 3));
    }

    [Fact]
    public void Embedding_UsesOnlyTheFirstCountTokens()
    {
        float[] table = [1, 2, 3, 4], y = new float[2];
        Embedding.Forward([1, 99], table, y, 1, 2); // the 99 is past count, so it is neither read nor checked
        Assert.Equal(new float[] { 3, 4 }, y);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Embedding_AllocatesNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(22);
        const int vocab = 27, dim = 33, count = 17;
        float[] table = Data.Gaussian(ref rng, vocab * dim), y = new float[count * dim], dtable = new float[vocab * dim];
        int[] tokens = Data.Ints(ref rng, count, vocab);
        Expect.AllocatesNothing(() =>
        {
            Embedding.Forward(tokens, table, y, count, dim);
            Embedding.Backward(tokens, y, dtable, count, dim);
        }, "Embedding");
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void AddPositions_AddsTheFirstTRowsOfWpeToEverySequence_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(23);
        const int context = 17;
        foreach (int c in new[] { 1, 12, 20, 33, 64 })
            foreach (int b in new[] { 1, 2 })
                foreach (int t in new[] { 1, 5, 17 })
                {
                    // wpe has Context rows (more than T); y is sized for one more sequence than used.
                    float[] wpe = Data.Gaussian(ref rng, context * c), y = Data.Gaussian(ref rng, (b + 1) * t * c);
                    float[] past = y[(b * t * c)..];
                    var expected = ScalarReference.AddPositions(y, wpe, b, t, c);
                    Embedding.AddPositions(y, wpe, b, t, c);
                    Expect.Close(expected, y.AsSpan(0, b * t * c), $"c={c} b={b} t={t}");
                    Assert.Equal(past, y[(b * t * c)..]);
                }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void PositionsBackward_AccumulatesTheBatchSumIntoTheFirstTRows_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(24);
        const int context = 17;
        foreach (int c in new[] { 1, 12, 20, 33, 64 })
            foreach (int b in new[] { 1, 2 })
                foreach (int t in new[] { 1, 5, 17 })
                {
                    float[] dwpe = Data.Gaussian(ref rng, context * c), dy = Data.Gaussian(ref rng, b * t * c);
                    var expected = ScalarReference.PositionsBackward(dy, dwpe, b, t, c);
                    Embedding.PositionsBackward(dy, dwpe, b, t, c);
                    Expect.Close(expected, dwpe, $"c={c} b={b} t={t}"); // rows t .. Context keep their values
                }
    }

    [Fact]
    public void Positions_RejectTLongerThanWpe()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.AddPositions(new float[4 * 3], new float[3 * 3], 1, 4, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.PositionsBackward(new float[4 * 3], new float[3 * 3], 1, 4, 3));
        Assert.Throws<ArgumentException>(() => Embedding.AddPositions(new float[4 * 3], new float[10], 1, 3, 3)); // not whole rows
        Assert.Throws<ArgumentException>(() => Embedding.AddPositions(new float[5], new float[3 * 3], 2, 1, 3)); // y needs 2x3
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Positions_AllocateNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(25);
        const int b = 2, t = 17, c = 33;
        float[] wpe = Data.Gaussian(ref rng, 32 * c), y = new float[b * t * c], dwpe = new float[32 * c];
        Expect.AllocatesNothing(() =>
        {
            Embedding.AddPositions(y, wpe, b, t, c);
            Embedding.PositionsBackward(y, dwpe, b, t, c);
        }, "Positions");
    }
}
