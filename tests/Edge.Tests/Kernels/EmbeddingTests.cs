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
}
