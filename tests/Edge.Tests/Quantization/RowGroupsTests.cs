using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edge.Kernels;
using Edge.Quantization;
using TestData = Edge.Tests.Kernels.Data;
using Xunit;

namespace Edge.Tests.Quantization;

/// <summary>
/// The row-group layout of 4-bit matrices (RowGroups): the same bytes as the file's rows, reordered; every way of
/// reading a row back gives the file's bytes and values, whatever the row count (a tail past the last whole group,
/// no whole group at all).
/// </summary>
public unsafe class RowGroupsTests
{
    static readonly QuantType[] FourBit = [QuantType.Q4_0, QuantType.Q4_1];
    static readonly (int Rows, int Cols)[] Shapes = [(1, 32), (15, 64), (16, 32), (17, 96), (40, 64), (203, 128)];

    static byte[] Bytes(QuantType type, int rows, int cols, ulong seed)
    {
        var rng = new Rng(seed);
        return Quantizer.Quantize(TestData.Gaussian(ref rng, rows * cols, 0.3f), cols, rows, transposed: true, type, out _);
    }

    [Fact]
    public void RowsReadBack_AsTheFileStoresThem()
    {
        foreach (var type in FourBit)
            foreach (var (rows, cols) in Shapes)
            {
                var bytes = Bytes(type, rows, cols, (ulong)(rows * cols));
                var grouped = QuantizedMatrix.FromBytes(type, rows, cols, bytes, grouped: true);
                var asRows = QuantizedMatrix.FromBytes(type, rows, cols, bytes, grouped: false);
                Assert.True(grouped.Grouped);
                Assert.False(asRows.Grouped);
                Assert.Equal(asRows.ByteLength, grouped.ByteLength);
                var all = new byte[bytes.Length];
                unsafe
                {
                    fixed (byte* p = all) grouped.CopyRows(0, rows, p);
                }
                Assert.Equal(bytes, all);
                var a = new float[cols];
                var b = new float[cols];
                for (int r = 0; r < rows; r++)
                {
                    Assert.Equal(asRows.RowData(r).ToArray(), grouped.RowData(r).ToArray());
                    asRows.DequantizeRow(r, a);
                    grouped.DequantizeRow(r, b);
                    Assert.Equal(a, b);
                }
                Assert.Equal(asRows.Dequantize(), grouped.Dequantize());
                // Regrouped where a whole group exists: the held bytes differ from the file's.
                if (rows >= RowGroups.Rows) Assert.NotEqual(bytes, new ReadOnlySpan<byte>(grouped.Data, bytes.Length).ToArray());
            }
    }

    [Fact]
    public void Q8_0_StaysInRows()
    {
        var bytes = Bytes(QuantType.Q8_0, 40, 64, 3);
        Assert.False(QuantizedMatrix.FromBytes(QuantType.Q8_0, 40, 64, bytes, grouped: true).Grouped);
        Assert.False(QuantizedMatrix.GroupsOnThisMachine(QuantType.Q8_0));
        Assert.Equal(Avx2.IsSupported && Fma.IsSupported, QuantizedMatrix.GroupsOnThisMachine(QuantType.Q4_0));
    }

    /// <summary>A corrupted scale (or Q4_1 minimum) is found at the same block index in either layout, in a group and in the tail.</summary>
    [Fact]
    public void CorruptBlocks_AreFound_InEitherLayout()
    {
        const int rows = 40, cols = 96, blocks = cols / 32;
        foreach (var type in FourBit)
            foreach (var (row, block, at) in new[] { (18, 1, 0), (39, 2, 0), (0, 0, 2) })
            {
                if (at == 2 && type != QuantType.Q4_1) continue;
                var bytes = Bytes(type, rows, cols, 5);
                long index = (long)row * blocks + block;
                int offset = (int)(index * type.BlockBytes()) + at;
                bytes[offset] = 0x00;
                bytes[offset + 1] = 0x7E; // fp16 NaN
                foreach (bool grouped in new[] { true, false })
                    Assert.Equal(index, QuantizedMatrix.FromBytes(type, rows, cols, bytes, grouped).FindCorruptBlock());
            }
    }

    /// <summary>The in-register fp16 conversion of the group kernels gives the table's float for every finite fp16 value.</summary>
    [Fact]
    public unsafe void Fp16Scales_ConvertInRegisters_AsTheTableDoes()
    {
        if (!Avx2.IsSupported) return; // no group kernels on this CPU
        var all = new ushort[65536];
        for (int i = 0; i < all.Length; i++) all[i] = (ushort)i;
        var got = new float[16];
        fixed (ushort* p = all)
        fixed (float* g = got)
            for (int i = 0; i < all.Length; i += 16)
            {
                QuantizedLinear.Half8((byte*)(p + i)).Store(g);
                QuantizedLinear.Half8((byte*)(p + i + 8)).Store(g + 8);
                for (int j = 0; j < 16; j++)
                {
                    float want = QuantizedMatrix.HalfTable[i + j];
                    if (!float.IsFinite(want)) continue; // a load rejects such scales (FindCorruptBlock)
                    Assert.Equal(BitConverter.SingleToInt32Bits(want), BitConverter.SingleToInt32Bits(got[j]));
                }
                if (!Avx512F.IsSupported) continue;
                QuantizedLinear.Half16x16((byte*)(p + i)).Store(g);
                for (int j = 0; j < 16; j++)
                    if (float.IsFinite(QuantizedMatrix.HalfTable[i + j]))
                        Assert.Equal(BitConverter.SingleToInt32Bits(QuantizedMatrix.HalfTable[i + j]), BitConverter.SingleToInt32Bits(got[j]));
            }
    }
}
