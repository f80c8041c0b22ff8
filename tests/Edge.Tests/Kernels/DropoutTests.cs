using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

[Collection(SimdWidthCollection.Name)]
public class DropoutTests
{
    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void DropoutForward_ZeroesAboutPAndScalesTheRestByOneOverOneMinusP_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var data = new Rng(70);
        const int count = 20_001;
        foreach (float p in new[] { 0.1f, 0.5f, 0.9f })
        {
            float[] x = Data.Gaussian(ref data, count), y = new float[count], mask = new float[count];
            var rng = new Rng(71);
            Dropout.Forward(x, y, mask, count, p, ref rng);
            float keep = 1f / (1f - p);
            int zeros = 0;
            for (int i = 0; i < count; i++)
            {
                if (mask[i] == 0f) { zeros++; Assert.Equal(0f, y[i]); }
                else { Assert.Equal(keep, mask[i]); Assert.Equal(x[i] * keep, y[i]); }
            }
            // Binomial: the standard deviation of the fraction is at most 0.0036 here; allow 5 of them.
            double fraction = (double)zeros / count;
            Assert.True(Math.Abs(fraction - p) < 0.018, $"p={p}: {fraction:F4} of the mask is zero");
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void DropoutForward_SameSeedGivesSameMask_OneDrawPerElementInOrder(int bits)
    {
        using var _ = Widths.Use(bits);
        var data = new Rng(72);
        foreach (int count in Data.Sizes)
        {
            float[] x = Data.Gaussian(ref data, count), y1 = new float[count], y2 = new float[count], m1 = new float[count], m2 = new float[count];
            var a = new Rng(5);
            var b = new Rng(5);
            Dropout.Forward(x, y1, m1, count, 0.3f, ref a);
            Dropout.Forward(x, y2, m2, count, 0.3f, ref b);
            Assert.Equal(m1, m2);
            Assert.Equal(y1, y2);
            Assert.Equal(ScalarReference.DropoutMask(5, count, 0.3f), m1);
            Assert.Equal(a.State, b.State); // the Rng advanced (by ref), by the same count
            Assert.NotEqual(new Rng(5).State, a.State);
            // The next call continues the stream, so it draws a different mask.
            Dropout.Forward(x, y2, m2, count, 0.3f, ref a);
            var expected = new Rng(5);
            for (int i = 0; i < count; i++) expected.NextFloat();
            for (int i = 0; i < count; i++) Assert.Equal(expected.NextFloat() >= 0.3f ? 1f / 0.7f : 0f, m2[i]);
        }
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void DropoutForward_WithPZero_IsTheIdentityWithMaskOne_AndDrawsNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var data = new Rng(73);
        float[] x = Data.Gaussian(ref data, 33), y = Data.Gaussian(ref data, 40), mask = Data.Gaussian(ref data, 40);
        float[] yPast = y[33..], maskPast = mask[33..];
        var rng = new Rng(9);
        var before = rng.State;
        Dropout.Forward(x, y, mask, 33, 0f, ref rng);
        Assert.Equal(x, y[..33]);
        Assert.All(mask[..33], m => Assert.Equal(1f, m));
        Assert.Equal(yPast, y[33..]);
        Assert.Equal(maskPast, mask[33..]);
        Assert.Equal(before, rng.State);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void DropoutBackward_AccumulatesDyTimesMask_OnEveryWidth(int bits)
    {
        using var _ = Widths.Use(bits);
        var data = new Rng(74);
        foreach (int count in Data.Sizes)
        {
            float[] x = Data.Gaussian(ref data, count), y = new float[count], mask = new float[count];
            var rng = new Rng(75);
            Dropout.Forward(x, y, mask, count, 0.4f, ref rng);
            // dy and dx longer than count: nothing past count is read or written.
            float[] dy = Data.Gaussian(ref data, count + 5), dx = Data.Gaussian(ref data, count + 5);
            var expected = new double[count];
            for (int i = 0; i < count; i++) expected[i] = dx[i] + (double)dy[i] * mask[i];
            float[] past = dx[count..];
            Dropout.Backward(dy, mask, dx, count);
            Expect.Close(expected, dx.AsSpan(0, count), $"count={count}");
            Assert.Equal(past, dx[count..]);
        }
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1f)]
    [InlineData(float.NaN)]
    public void DropoutForward_RejectsPOutsideZeroToOne(float p)
    {
        var rng = new Rng(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Forward(new float[4], new float[4], new float[4], 4, p, ref rng));
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void Dropout_AllocatesNothing(int bits)
    {
        using var _ = Widths.Use(bits);
        var data = new Rng(76);
        float[] x = Data.Gaussian(ref data, 130), y = new float[130], mask = new float[130], dx = new float[130];
        var rng = new Rng(77);
        Expect.AllocatesNothing(() =>
        {
            Dropout.Forward(x, y, mask, 130, 0.2f, ref rng);
            Dropout.Backward(y, mask, dx, 130);
            Dropout.Forward(x, y, mask, 130, 0f, ref rng);
        }, "Dropout");
    }
}
