using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edge.Quantization;

namespace Edge.Kernels;

// The 4-bit products of few rows (decoding; 2-4 rows) on a matrix held in row groups (RowGroups): one activation row
// against 16 weight rows at a time, each row's sum in its own 32-bit lane. Per block of a group, the eight words of
// activation codes (4 codes each) are broadcast to every lane and multiplied (vpmaddubsw) with the matching packed
// nibbles of the 16 rows (low nibbles: words 0-3, high: words 4-7), the eight int16 results added (at most
// 8 x 2 x 15 x 127 = 30480 a lane), vpmaddwd sums each lane's pair to int32: that row's integer dot product. Then
// one conversion and one multiply-add by the 16 rows' scales (converted from fp16 in registers) times the block's
// activation scale. Against a row-by-row kernel (DotRows256, which now takes only the rows past a matrix's last
// group) this takes no horizontal sums and no per-row scale lookups or broadcasts: counted from the code, about 96
// instructions a block for 16 rows at 256 bits (6 a block and row) and 53 at 512 (3.3), against 9 to 10 a block and
// row row by row even with two blocks in a register (how 4-bit blocks were decoded before row groups). A part reads
// its groups as one sequential stream, which the hardware prefetchers follow: software prefetches 1 KiB ahead (as
// DotRows256 has for its four streams) measured no different (GPT-2 q4_0 token, bench-ab 5 rounds each way: 3.11
// against 2.81 ms, then 2.80 against 2.95), so there are none.
//   Q4_0: sum(nibble * q_x) - 8 * sum(q_x)  (the code sum taken off each lane)
//   Q4_1: d_w d_x sum(nibble * q_x) + min_w * sum(x)
public static unsafe partial class QuantizedLinear
{
    /// <summary>
    /// y[16 i + j] = b[16 i + j] + row (16 i + j) . x for <paramref name="groups"/> consecutive row groups at
    /// <paramref name="g"/> and one activation row (codes <paramref name="q"/>, scales <paramref name="d"/>, sums of x
    /// then of codes at <paramref name="sum"/>, as <see cref="QuantizeActivations"/> leaves them), 256 or 512 bits.
    /// </summary>
    internal static void GroupRows(QuantType type, bool wide, byte* g, int groups, int blocks, sbyte* q, float* d, float* sum, float* b, float* y)
    {
        if (type == QuantType.Q4_0)
        {
            if (wide) GroupRows512<Q4>(g, groups, blocks, q, d, sum, b, y);
            else GroupRows256<Q4>(g, groups, blocks, q, d, sum, b, y);
        }
        else if (wide) GroupRows512<Q4WithMin>(g, groups, blocks, q, d, sum, b, y);
        else GroupRows256<Q4WithMin>(g, groups, blocks, q, d, sum, b, y);
    }

    /// <summary>Whether the 512-bit group kernel runs at <paramref name="bits"/>: AVX-512 BW (every lane op it needs) at 512 bits.</summary>
    internal static bool GroupsWide(int bits) => bits >= 512 && Avx512BW.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void GroupRows256<T>(byte* g, int groups, int blocks, sbyte* q, float* d, float* sum, float* b, float* y)
        where T : struct, IQuantType
    {
        bool min = T.Type == QuantType.Q4_1;
        int header = RowGroups.HeaderBytes(T.Type), blockBytes = RowGroups.Rows * T.Type.BlockBytes();
        var low = Vector256.Create((byte)0x0F);
        var ones = Vector256.Create((short)1);
        for (int i = 0; i < groups; i++, y += RowGroups.Rows)
        {
            Vector256<float> acc0 = default, acc1 = default; // rows 0-7, rows 8-15
            sbyte* qk = q;
            for (int k = 0; k < blocks; k++, g += blockBytes, qk += QuantTypes.BlockSize)
            {
                // One stream per thread, read in order: the prefetch runs a few blocks ahead of the hardware's.
                byte* words = g + header;
                var ints0 = Avx2.MultiplyAddAdjacent(HalfGroupSum(words, qk, low), ones);
                var ints1 = Avx2.MultiplyAddAdjacent(HalfGroupSum(words + 32, qk, low), ones);
                if (!min)
                {
                    var codeSum = Vector256.Create(8 * *(int*)(sum + blocks + k));
                    ints0 = Avx2.Subtract(ints0, codeSum);
                    ints1 = Avx2.Subtract(ints1, codeSum);
                }
                var dx = Vector256.Create(d[k]);
                acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ints0), Avx.Multiply(Half8(g), dx), acc0);
                acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ints1), Avx.Multiply(Half8(g + 16), dx), acc1);
                if (min)
                {
                    var sx = Vector256.Create(sum[k]);
                    acc0 = Fma.MultiplyAdd(Half8(g + RowGroups.MinimumsAt), sx, acc0);
                    acc1 = Fma.MultiplyAdd(Half8(g + RowGroups.MinimumsAt + 16), sx, acc1);
                }
            }
            if (b is not null)
            {
                acc0 += Vector256.Load(b);
                acc1 += Vector256.Load(b + 8);
                b += RowGroups.Rows;
            }
            acc0.Store(y);
            acc1.Store(y + 8);
        }
    }

    /// <summary>
    /// One 8-row half of a group's block (its words' 32-byte halves at <paramref name="words"/>, 64 bytes apart)
    /// against the block's activation codes <paramref name="q"/>: per lane the int16 pair sums of that row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<short> HalfGroupSum(byte* words, sbyte* q, Vector256<byte> low)
    {
        var v0 = Avx.LoadVector256(words);
        var v1 = Avx.LoadVector256(words + 64);
        var v2 = Avx.LoadVector256(words + 128);
        var v3 = Avx.LoadVector256(words + 192);
        var s = Avx2.MultiplyAddAdjacent(Avx2.And(v0, low), Vector256.Create(*(int*)q).AsSByte());
        s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(Avx2.And(v1, low), Vector256.Create(*(int*)(q + 4)).AsSByte()));
        s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(Avx2.And(v2, low), Vector256.Create(*(int*)(q + 8)).AsSByte()));
        s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(Avx2.And(v3, low), Vector256.Create(*(int*)(q + 12)).AsSByte()));
        s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(v0.AsUInt16(), 4).AsByte(), low), Vector256.Create(*(int*)(q + 16)).AsSByte()));
        s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(v1.AsUInt16(), 4).AsByte(), low), Vector256.Create(*(int*)(q + 20)).AsSByte()));
        s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(v2.AsUInt16(), 4).AsByte(), low), Vector256.Create(*(int*)(q + 24)).AsSByte()));
        return Avx2.Add(s, Avx2.MultiplyAddAdjacent(Avx2.And(Avx2.ShiftRightLogical(v3.AsUInt16(), 4).AsByte(), low), Vector256.Create(*(int*)(q + 28)).AsSByte()));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void GroupRows512<T>(byte* g, int groups, int blocks, sbyte* q, float* d, float* sum, float* b, float* y)
        where T : struct, IQuantType
    {
        bool min = T.Type == QuantType.Q4_1;
        int header = RowGroups.HeaderBytes(T.Type), blockBytes = RowGroups.Rows * T.Type.BlockBytes();
        var low = Vector512.Create((byte)0x0F);
        var ones = Vector512.Create((short)1);
        for (int i = 0; i < groups; i++, y += RowGroups.Rows)
        {
            var acc = Vector512<float>.Zero;
            sbyte* qk = q;
            for (int k = 0; k < blocks; k++, g += blockBytes, qk += QuantTypes.BlockSize)
            {
                // HalfGroupSum's operations on a whole group, spelled out: as a helper (AggressiveInlining) the JIT
                // left it a call returning its vector through memory, and GPT-2's q4 token went from 2.57 to 3.75 ms
                // (bench-ab, 4 rounds).
                byte* words = g + header;
                var v0 = Avx512F.LoadVector512(words);
                var v1 = Avx512F.LoadVector512(words + 64);
                var v2 = Avx512F.LoadVector512(words + 128);
                var v3 = Avx512F.LoadVector512(words + 192);
                var s = Avx512BW.MultiplyAddAdjacent(Avx512F.And(v0, low), Vector512.Create(*(int*)qk).AsSByte());
                s = Avx512BW.Add(s, Avx512BW.MultiplyAddAdjacent(Avx512F.And(v1, low), Vector512.Create(*(int*)(qk + 4)).AsSByte()));
                s = Avx512BW.Add(s, Avx512BW.MultiplyAddAdjacent(Avx512F.And(v2, low), Vector512.Create(*(int*)(qk + 8)).AsSByte()));
                s = Avx512BW.Add(s, Avx512BW.MultiplyAddAdjacent(Avx512F.And(v3, low), Vector512.Create(*(int*)(qk + 12)).AsSByte()));
                s = Avx512BW.Add(s, Avx512BW.MultiplyAddAdjacent(Avx512F.And(Avx512BW.ShiftRightLogical(v0.AsUInt16(), 4).AsByte(), low), Vector512.Create(*(int*)(qk + 16)).AsSByte()));
                s = Avx512BW.Add(s, Avx512BW.MultiplyAddAdjacent(Avx512F.And(Avx512BW.ShiftRightLogical(v1.AsUInt16(), 4).AsByte(), low), Vector512.Create(*(int*)(qk + 20)).AsSByte()));
                s = Avx512BW.Add(s, Avx512BW.MultiplyAddAdjacent(Avx512F.And(Avx512BW.ShiftRightLogical(v2.AsUInt16(), 4).AsByte(), low), Vector512.Create(*(int*)(qk + 24)).AsSByte()));
                s = Avx512BW.Add(s, Avx512BW.MultiplyAddAdjacent(Avx512F.And(Avx512BW.ShiftRightLogical(v3.AsUInt16(), 4).AsByte(), low), Vector512.Create(*(int*)(qk + 28)).AsSByte()));
                var ints = Avx512BW.MultiplyAddAdjacent(s, ones);
                if (!min) ints = Avx512F.Subtract(ints, Vector512.Create(8 * *(int*)(sum + blocks + k)));
                acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(ints), Avx512F.Multiply(Half16x16(g), Vector512.Create(d[k])), acc);
                if (min) acc = Avx512F.FusedMultiplyAdd(Half16x16(g + RowGroups.MinimumsAt), Vector512.Create(sum[k]), acc);
            }
            if (b is not null)
            {
                acc += Vector512.Load(b);
                b += RowGroups.Rows;
            }
            acc.Store(y);
        }
    }

    // fp16 to fp32 in registers, exact for every finite value (a load rejects non-finite scales: FindCorruptBlock):
    // the magnitude's 15 bits moved to a float's exponent and mantissa places (<< 13) read as a float 2^-112 times
    // the value (normal halves are then normal floats, subnormal halves exactly representable), times 2^112; then
    // the sign. The scales of 16 rows sit side by side here, so this costs fewer instructions than 16 table reads.
    const int HalfMagnitude = 0x0FFFE000; // (0x7FFF << 13): a half's exponent and mantissa in a float's places
    const float HalfBias = 5.192297e33f;  // 2^112 = 2^(127 - 15)

    /// <summary>Eight fp16 values at <paramref name="p"/> as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Half8(byte* p)
    {
        var h = Avx2.ConvertToVector256Int32((ushort*)p);
        var magnitude = Avx2.And(Avx2.ShiftLeftLogical(h, 13), Vector256.Create(HalfMagnitude)).AsSingle() * Vector256.Create(HalfBias);
        return Avx2.Or(magnitude.AsInt32(), Avx2.And(Avx2.ShiftLeftLogical(h, 16), Vector256.Create(int.MinValue))).AsSingle();
    }

    /// <summary>Sixteen fp16 values at <paramref name="p"/> as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Half16x16(byte* p)
    {
        var h = Avx512F.ConvertToVector512Int32(Avx.LoadVector256((ushort*)p));
        var magnitude = Avx512F.And(Avx512F.ShiftLeftLogical(h, 13), Vector512.Create(HalfMagnitude)).AsSingle() * Vector512.Create(HalfBias);
        return Avx512F.Or(magnitude.AsInt32(), Avx512F.And(Avx512F.ShiftLeftLogical(h, 16), Vector512.Create(int.MinValue))).AsSingle();
    }
}
