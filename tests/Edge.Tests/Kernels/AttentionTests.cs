using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class AttentionTests
{
    // Head sizes 4, 5, 16, 1, 8, 32 and 64: every width's choice (the widest whose lane count divides hs, scalar for
    // 1 and 5); 32 and 64 are the models' head sizes.
    static readonly (int C, int H)[] Heads = [(12, 3), (20, 4), (64, 4), (3, 3), (24, 3), (64, 2), (128, 2)];
    static readonly int[] Batches = [1, 2];
    static readonly int[] Times = [1, 5, 17];

    static IEnumerable<(int B, int T, int C, int H)> Shapes() =>
        from b in Batches from t in Times from ch in Heads select (b, t, ch.C, ch.H);

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void AttentionForward_MatchesNaiveMaskedSoftmax_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(60);
        foreach (var (b, t, c, h) in Shapes())
        {
            float[] qkv = Data.Gaussian(ref rng, b * t * 3 * c);
            // Stale outputs: every element of att (zeros above the diagonal included) and y must be written.
            float[] y = Data.Gaussian(ref rng, b * t * c), att = Data.Gaussian(ref rng, b * h * t * t);
            Attention.Forward(qkv, y, att, b, t, c, h);
            var (ey, eatt) = ScalarReference.AttentionForward(qkv, b, t, c, h);
            string shape = $"B={b} T={t} C={c} H={h}";
            Expect.Close(eatt, att, $"att {shape}");
            Expect.Close(ey, y, $"y {shape}");
            for (int r = 0; r < b * h; r++)
                for (int t1 = 0; t1 < t; t1++)
                    for (int t2 = t1 + 1; t2 < t; t2++)
                        Assert.Equal(0f, att[(r * t + t1) * t + t2]);
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void AttentionForward_WithTShorterThanTheBuffers_IsDenseForThatT(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(61);
        const int b = 2, maxT = 17, t = 5, c = 20, h = 4;
        // Buffers sized for the largest batch and context; the call uses the first B x T (x T) of each.
        float[] qkv = Data.Gaussian(ref rng, b * maxT * 3 * c);
        float[] y = Data.Gaussian(ref rng, b * maxT * c), att = Data.Gaussian(ref rng, b * h * maxT * maxT);
        float[] yPast = y[(b * t * c)..], attPast = att[(b * h * t * t)..];
        Attention.Forward(qkv, y, att, b, t, c, h);
        var (ey, eatt) = ScalarReference.AttentionForward(qkv[..(b * t * 3 * c)], b, t, c, h);
        Expect.Close(eatt, att.AsSpan(0, b * h * t * t), "att");
        Expect.Close(ey, y.AsSpan(0, b * t * c), "y");
        Assert.Equal(yPast, y[(b * t * c)..]);
        Assert.Equal(attPast, att[(b * h * t * t)..]);

        float[] dy = Data.Gaussian(ref rng, b * maxT * c), dqkv = Data.Gaussian(ref rng, b * maxT * 3 * c), scratch = new float[maxT];
        float[] dqkvPast = dqkv[(b * t * 3 * c)..];
        var edqkv = ScalarReference.AttentionBackward(dy[..(b * t * c)], qkv[..(b * t * 3 * c)], dqkv[..(b * t * 3 * c)], b, t, c, h);
        Attention.Backward(dy, qkv, att, dqkv, scratch, b, t, c, h);
        Expect.Close(edqkv, dqkv.AsSpan(0, b * t * 3 * c), "dqkv");
        Assert.Equal(dqkvPast, dqkv[(b * t * 3 * c)..]);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void AttentionBackward_AccumulatesAndMatchesNaiveReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(62);
        foreach (var (b, t, c, h) in Shapes())
        {
            float[] qkv = Data.Gaussian(ref rng, b * t * 3 * c);
            float[] y = new float[b * t * c], att = new float[b * h * t * t];
            Attention.Forward(qkv, y, att, b, t, c, h);
            float[] dy = Data.Gaussian(ref rng, b * t * c);
            // A non-zero starting gradient (Backward must add to it) and stale scratch, longer than T.
            float[] dqkv = Data.Gaussian(ref rng, b * t * 3 * c), scratch = Data.Gaussian(ref rng, t + 3);
            var expected = ScalarReference.AttentionBackward(dy, qkv, dqkv, b, t, c, h);
            Attention.Backward(dy, qkv, att, dqkv, scratch, b, t, c, h);
            Expect.Close(expected, dqkv, $"dqkv B={b} T={t} C={c} H={h}", rel: 1e-4, abs: 1e-5);
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void AttentionBackward_MatchesFiniteDifferencesOfTheDoubleForward(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(63);
        foreach (var (b, t, c, h) in new[] { (1, 1, 12, 3), (2, 5, 12, 3), (1, 5, 20, 4), (1, 6, 64, 2) })
        {
            float[] qkv = Data.Gaussian(ref rng, b * t * 3 * c), g = Data.Gaussian(ref rng, b * t * c);
            float[] y = new float[b * t * c], att = new float[b * h * t * t], dqkv = new float[b * t * 3 * c], scratch = new float[t];
            Attention.Forward(qkv, y, att, b, t, c, h);
            Attention.Backward(g, qkv, att, dqkv, scratch, b, t, c, h);
            var numeric = FiniteDifferences.Gradient(
                v => FiniteDifferences.Weighted(ScalarReference.AttentionForward(v, b, t, c, h).Y, g), ScalarReference.ToDouble(qkv));
            Expect.Close(numeric, dqkv, $"dqkv B={b} T={t} C={c} H={h}", rel: 1e-4, abs: 1e-5);
        }
    }

    [Fact]
    public void Attention_RejectsBadShapes()
    {
        float[] qkv = new float[2 * 36], y = new float[2 * 12], att = new float[3 * 4], scratch = new float[2];
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(qkv, y, att, 1, 2, 12, 5)); // 12 heads of 5?
        Assert.Throws<ArgumentException>(() => Attention.Forward(qkv, y, new float[11], 1, 2, 12, 3)); // att needs 1x3x2x2
        Assert.Throws<ArgumentException>(() => Attention.Forward(qkv[..71], y, att, 1, 2, 12, 3)); // qkv needs 2 rows of 36
        Assert.Throws<ArgumentException>(() => Attention.Backward(y, qkv, att, qkv, new float[1], 1, 2, 12, 3)); // scratch needs T
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Attention_AllocatesNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(64);
        const int b = 2, t = 17, c = 64, h = 2;
        float[] qkv = Data.Gaussian(ref rng, b * t * 3 * c), y = new float[b * t * c], att = new float[b * h * t * t];
        float[] dqkv = new float[b * t * 3 * c], scratch = new float[t];
        Expect.AllocatesNothing(() =>
        {
            Attention.Forward(qkv, y, att, b, t, c, h);
            Attention.Backward(y, qkv, att, dqkv, scratch, b, t, c, h);
        }, "Attention");
    }
}
