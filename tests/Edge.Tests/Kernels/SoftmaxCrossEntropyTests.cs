using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class SoftmaxCrossEntropyTests
{
    static readonly int[] Rows = [1, 3, 7];

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void SoftmaxCrossEntropyForward_MatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(40);
        foreach (int vocab in Data.Sizes)
            foreach (int n in Rows)
            {
                float[] logits = Data.Gaussian(ref rng, n * vocab, 3f), probs = new float[n * vocab];
                int[] targets = Data.Ints(ref rng, n, vocab);
                var (eprobs, eloss) = ScalarReference.SoftmaxCrossEntropyForward(logits, targets, n, vocab);
                float loss = SoftmaxCrossEntropy.Forward(logits, targets, probs, n, vocab);
                Expect.Close(eprobs, probs, $"probs n={n} V={vocab}");
                Expect.Close(eloss, loss, $"loss n={n} V={vocab}");
            }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void SoftmaxCrossEntropyForward_IsFiniteForHugeLogits(int bits)
    {
        using var _ = Widths.Use(bits);
        // exp(1000) overflows and the target's probability underflows to 0, yet the loss is exactly 2000.
        float[] logits = [1000f, -1000f, 0f], probs = new float[3];
        float loss = SoftmaxCrossEntropy.Forward(logits, [1], probs, 1, 3);
        Assert.Equal(2000f, loss);
        Assert.Equal(new float[] { 1f, 0f, 0f }, probs);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void SoftmaxCrossEntropyBackward_MatchesScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(41);
        foreach (int vocab in Data.Sizes)
            foreach (int n in Rows)
            {
                float[] logits = Data.Gaussian(ref rng, n * vocab, 3f), probs = new float[n * vocab];
                float[] dlogits = Data.Gaussian(ref rng, n * vocab); // non-zero: Backward accumulates
                int[] targets = Data.Ints(ref rng, n, vocab);
                SoftmaxCrossEntropy.Forward(logits, targets, probs, n, vocab);
                var expected = ScalarReference.SoftmaxCrossEntropyBackward(probs, targets, dlogits, n, vocab, 1f / n);
                SoftmaxCrossEntropy.Backward(probs, targets, dlogits, n, vocab, 1f / n);
                Expect.Close(expected, dlogits, $"n={n} V={vocab}");
            }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void SoftmaxCrossEntropyBackward_MatchesFiniteDifferencesOfForward(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(42);
        const int n = 3, vocab = 5;
        float[] logits = Data.Gaussian(ref rng, n * vocab), probs = new float[n * vocab], dlogits = new float[n * vocab];
        int[] targets = [4, 0, 2];
        SoftmaxCrossEntropy.Forward(logits, targets, probs, n, vocab);
        SoftmaxCrossEntropy.Backward(probs, targets, dlogits, n, vocab, 1f / n);
        const float h = 1e-2f;
        for (int i = 0; i < logits.Length; i++)
        {
            float saved = logits[i];
            logits[i] = saved + h;
            double up = SoftmaxCrossEntropy.Forward(logits, targets, probs, n, vocab);
            logits[i] = saved - h;
            double down = SoftmaxCrossEntropy.Forward(logits, targets, probs, n, vocab);
            logits[i] = saved;
            // Central differences of a float loss: rounding (~1e-7 / h) plus truncation (~h^2 * f''') is well under 1e-3.
            Expect.Close((up - down) / (2 * h), dlogits[i], $"dlogits[{i}]", rel: 1e-3, abs: 1e-3);
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void SoftmaxAndLogSumExp_MatchScalarReference_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(43);
        foreach (int vocab in Data.Sizes.Append(1000)) // 1000 spans several stack chunks in LogSumExp
        {
            float[] row = Data.Gaussian(ref rng, vocab, 3f), probs = new float[vocab];
            SoftmaxCrossEntropy.Softmax(row, probs);
            Expect.Close(ScalarReference.Softmax(row), probs, $"softmax V={vocab}");
            Expect.Close(ScalarReference.LogSumExp(row), SoftmaxCrossEntropy.LogSumExp(row), $"logsumexp V={vocab}");
            SoftmaxCrossEntropy.Softmax(row, row); // in place
            Assert.Equal(probs, row);
        }
        Assert.Equal(float.NegativeInfinity, SoftmaxCrossEntropy.LogSumExp([]));
    }

    [Theory]
    [InlineData(-2)]   // -1 is IgnoredTarget
    [InlineData(5)]
    public void SoftmaxCrossEntropy_TargetOutOfRange_Throws(int target)
    {
        int[] targets = [0, target];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Forward(new float[10], targets, new float[10], 2, 5));
        Assert.Equal("targets", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Backward(new float[10], targets, new float[10], 2, 5, 0.5f));
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void SoftmaxCrossEntropy_AllocatesNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var rng = new Rng(44);
        const int n = 7, vocab = 65;
        float[] logits = Data.Gaussian(ref rng, n * vocab), probs = new float[n * vocab], dlogits = new float[n * vocab];
        int[] targets = Data.Ints(ref rng, n, vocab);
        float sink = 0;
        Expect.AllocatesNothing(() =>
        {
            sink += SoftmaxCrossEntropy.Forward(logits, targets, probs, n, vocab);
            SoftmaxCrossEntropy.Backward(probs, targets, dlogits, n, vocab, 1f / n);
            SoftmaxCrossEntropy.Softmax(logits.AsSpan(0, vocab), probs.AsSpan(0, vocab));
            sink += SoftmaxCrossEntropy.LogSumExp(logits);
        }, "SoftmaxCrossEntropy");
        Assert.False(float.IsNaN(sink));
    }
}
