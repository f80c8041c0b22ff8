using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Xunit;

namespace Edge.Tests.Plotting;

/// <summary>An independent PNG reader for the tests: checks the structure and returns the decoded rows.</summary>
public static class PngCheck
{
    public sealed record Image(int Width, int Height, int BitDepth, int ColorType, int Channels, byte[] Raw);

    /// <summary>Bitwise CRC-32 (no table), to check the writer's table-driven one independently.</summary>
    public static uint Crc(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return crc ^ 0xFFFFFFFF;
    }

    public static Image Read(byte[] png)
    {
        Assert.True(png.AsSpan(0, 8).SequenceEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }), "bad PNG signature");
        var types = new List<string>();
        var idat = new MemoryStream();
        int width = 0, height = 0, depth = 0, colorType = 0;
        int pos = 8;
        while (pos < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = Encoding.ASCII.GetString(png, pos + 4, 4);
            var data = png.AsSpan(pos + 8, length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + length));
            Assert.True(Crc(png.AsSpan(pos + 4, 4 + length)) == crc, $"chunk {type}: CRC mismatch");
            types.Add(type);
            if (type == "IHDR")
            {
                Assert.Equal(13, length);
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                depth = data[8];
                colorType = data[9];
                Assert.Equal(0, data[10]); Assert.Equal(0, data[11]); Assert.Equal(0, data[12]);
            }
            if (type == "IDAT") idat.Write(data);
            pos += 12 + length;
        }
        Assert.Equal(png.Length, pos);
        Assert.Equal("IHDR", types[0]);
        Assert.Equal("IEND", types[^1]);
        Assert.All(types.Skip(1).Take(types.Count - 2), t => Assert.Equal("IDAT", t));
        Assert.True(types.Count >= 3, "no IDAT chunk");
        int channels = colorType switch { 2 => 3, 6 => 4, _ => throw new Xunit.Sdk.XunitException($"unexpected colour type {colorType}") };
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        Assert.Equal(height * (1 + width * channels), bytes.Length);
        for (int y = 0; y < height; y++) Assert.Equal(0, bytes[y * (1 + width * channels)]); // filter type 0
        return new Image(width, height, depth, colorType, channels, bytes);
    }

    /// <summary>How many pixels differ from the top-left pixel's colour (the background).</summary>
    public static int NonBackgroundPixels(Image image)
    {
        int stride = 1 + image.Width * image.Channels, count = 0;
        var bg = image.Raw.AsSpan(1, image.Channels).ToArray();
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                if (!image.Raw.AsSpan(y * stride + 1 + x * image.Channels, image.Channels).SequenceEqual(bg)) count++;
        return count;
    }

    /// <summary>A valid PNG with some drawing on it; returns the image.</summary>
    public static Image AssertDrawn(string path)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        var image = Read(File.ReadAllBytes(path));
        Assert.Equal(8, image.BitDepth);
        Assert.True(NonBackgroundPixels(image) > 100, "the image is blank");
        return image;
    }
}
