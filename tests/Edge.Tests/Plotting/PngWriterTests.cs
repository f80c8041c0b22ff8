using System.Text;
using Edge.Plotting;
using Edge.Tests.Support;
using Xunit;

namespace Edge.Tests.Plotting;

public class PngWriterTests
{
    [Theory]
    [InlineData(3, 2)]
    [InlineData(4, 6)]
    public void Encode_WritesAValidPng_WithTheExactPixels(int channels, int colorType)
    {
        int w = 7, h = 5;
        var pixels = new byte[w * h * channels];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i * 13);
        var image = PngCheck.Read(PngWriter.Encode(w, h, pixels, channels));
        Assert.Equal((w, h, 8, colorType), (image.Width, image.Height, image.BitDepth, image.ColorType));
        for (int y = 0; y < h; y++)
            Assert.True(image.Raw.AsSpan(y * (1 + w * channels) + 1, w * channels).SequenceEqual(pixels.AsSpan(y * w * channels, w * channels)));
    }

    [Fact]
    public void Encode_RefusesAWrongPixelCount()
    {
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(4, 4, new byte[10], 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => PngWriter.Encode(4, 4, new byte[32], 2));
    }

    [Fact]
    public void Write_ReplacesTheFile_AndLeavesNoTemporaryFile()
    {
        using var dir = new TempDir();
        var path = dir.File("a.png");
        File.WriteAllText(path, "old");
        var canvas = new Canvas(20, 10, Rgb.White);
        canvas.Line(0, 0, 19, 9, Rgb.Black);
        canvas.Text(1, 1, "Ab1", new Rgb(255, 0, 0));
        PngWriter.Write(path, canvas);
        var image = PngCheck.Read(File.ReadAllBytes(path));
        Assert.Equal((20, 10), (image.Width, image.Height));
        Assert.True(PngCheck.NonBackgroundPixels(image) > 10);
        Assert.Equal(["a.png"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Canvas_DrawsLinesRectsAndText()
    {
        var c = new Canvas(40, 20, Rgb.White);
        c.Line(0, 0, 39, 0, Rgb.Black);
        Assert.Equal(Rgb.Black, c.GetPixel(20, 0));
        c.FillRect(5, 5, 3, 3, new Rgb(1, 2, 3));
        Assert.Equal(new Rgb(1, 2, 3), c.GetPixel(7, 7));
        Assert.Equal(Rgb.White, c.GetPixel(8, 8));
        c.SetPixel(-1, 100, Rgb.Black); // ignored, no exception
        var t = new Canvas(20, 10, Rgb.White);
        t.Text(0, 0, "1", Rgb.Black);
        int inked = 0;
        for (int y = 0; y < 10; y++) for (int x = 0; x < 20; x++) if (t.GetPixel(x, y) == Rgb.Black) inked++;
        Assert.InRange(inked, 8, 20); // the '1' glyph: a stem, a flag and a foot
    }
}
