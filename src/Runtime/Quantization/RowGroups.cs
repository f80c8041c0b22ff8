namespace Edge.Quantization;

/// <summary>
/// The row-group layout of a 4-bit matrix (<see cref="QuantizedMatrix.Grouped"/>): the file's bytes reordered so that
/// one vector register holds the same four packed bytes of 16 rows (8 per 256-bit half), and a row's dot product
/// ends in its own 32-bit lane, with no horizontal sums (llama.cpp repacks Q4_0 at load for the same reason).
/// <code>
/// group g (rows 16g .. 16g + 15) takes the bytes rows 16g .. 16g + 15 take in the file; within it, block k:
///   at (g * 16 * blocks + k * 16) * blockBytes:
///     16 scales (fp16, row j at 2j)  [Q4_1: then 16 minimums]
///     4 words of 64 bytes: word w, bytes 4j .. 4j + 3 = row j's packed bytes 4w .. 4w + 3
///       (their low nibbles are the row's weights 4w .. 4w + 3, the high nibbles weights 16 + 4w .. 16 + 4w + 3)
/// rows past the last whole group: as rows, where the file has them
/// </code>
/// The same number of bytes as the file's rows, so every byte count (the bandwidth bound, the file) is unchanged;
/// a group of 16 rows is exactly a panel of the integer tiles (<see cref="Kernels.QuantizedTiles"/>), whose packing
/// is then an unpacking of nibbles.
/// </summary>
internal static unsafe class RowGroups
{
    /// <summary>Rows in a group: 16 lanes of 32 bits at 512 bits, two 8-lane halves at 256.</summary>
    public const int Rows = 16;

    /// <summary>Bytes of a group's block header: 16 fp16 scales, and 16 minimums for Q4_1.</summary>
    public static int HeaderBytes(QuantType type) => type == QuantType.Q4_1 ? 64 : 32;

    /// <summary>Where a block's packed bytes start within the file's block (after its scale, and minimum for Q4_1).</summary>
    static int PackedAt(QuantType type) => type == QuantType.Q4_1 ? 4 : 2;

    /// <summary>Group g's block k.</summary>
    public static byte* Block(QuantType type, byte* data, int blocks, int g, int k) =>
        data + ((long)g * Rows * blocks + (long)k * Rows) * type.BlockBytes();

    /// <summary>Bytes from a group's scales to its minimums (Q4_1): the minimums follow the 16 scales.</summary>
    public const int MinimumsAt = 2 * Rows;

    /// <summary>Row <paramref name="row"/>'s block <paramref name="k"/> scale (fp16), for a row in a whole group; Q4_1's minimum is <see cref="MinimumsAt"/> bytes on.</summary>
    public static byte* Scale(QuantType type, byte* grouped, int blocks, int row, int k) =>
        Block(type, grouped, blocks, row / Rows, k) + 2 * (row % Rows);

    /// <summary>Rows as a file stores them (<paramref name="rows"/> x blocks) to the grouped layout.</summary>
    public static void Group(QuantType type, byte* rowsAsStored, byte* grouped, int rows, int blocks)
    {
        int bytes = type.BlockBytes(), packedAt = PackedAt(type), header = HeaderBytes(type);
        long rowBytes = (long)blocks * bytes;
        int groups = rows / Rows;
        for (int g = 0; g < groups; g++)
            for (int k = 0; k < blocks; k++)
            {
                byte* o = Block(type, grouped, blocks, g, k);
                for (int j = 0; j < Rows; j++)
                {
                    byte* b = rowsAsStored + (g * Rows + j) * rowBytes + (long)k * bytes;
                    *(ushort*)(o + 2 * j) = *(ushort*)b;
                    if (type == QuantType.Q4_1) *(ushort*)(o + MinimumsAt + 2 * j) = *(ushort*)(b + 2);
                    for (int w = 0; w < 4; w++) *(uint*)(o + header + 64 * w + 4 * j) = *(uint*)(b + packedAt + 4 * w);
                }
            }
        long done = groups * Rows * rowBytes;
        Buffer.MemoryCopy(rowsAsStored + done, grouped + done, rows * rowBytes - done, rows * rowBytes - done);
    }

    /// <summary>Row <paramref name="row"/>'s block <paramref name="k"/> (in a whole group) as a file stores it, into <paramref name="destination"/>.</summary>
    public static void CopyBlock(QuantType type, byte* grouped, int blocks, int row, int k, byte* destination)
    {
        int j = row % Rows, header = HeaderBytes(type), packedAt = PackedAt(type);
        byte* o = Block(type, grouped, blocks, row / Rows, k), scale = Scale(type, grouped, blocks, row, k);
        *(ushort*)destination = *(ushort*)scale;
        if (type == QuantType.Q4_1) *(ushort*)(destination + 2) = *(ushort*)(scale + MinimumsAt);
        for (int w = 0; w < 4; w++) *(uint*)(destination + packedAt + 4 * w) = *(uint*)(o + header + 64 * w + 4 * j);
    }

    /// <summary>Rows [<paramref name="row0"/>, + <paramref name="count"/>) of a grouped matrix as a file stores them (count x row bytes).</summary>
    public static void CopyRows(QuantType type, byte* grouped, int rows, int blocks, int row0, int count, byte* destination)
    {
        int bytes = type.BlockBytes();
        long rowBytes = (long)blocks * bytes;
        int inGroups = rows / Rows * Rows;
        for (int r = row0; r < row0 + count; r++, destination += rowBytes)
        {
            if (r >= inGroups)
            {
                Buffer.MemoryCopy(grouped + r * rowBytes, destination, rowBytes, rowBytes);
                continue;
            }
            for (int k = 0; k < blocks; k++) CopyBlock(type, grouped, blocks, r, k, destination + (long)k * bytes);
        }
    }
}
