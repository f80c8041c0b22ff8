using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Edge.Plotting;

/// <summary>
/// Writes 8-bit RGB or RGBA images as PNG: signature, IHDR, one IDAT (zlib through ZLibStream, filter type 0 on every
/// row), IEND, each chunk with its CRC-32 (System.IO.Hashing).
/// </summary>
public static class PngWriter
{
    static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>The PNG bytes of a <paramref name="width"/> x <paramref name="height"/> image; <paramref name="channels"/> is 3 (RGB) or 4 (RGBA), rows top to bottom.</summary>
    public static byte[] Encode(int width, int height, ReadOnlySpan<byte> pixels, int channels)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"image size must be positive, got {width} x {height}");
        if (channels is not (3 or 4)) throw new ArgumentOutOfRangeException(nameof(channels), $"channels must be 3 (RGB) or 4 (RGBA), got {channels}");
        long rowBytes = (long)width * channels;
        if (pixels.Length != rowBytes * height) throw new ArgumentException($"pixels: expected {rowBytes * height} bytes, got {pixels.Length}");

        var output = new MemoryStream();
        output.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8;                                  // bit depth
        ihdr[9] = (byte)(channels == 4 ? 6 : 2);      // colour type: 6 = RGBA, 2 = RGB
        ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;     // deflate, adaptive filtering, no interlace
        WriteChunk(output, "IHDR", ihdr);

        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int y = 0; y < height; y++)
            {
                z.WriteByte(0); // filter type None
                z.Write(pixels.Slice((int)(y * rowBytes), (int)rowBytes));
            }
        }
        WriteChunk(output, "IDAT", compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>Writes the image to <paramref name="path"/> crash-safely: a temporary file in the same folder, then a rename.</summary>
    public static void Write(string path, int width, int height, ReadOnlySpan<byte> pixels, int channels) =>
        WriteFileAtomically(path, Encode(width, height, pixels, channels));

    public static void Write(string path, Canvas canvas) => Write(path, canvas.Width, canvas.Height, canvas.Pixels, Canvas.Channels);

    static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header[4..]);
        output.Write(header);
        output.Write(data);
        var crc32 = new System.IO.Hashing.Crc32();   // over the chunk type and data
        crc32.Append(header[4..]);
        crc32.Append(data);
        uint crc = crc32.GetCurrentHashAsUInt32();
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        output.Write(tail);
    }

    /// <summary>Readers see the old file or the whole new one, never a half-written one.</summary>
    public static void WriteFileAtomically(string path, ReadOnlySpan<byte> bytes) => Files.SafeFile.WriteAllBytes(path, bytes);
}
