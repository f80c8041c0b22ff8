using System.Runtime.CompilerServices;

namespace Edge.Quantization;

/// <summary>
/// A weight matrix in a quantised format, stored as <see cref="Rows"/> rows (one per output of the product) of
/// <see cref="Cols"/> weights (the inputs, the dimension the dot products run along) in blocks of 32. For a
/// GPT-2 Conv1D weight W [in, out] the rows are W's columns (W transposed, as GGML stores it); for a head tied
/// to the embedding, wte [V, C], they are wte's rows. The bytes are not owned: they live in a memory-mapped file
/// or an array that the owner keeps alive; a 4-bit matrix held in row groups (<see cref="Grouped"/>) owns a
/// regrouped copy of them.
/// </summary>
public sealed unsafe class QuantizedMatrix
{
    readonly byte* _data;
    readonly byte[]? _owned; // the pinned array the bytes live in, when this matrix owns them

    /// <summary>
    /// A matrix over <paramref name="data"/> (rows x row bytes, as a file stores them; not copied, so the owner keeps
    /// it alive), or over a regrouped copy when it is to be held in row groups (<paramref name="grouped"/>; by default
    /// <see cref="GroupsOnThisMachine"/>).
    /// </summary>
    internal QuantizedMatrix(QuantType type, int rows, int cols, byte* data, bool? grouped = null)
    {
        if (rows <= 0 || cols <= 0 || cols % QuantTypes.BlockSize != 0)
            throw new ArgumentOutOfRangeException(nameof(cols), $"a quantised matrix needs positive rows and a multiple of {QuantTypes.BlockSize} columns, got [{rows}, {cols}]");
        Type = type;
        Rows = rows;
        Cols = cols;
        // A matrix past what one array holds (never a real model's: 3.8 G weights in 4 bits) stays in rows.
        Grouped = (grouped ?? GroupsOnThisMachine(type)) && type != QuantType.Q8_0 && ByteLength <= Array.MaxLength;
        if (!Grouped)
        {
            _data = data;
            return;
        }
        _owned = GC.AllocateUninitializedArray<byte>((int)ByteLength, pinned: true);
        _data = (byte*)Unsafe.AsPointer(ref _owned[0]);
        RowGroups.Group(type, data, _data, rows, BlocksPerRow);
    }

    /// <summary>
    /// Whether a matrix of <paramref name="type"/> is held in row groups on this machine: the 4-bit types where AVX2
    /// and FMA run the grouped kernels (<see cref="RowGroups"/>). Q8_0 stays in rows, and so does everything on ARM64.
    /// </summary>
    public static bool GroupsOnThisMachine(QuantType type) =>
        type != QuantType.Q8_0 && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    /// <summary>
    /// True when the bytes are held in row groups of <see cref="RowGroups.Rows"/> (see <see cref="RowGroups"/>): the
    /// same bytes as the file's rows, reordered so that one vector register holds the same block of 16 (or 8) rows.
    /// Rows past the last whole group stay as rows, where rows-as-stored would have them.
    /// </summary>
    public bool Grouped { get; }

    /// <summary>Whole groups of <see cref="RowGroups.Rows"/> rows (0 when not <see cref="Grouped"/>).</summary>
    internal int Groups => Grouped ? Rows / RowGroups.Rows : 0;

    /// <summary>
    /// A matrix whose fp32 form takes at most this many bytes (128 Ki weights: every product of a width-128 model such
    /// as the baby GPT; none of GPT-2's) keeps that form beside its blocks for the dequantised path's products of many
    /// rows (where the integer tiles do not serve: ARM64, 128 bits), made on the first such product: such a matrix sits
    /// in cache either way, so its quantised form saves no memory traffic there, and dequantising it again on every
    /// call cost those products about half again the fp32 time (the baby GPT's 64-token prompt pass: 1.5 ms against
    /// 1.0). Decoding and the integer tiles read the blocks (the tiles beat this form too: `edge bench prefill baby-gpt
    /// --type q8|q4` took 0.85 and 0.74 ms on the tiles against 0.97 and 1.0 on this form, measured with a build whose
    /// routing preferred the tiles). The file keeps only the blocks.
    /// </summary>
    public const int SmallFp32Bytes = 512 * 1024;

    float[]? _fp32;

    /// <summary>
    /// deq(W) transposed, [Cols, Rows] (in, out), for a matrix of at most <see cref="SmallFp32Bytes"/> as fp32 (made on
    /// the first call, once: a racing second maker's copy is dropped); otherwise empty.
    /// </summary>
    internal ReadOnlySpan<float> Fp32Transposed()
    {
        if (_fp32 is { } made || (long)Rows * Cols * sizeof(float) > SmallFp32Bytes) return _fp32;
        // [Cols][Rows]: deq(W) transposed, the layout of a Conv1D weight, which the fp32 GEMM multiplies as it is.
        made = GC.AllocateUninitializedArray<float>(Rows * Cols, pinned: true);
        var rows = Grouped ? GC.AllocateUninitializedArray<byte>((int)ByteLength, pinned: true) : null;
        fixed (float* half = HalfTable, dst = made)
        fixed (byte* asRows = rows)
        {
            if (Grouped) CopyRows(0, Rows, asRows);
            Kernels.QuantizedLinear.DequantizeTransposed(Type, Grouped ? asRows : _data, RowBytes, Rows, Cols, half, dst, Rows,
                System.Runtime.Intrinsics.X86.Avx2.IsSupported);
        }
        return Interlocked.CompareExchange(ref _fp32, made, null) ?? made;
    }

    /// <summary>Quantises a product's weight (see <see cref="Quantizer.Quantize"/>) into a matrix that owns its bytes.</summary>
    public static QuantizedMatrix Create(ReadOnlySpan<float> w, int inDim, int outDim, bool transposed, QuantType type) =>
        Create(w, inDim, outDim, transposed, type, null);

    /// <summary><see cref="Create(ReadOnlySpan{float}, int, int, bool, QuantType)"/>, held in row groups or not as asked (tests).</summary>
    internal static QuantizedMatrix Create(ReadOnlySpan<float> w, int inDim, int outDim, bool transposed, QuantType type, bool? grouped) =>
        FromBytes(type, outDim, inDim, Quantizer.Quantize(w, inDim, outDim, transposed, type, out _), grouped);

    /// <summary>A matrix over a copy of <paramref name="bytes"/> (rows x row bytes, as a file stores them).</summary>
    public static QuantizedMatrix FromBytes(QuantType type, int rows, int cols, ReadOnlySpan<byte> bytes) => FromBytes(type, rows, cols, bytes, null);

    /// <summary><see cref="FromBytes(QuantType, int, int, ReadOnlySpan{byte})"/>, held in row groups or not as asked (tests: both layouts on one machine).</summary>
    internal static QuantizedMatrix FromBytes(QuantType type, int rows, int cols, ReadOnlySpan<byte> bytes, bool? grouped)
    {
        if (bytes.Length != BytesFor(type, rows, cols))
            throw new ArgumentException($"[{rows}, {cols}] in {type.Name()} needs {BytesFor(type, rows, cols)} bytes, got {bytes.Length}", nameof(bytes));
        if ((grouped ?? GroupsOnThisMachine(type)) && type != QuantType.Q8_0)
            fixed (byte* p = bytes)
                return new QuantizedMatrix(type, rows, cols, p, grouped: true); // regroups into its own copy
        var pinned = GC.AllocateUninitializedArray<byte>(bytes.Length, pinned: true);
        bytes.CopyTo(pinned);
        return new QuantizedMatrix(type, rows, cols, (byte*)Unsafe.AsPointer(ref pinned[0]), pinned);
    }

    QuantizedMatrix(QuantType type, int rows, int cols, byte* data, byte[] owned) : this(type, rows, cols, data, grouped: false) => _owned = owned;

    public QuantType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int BlocksPerRow => Cols / QuantTypes.BlockSize;
    public int RowBytes => BlocksPerRow * Type.BlockBytes();
    public long ByteLength => (long)Rows * RowBytes;
    /// <summary>The bytes: rows as a file stores them, or row groups when <see cref="Grouped"/>.</summary>
    internal byte* Data => _data;

    /// <summary>Row <paramref name="row"/>'s blocks as a file stores them (a view when held as rows, else a copy).</summary>
    public ReadOnlySpan<byte> RowData(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row));
        if (!Grouped) return new ReadOnlySpan<byte>(_data + (long)row * RowBytes, RowBytes);
        var copy = new byte[RowBytes];
        fixed (byte* p = copy) CopyRows(row, 1, p);
        return copy;
    }

    /// <summary>Rows [<paramref name="row0"/>, + <paramref name="count"/>) as a file stores them, into <paramref name="destination"/> (count x row bytes).</summary>
    internal void CopyRows(int row0, int count, byte* destination)
    {
        if (Grouped) RowGroups.CopyRows(Type, _data, Rows, BlocksPerRow, row0, count, destination);
        else Buffer.MemoryCopy(_data + (long)row0 * RowBytes, destination, (long)count * RowBytes, (long)count * RowBytes);
    }

    /// <summary>The bytes a matrix of this type and shape takes.</summary>
    public static long BytesFor(QuantType type, int rows, int cols) => (long)rows * (cols / QuantTypes.BlockSize) * type.BlockBytes();

    /// <summary>Row <paramref name="row"/> as floats [Cols].</summary>
    public void DequantizeRow(int row, Span<float> destination)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row));
        if (destination.Length < Cols) throw new ArgumentException($"destination holds {destination.Length} floats, a row has {Cols}", nameof(destination));
        byte* p = _data + (long)row * RowBytes;
        if (Grouped && row < Groups * RowGroups.Rows)
        {
            // One row out of its group, block by block, through a block-sized buffer.
            int blockBytes = Type.BlockBytes();
            byte* block = stackalloc byte[blockBytes];
            for (int b = 0; b < BlocksPerRow; b++)
            {
                RowGroups.CopyBlock(Type, _data, BlocksPerRow, row, b, block);
                DequantizeBlock(Type, block, destination.Slice(b * QuantTypes.BlockSize, QuantTypes.BlockSize));
            }
            return;
        }
        int bytes = Type.BlockBytes();
        for (int b = 0; b < BlocksPerRow; b++, p += bytes)
            DequantizeBlock(Type, p, destination.Slice(b * QuantTypes.BlockSize, QuantTypes.BlockSize));
    }

    internal static void DequantizeBlock(QuantType type, byte* p, Span<float> w)
    {
        float d = Half16(p);
        switch (type)
        {
            case QuantType.Q8_0:
                for (int i = 0; i < 32; i++) w[i] = d * (sbyte)p[2 + i];
                break;
            case QuantType.Q4_0:
                for (int i = 0; i < 16; i++)
                {
                    w[i] = d * ((p[2 + i] & 0x0F) - 8);
                    w[i + 16] = d * ((p[2 + i] >> 4) - 8);
                }
                break;
            default:
                float min = Half16(p + 2);
                for (int i = 0; i < 16; i++)
                {
                    w[i] = d * (p[4 + i] & 0x0F) + min;
                    w[i + 16] = d * (p[4 + i] >> 4) + min;
                }
                break;
        }
    }

    /// <summary>The whole matrix as floats [Rows, Cols] (tests and the reference path).</summary>
    public float[] Dequantize()
    {
        var w = new float[(long)Rows * Cols];
        for (int r = 0; r < Rows; r++) DequantizeRow(r, w.AsSpan(r * Cols, Cols));
        return w;
    }

    /// <summary>
    /// Finds the first block whose scale (or minimum) is not a finite number: a corrupted block. Returns the
    /// flat block index, or -1. Every block's fp16 header is read, which is what a load can check cheaply.
    /// </summary>
    public long FindCorruptBlock()
    {
        int bytes = Type.BlockBytes(), inGroups = Groups * RowGroups.Rows;
        for (int r = 0; r < Rows; r++)
            for (int k = 0; k < BlocksPerRow; k++)
            {
                // The scale and (Q4_1) minimum where they are held: in the row's block, or among its group's headers.
                byte* scale = r < inGroups ? RowGroups.Scale(Type, _data, BlocksPerRow, r, k) : _data + ((long)r * BlocksPerRow + k) * bytes;
                byte* min = r < inGroups ? scale + RowGroups.MinimumsAt : scale + 2;
                if (!float.IsFinite(Half16(scale)) || (Type == QuantType.Q4_1 && !float.IsFinite(Half16(min))))
                    return (long)r * BlocksPerRow + k;
            }
        return -1;
    }

    /// <summary>An fp16 value (a block's scale or minimum) as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Half16(byte* p) =>
        Unsafe.Add(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(HalfTable), Unsafe.ReadUnaligned<ushort>(p));

    // Every fp16 bit pattern as a float (256 KiB, stays in L2): the kernels read one or two scales per block of
    // 32 weights, and the runtime's software Half conversion would cost as much as the block's dot product.
    internal static readonly float[] HalfTable = BuildHalfTable();

    static float[] BuildHalfTable()
    {
        var table = new float[65536];
        for (int i = 0; i < table.Length; i++) table[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return table;
    }
}
