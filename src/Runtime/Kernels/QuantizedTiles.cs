using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Edge.Quantization;

namespace Edge.Kernels;

// y [n, out] = x [n, in] @ deq(W)^T + b for a quantised W and many rows (a prompt pass, evaluation), in integers and
// register tiles: the products of QuantizedLinear (activations quantised per block of 32, each block's dot product an
// integer sum scaled once) computed the way a GEMM is, where the integer path computes one row against one weight row.
//
// 4-bit types (Q4_0, Q4_1), activations to int8 codes as for decoding (QuantizedLinear.QuantizeActivations):
// - A panel of 16 weight rows (output features) is unpacked once per call to one unsigned 4-bit code a byte, laid
//   out for vpmaddubsw: [block][quad g of 4 inputs][16 features][4 codes] (512 bytes a block), beside the 16 scales
//   (and Q4_1's minimums) of each block as floats.
// - The micro-kernel (Tile6x16) takes 6 activation rows against the panel: per quad, two 32-byte loads of the panel,
//   and per row a broadcast of the row's 4 codes and two vpmaddubsw (unsigned code x signed code, adjacent pairs
//   summed to int16) added into int16 accumulators, 12 of them. Over a block's 8 quads a lane sums 16 products of at
//   most 15 x 127: at most 30480, inside int16 (and vpmaddubsw's pairs, at most 3810, never saturate). At the block's
//   end vpmaddwd against ones gives each feature's 32-product sum in int32, and the block is scaled once:
//     Q4_0: acc += d_w * d_x * (sum(code * q_x) - 8 * sum(q_x))     (code = q_w + 8, exact in int32)
//     Q4_1: acc += d_w * d_x * sum(code * q_x) + min_w * sum(x)
//   the same sums as QuantizedLinear's integer path, added in another order (per block into a float accumulator).
//
// Q8_0 (weights -127..127 do not fit vpmaddubsw beside 8-bit activations: its pairs would saturate), as int16: the
// activations to 16-bit codes per block (scale = max|x| / 32767: finer than decoding's 8 bits, near the fp32
// product), the weights sign-extended in the panel, [block][pair g of 2 inputs][16 features][2 int16] (1 KiB a
// block), and a 6 x 16 micro-kernel (Tile6x16Wide) summing adjacent pairs with vpmaddwd into int32 (per block at most
// 32 x 32767 x 127, inside int32), scaled once per block: acc += d_w * d_x * sum(q_w * q_x).
//
// Why: a 256-bit FMA does 8 products; a 256-bit vpmaddubsw does 32 and a vpmaddwd 16, each with one add beside it,
// so both run ahead of dequantising to fp32 and multiplying there. Without VNNI (which .NET
// 10 does not expose for AVX-512) these are the densest integer products x86 offers. QuantizedManyRowsBenchmarks
// (tests/Edge.Benchmarks) times a 64-row product through a 768 x 768 matrix on one thread on each path beside the
// fp32 GEMM; the GPT-2 64-token prompt pass (`edge bench prefill gpt2 --vocab 50257 --type q4|q8`, 2 threads, AVX-512
// EPYC) went from 80 to 36 ms (q4_0) and from 81 to 52 ms (q8_0) against fp32's 80. There is only a 256-bit form:
// on that machine (whose 512-bit units are two 256-bit halves) a 512-bit micro-kernel ran at the same speed in a
// stand-alone loop (an ad-hoc measurement, not kept in the repo).
//
// Parts split the output features at multiples of 16, so every element's sum is the same for any thread count. The
// packing and micro-kernels are compiled optimised from their first call (AggressiveOptimization): with tiered
// compilation a short run (`edge eval` on the baby GPT: 2.2 s) spent its first passes in their unoptimised loops,
// and a q4 copy evaluated 7% slower than fp32 (2.43 and 2.46 s against 2.29 and 2.26); with it, even (2.25 and
// 2.19 s against 2.26 and 2.19).
internal static unsafe class QuantizedTiles
{
    /// <summary>Output features per panel (two 8-lane vectors).</summary>
    const int Cols = 16;
    /// <summary>Activation rows per micro-kernel tile.</summary>
    const int Rows = 6;
    const int PanelBytesPerBlock = 8 * 64;
    const int WidePanelBytesPerBlock = 16 * 64;

    [ThreadStatic] static byte[]? t_panel;
    [ThreadStatic] static float[]? t_panelScales;
    [ThreadStatic] static sbyte[]? t_codes;
    [ThreadStatic] static short[]? t_wideCodes;
    [ThreadStatic] static float[]? t_rowScales;

    /// <summary>Whether the tiles serve at the current width: AVX2 + FMA at 256 bits or more (every quantisation type).</summary>
    internal static bool Serve => Simd.Bits >= 256 && Simd.Isa == SimdIsa.Avx2 && Avx2.IsSupported && Fma.IsSupported;

    internal static void Forward(ReadOnlySpan<float> x, QuantizedMatrix w, ReadOnlySpan<float> b, Span<float> y, int n, int inDim, int outDim)
    {
        if (!Serve) throw new InvalidOperationException($"the integer tiles need AVX2 at 256 bits or more ({Simd.Bits} bits now)");
        if (n == 0) return;
        if (w.Type == QuantType.Q8_0)
        {
            ForwardWide(x, w, b, y, n, inDim, outDim);
            return;
        }
        int blocks = inDim / QuantTypes.BlockSize;
        int padded = (n + Rows - 1) / Rows * Rows;

        // Activations: codes [padded, in] (rows past n zero), then per row its blocks' scales, sums of x and sums of
        // codes, each [padded, blocks] (zero past n: a padded row sums to 0 and is never stored).
        var codes = t_codes is { } c && c.Length >= padded * inDim ? c : t_codes = GC.AllocateUninitializedArray<sbyte>(padded * inDim, pinned: true);
        var rowScales = t_rowScales is { } s && s.Length >= 3 * padded * blocks ? s : t_rowScales = GC.AllocateUninitializedArray<float>(3 * padded * blocks, pinned: true);
        fixed (float* px = x, pb = b, py = y, ps = rowScales, half = QuantizedMatrix.HalfTable)
        fixed (sbyte* pq = codes)
        {
            int rowsBlocks = padded * blocks;
            float* scale = ps, xSum = ps + rowsBlocks, codeSum = ps + 2 * rowsBlocks;
            for (int r = 0; r < n; r++)
                for (int k = 0; k < blocks; k++)
                {
                    long at = (long)r * inDim + k * QuantTypes.BlockSize;
                    int i = r * blocks + k;
                    QuantizedLinear.QuantizeBlock256(px + at, pq + at, scale + i, xSum + i, codeSum + i);
                }
            if (padded > n)
            {
                new Span<sbyte>(pq + (long)n * inDim, (padded - n) * inDim).Clear();
                for (int t = 0; t < 3; t++) new Span<float>(ps + t * rowsBlocks + n * blocks, (padded - n) * blocks).Clear();
            }
            Run(new Work
            {
                W = w.Data, Type = w.Type, RowBytes = w.RowBytes, Codes = pq, Scale = scale, XSum = xSum, CodeSum = (int*)codeSum,
                GroupedRows = w.Groups * RowGroups.Rows,
                Half = half, B = b.IsEmpty ? null : pb, Y = py, N = n, Padded = padded, In = inDim, Out = outDim, Blocks = blocks,
            });
        }
    }

    /// <summary>Runs <paramref name="work"/> across the worker pool, its output features split at multiples of 16.</summary>
    static void Run(Work work)
    {
        int parts = Parallelism.Parts((long)work.N * work.In * work.Out, (work.Out + Cols - 1) / Cols);
        work.Features = new Split(work.Out, parts, Cols);
        WorkerPool.For(ref work, Math.Min(parts, work.Features.Parts));
    }

    /// <summary>Q8_0: 16-bit activation codes against the weights as int16 (see the header).</summary>
    static void ForwardWide(ReadOnlySpan<float> x, QuantizedMatrix w, ReadOnlySpan<float> b, Span<float> y, int n, int inDim, int outDim)
    {
        int blocks = inDim / QuantTypes.BlockSize;
        int padded = (n + Rows - 1) / Rows * Rows;
        // Codes [padded, in] and scales [padded, blocks], rows past n zero.
        var codes = t_wideCodes is { } c && c.Length >= padded * inDim ? c : t_wideCodes = GC.AllocateUninitializedArray<short>(padded * inDim, pinned: true);
        var rowScales = t_rowScales is { } s && s.Length >= padded * blocks ? s : t_rowScales = GC.AllocateUninitializedArray<float>(padded * blocks, pinned: true);
        fixed (float* px = x, pb = b, py = y, ps = rowScales, half = QuantizedMatrix.HalfTable)
        fixed (short* pq = codes)
        {
            for (int r = 0; r < n; r++)
                for (int k = 0; k < blocks; k++)
                {
                    long at = (long)r * inDim + k * QuantTypes.BlockSize;
                    QuantizeBlockWide(px + at, pq + at, ps + r * blocks + k);
                }
            if (padded > n)
            {
                new Span<short>(pq + (long)n * inDim, (padded - n) * inDim).Clear();
                new Span<float>(ps + n * blocks, (padded - n) * blocks).Clear();
            }
            Run(new Work
            {
                W = w.Data, Type = w.Type, RowBytes = w.RowBytes, WideCodes = pq, Scale = ps,
                Half = half, B = b.IsEmpty ? null : pb, Y = py, N = n, Padded = padded, In = inDim, Out = outDim, Blocks = blocks,
            });
        }
    }

    /// <summary>
    /// A block of 32 activations to 16-bit codes: scale = max|x| / 32767, code = round(x * (1 / scale)) (half to even;
    /// 0 for an all-zero block). The vector form of <see cref="QuantizeBlockWideScalar"/>: the same codes and scale.
    /// </summary>
    internal static void QuantizeBlockWide(float* x, short* q, float* scale)
    {
        var v0 = Vector256.Load(x);
        var v1 = Vector256.Load(x + 8);
        var v2 = Vector256.Load(x + 16);
        var v3 = Vector256.Load(x + 24);
        float d = QuantizedLinear.AbsMax256(v0, v1, v2, v3) / 32767f, id = d != 0 ? 1f / d : 0f;
        var by = Vector256.Create(id);
        Vector256.Narrow(Vector256.ConvertToInt32(Vector256.Round(v0 * by)), Vector256.ConvertToInt32(Vector256.Round(v1 * by))).Store(q);
        Vector256.Narrow(Vector256.ConvertToInt32(Vector256.Round(v2 * by)), Vector256.ConvertToInt32(Vector256.Round(v3 * by))).Store(q + 16);
        *scale = d;
    }

    /// <summary>The scalar reference of <see cref="QuantizeBlockWide"/>.</summary>
    internal static void QuantizeBlockWideScalar(float* x, short* q, float* scale)
    {
        float amax = 0;
        for (int i = 0; i < QuantTypes.BlockSize; i++) amax = MathF.Max(amax, MathF.Abs(x[i]));
        float d = amax / 32767f, id = d != 0 ? 1f / d : 0f;
        for (int i = 0; i < QuantTypes.BlockSize; i++) q[i] = (short)MathF.Round(x[i] * id);
        *scale = d;
    }

    struct Work : IPartitionedWork
    {
        public byte* W;
        public QuantType Type;
        public int RowBytes;
        public sbyte* Codes;
        public short* WideCodes;
        public float* Scale, XSum, B, Y, Half;
        public int* CodeSum;
        public int N, Padded, In, Out, Blocks;
        public int GroupedRows; // rows [0, GroupedRows) are in row groups (RowGroups), each exactly a panel
        public Split Features;

        public void Run(int part, int worker)
        {
            int s = Features.Start(part), e = Features.End(part);
            if (s >= e) return;
            bool wide = Type == QuantType.Q8_0, min = Type == QuantType.Q4_1;
            int panelBytes = Blocks * (wide ? WidePanelBytesPerBlock : PanelBytesPerBlock);
            var panel = t_panel is { } p && p.Length >= panelBytes ? p : t_panel = GC.AllocateUninitializedArray<byte>(panelBytes, pinned: true);
            var panelScales = t_panelScales is { } q && q.Length >= 2 * Blocks * Cols ? q : t_panelScales = GC.AllocateUninitializedArray<float>(2 * Blocks * Cols, pinned: true);
            var acc = stackalloc float[Rows * Cols];
            fixed (byte* pp = panel)
            fixed (float* pd = panelScales)
                for (int j0 = s; j0 < e; j0 += Cols)
                {
                    int cols = Math.Min(Cols, e - j0);
                    if (wide) PackWidePanel(W + (long)j0 * RowBytes, RowBytes, cols, Blocks, Half, pp, pd);
                    else if (j0 < GroupedRows) UnpackGroup(Type, W + (long)j0 * RowBytes, Blocks, pp, pd, pd + Blocks * Cols);
                    else PackPanel(Type, W + (long)j0 * RowBytes, RowBytes, cols, Blocks, Half, pp, pd, pd + Blocks * Cols);
                    // The next panel's weight rows (contiguous bytes) are fetched into L2 a share per row tile, while
                    // this panel's tiles compute: packing then reads cache, not memory. (`perf record` on `edge bench
                    // prefill gpt2 --vocab 50257 --type q8`: packing straight from memory, 16 rows being 16 streams,
                    // took 8.1% of the samples against the micro-kernel's 30.6%; with this prefetch 3.0% against 32.9%.)
                    byte* next = W + (long)(j0 + Cols) * RowBytes;
                    long nextLines = j0 + Cols < e ? ((long)Math.Min(Cols, e - j0 - Cols) * RowBytes + 63) / 64 : 0;
                    long linesPerTile = (nextLines * Rows + Padded - 1) / Padded;
                    for (int r0 = 0; r0 < N; r0 += Rows)
                    {
                        for (long l = 0, l0 = r0 / Rows * linesPerTile; l < linesPerTile && l0 + l < nextLines; l++)
                            Sse.Prefetch1(next + 64 * (l0 + l));
                        new Span<float>(acc, Rows * Cols).Clear();
                        int at = r0 * Blocks;
                        if (wide) Tile6x16Wide(pp, pd, WideCodes + (long)r0 * In, In, Scale + at, Blocks, acc);
                        else Tile6x16(pp, pd, pd + Blocks * Cols, Codes + (long)r0 * In, In, Scale + at, XSum + at, CodeSum + at, Blocks, min, acc);
                        int rows = Math.Min(Rows, N - r0);
                        for (int r = 0; r < rows; r++)
                        {
                            float* yr = Y + (long)(r0 + r) * Out + j0;
                            float* ar = acc + r * Cols;
                            if (B is null) for (int j = 0; j < cols; j++) yr[j] = ar[j];
                            else for (int j = 0; j < cols; j++) yr[j] = B[j0 + j] + ar[j];
                        }
                    }
                }
        }
    }

    /// <summary>
    /// <paramref name="cols"/> (at most 16) weight rows unpacked for <see cref="Tile6x16"/>: panel [block][quad g][16
    /// features][4 codes], code = the stored nibble (0..15); d [block][16] and min [block][16] the features' scales
    /// and minimums as floats (0 for the features past <paramref name="cols"/>, whose codes repeat row 0's).
    /// Per block, 4 registers of two features' 16 nibble bytes (features g and g + 4 of each 8) are split into low and
    /// high nibbles and transposed as 4 x 4 blocks of 32-bit words, so each 32-byte store holds 8 features' 4 codes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackPanel(QuantType type, byte* w, int rowBytes, int cols, int blocks, float* half, byte* panel, float* d, float* min)
    {
        int bytes = type.BlockBytes(), codesAt = type == QuantType.Q4_0 ? 2 : 4;
        var rows = stackalloc byte*[Cols];
        for (int j = 0; j < Cols; j++) rows[j] = w + (long)(j < cols ? j : 0) * rowBytes;
        var nibble = Vector256.Create((byte)0x0F);
        for (int k = 0; k < blocks; k++, panel += PanelBytesPerBlock, d += Cols, min += Cols)
        {
            int at = k * bytes;
            for (int h = 0; h < 2; h++)
            {
                byte** r = rows + 8 * h;
                var z0 = Vector256.Create(Vector128.Load(r[0] + at + codesAt), Vector128.Load(r[4] + at + codesAt));
                var z1 = Vector256.Create(Vector128.Load(r[1] + at + codesAt), Vector128.Load(r[5] + at + codesAt));
                var z2 = Vector256.Create(Vector128.Load(r[2] + at + codesAt), Vector128.Load(r[6] + at + codesAt));
                var z3 = Vector256.Create(Vector128.Load(r[3] + at + codesAt), Vector128.Load(r[7] + at + codesAt));
                // Low nibbles are a block's inputs 0..15 (quads 0..3), high nibbles its inputs 16..31 (quads 4..7).
                Store4x4(z0 & nibble, z1 & nibble, z2 & nibble, z3 & nibble, panel + 32 * h);
                Store4x4(Vector256.ShiftRightLogical(z0.AsUInt16(), 4).AsByte() & nibble, Vector256.ShiftRightLogical(z1.AsUInt16(), 4).AsByte() & nibble,
                    Vector256.ShiftRightLogical(z2.AsUInt16(), 4).AsByte() & nibble, Vector256.ShiftRightLogical(z3.AsUInt16(), 4).AsByte() & nibble,
                    panel + 4 * 64 + 32 * h);
            }
            for (int j = 0; j < Cols; j++)
            {
                d[j] = j < cols ? half[Unsafe.ReadUnaligned<ushort>(rows[j] + at)] : 0f;
                min[j] = j < cols && type == QuantType.Q4_1 ? half[Unsafe.ReadUnaligned<ushort>(rows[j] + at + 2)] : 0f;
            }
        }
    }

    /// <summary>
    /// <see cref="PackPanel"/> for a row group (<see cref="RowGroups"/>), which holds a panel's packed bytes in panel
    /// order already: quad w of a block is word w's low nibbles, quad 4 + w its high nibbles; the 16 scales (and
    /// minimums) are converted as they stand.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void UnpackGroup(QuantType type, byte* group, int blocks, byte* panel, float* d, float* min)
    {
        int header = RowGroups.HeaderBytes(type), blockBytes = RowGroups.Rows * type.BlockBytes();
        var nibble = Vector256.Create((byte)0x0F);
        for (int k = 0; k < blocks; k++, group += blockBytes, panel += PanelBytesPerBlock, d += Cols, min += Cols)
        {
            for (int i = 0; i < 8; i++)
            {
                // word i / 2, half i % 2
                var v = Vector256.Load(group + header + 64 * (i >> 1) + 32 * (i & 1));
                (v & nibble).Store(panel + 64 * (i >> 1) + 32 * (i & 1));
                (Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & nibble).Store(panel + 4 * 64 + 64 * (i >> 1) + 32 * (i & 1));
            }
            QuantizedLinear.Half8(group).Store(d);
            QuantizedLinear.Half8(group + 16).Store(d + 8);
            if (type == QuantType.Q4_1)
            {
                QuantizedLinear.Half8(group + RowGroups.MinimumsAt).Store(min);
                QuantizedLinear.Half8(group + RowGroups.MinimumsAt + 16).Store(min + 8);
            }
            else
            {
                Vector256<float>.Zero.Store(min);
                Vector256<float>.Zero.Store(min + 8);
            }
        }
    }

    /// <summary>
    /// z_g holds feature g's 16 code bytes in its low 128 bits and feature g + 4's in its high 128 bits. Stores quads
    /// 0..3 (64 bytes apart): quad q = [feature 0..7: bytes 4q..4q + 3], a 4 x 4 transpose of 32-bit words per half.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store4x4(Vector256<byte> z0, Vector256<byte> z1, Vector256<byte> z2, Vector256<byte> z3, byte* o)
    {
        var t0 = Avx2.UnpackLow(z0.AsInt32(), z1.AsInt32());   // [z0.w0 z1.w0 z0.w1 z1.w1] per half
        var t1 = Avx2.UnpackHigh(z0.AsInt32(), z1.AsInt32());  // [z0.w2 z1.w2 z0.w3 z1.w3]
        var t2 = Avx2.UnpackLow(z2.AsInt32(), z3.AsInt32());
        var t3 = Avx2.UnpackHigh(z2.AsInt32(), z3.AsInt32());
        Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64()).Store((long*)o);             // word 0 of features 0..3 | 4..7
        Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64()).Store((long*)(o + 64));     // word 1
        Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64()).Store((long*)(o + 128));     // word 2
        Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64()).Store((long*)(o + 192));    // word 3
    }

    /// <summary>
    /// acc [6, 16] += the 6 activation rows at <paramref name="a"/> (<paramref name="lda"/> bytes apart) against the
    /// panel; the rows' block scales, sums of x and code sums are [6, blocks] from <paramref name="scale"/>,
    /// <paramref name="xSum"/> and <paramref name="codeSum"/> (row r at r * blocks).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile6x16(byte* panel, float* d, float* min, sbyte* a, int lda, float* scale, float* xSum, int* codeSum, int blocks, bool hasMin, float* acc)
    {
        sbyte* a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda;
        for (int k = 0; k < blocks; k++, panel += PanelBytesPerBlock)
        {
            Vector256<short> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector256<short> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            byte* p = panel;
            for (nint o = k * QuantTypes.BlockSize, end = o + QuantTypes.BlockSize; o < end; o += 4, p += 64)
            {
                var b0 = Avx.LoadVector256(p);
                var b1 = Avx.LoadVector256(p + 32);
                var x = Vector256.Create(*(int*)(a0 + o)).AsSByte();
                c00 = Avx2.Add(c00, Avx2.MultiplyAddAdjacent(b0, x));
                c01 = Avx2.Add(c01, Avx2.MultiplyAddAdjacent(b1, x));
                x = Vector256.Create(*(int*)(a1 + o)).AsSByte();
                c10 = Avx2.Add(c10, Avx2.MultiplyAddAdjacent(b0, x));
                c11 = Avx2.Add(c11, Avx2.MultiplyAddAdjacent(b1, x));
                x = Vector256.Create(*(int*)(a2 + o)).AsSByte();
                c20 = Avx2.Add(c20, Avx2.MultiplyAddAdjacent(b0, x));
                c21 = Avx2.Add(c21, Avx2.MultiplyAddAdjacent(b1, x));
                x = Vector256.Create(*(int*)(a3 + o)).AsSByte();
                c30 = Avx2.Add(c30, Avx2.MultiplyAddAdjacent(b0, x));
                c31 = Avx2.Add(c31, Avx2.MultiplyAddAdjacent(b1, x));
                x = Vector256.Create(*(int*)(a4 + o)).AsSByte();
                c40 = Avx2.Add(c40, Avx2.MultiplyAddAdjacent(b0, x));
                c41 = Avx2.Add(c41, Avx2.MultiplyAddAdjacent(b1, x));
                x = Vector256.Create(*(int*)(a5 + o)).AsSByte();
                c50 = Avx2.Add(c50, Avx2.MultiplyAddAdjacent(b0, x));
                c51 = Avx2.Add(c51, Avx2.MultiplyAddAdjacent(b1, x));
            }
            var d0 = Avx.LoadVector256(d + k * Cols);
            var d1 = Avx.LoadVector256(d + k * Cols + 8);
            Finish(c00, c01, d0, d1, min + k * Cols, scale + k, xSum + k, codeSum + k, hasMin, acc);
            Finish(c10, c11, d0, d1, min + k * Cols, scale + k + blocks, xSum + k + blocks, codeSum + k + blocks, hasMin, acc + Cols);
            Finish(c20, c21, d0, d1, min + k * Cols, scale + k + 2 * blocks, xSum + k + 2 * blocks, codeSum + k + 2 * blocks, hasMin, acc + 2 * Cols);
            Finish(c30, c31, d0, d1, min + k * Cols, scale + k + 3 * blocks, xSum + k + 3 * blocks, codeSum + k + 3 * blocks, hasMin, acc + 3 * Cols);
            Finish(c40, c41, d0, d1, min + k * Cols, scale + k + 4 * blocks, xSum + k + 4 * blocks, codeSum + k + 4 * blocks, hasMin, acc + 4 * Cols);
            Finish(c50, c51, d0, d1, min + k * Cols, scale + k + 5 * blocks, xSum + k + 5 * blocks, codeSum + k + 5 * blocks, hasMin, acc + 5 * Cols);
        }
    }

    /// <summary>One row's block: its 16 features' int16 pair sums to int32 block sums, scaled into acc [16].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Finish(Vector256<short> c0, Vector256<short> c1, Vector256<float> d0, Vector256<float> d1, float* min,
        float* scale, float* xSum, int* codeSum, bool hasMin, float* acc)
    {
        var ones = Vector256.Create((short)1);
        var s0 = Avx2.MultiplyAddAdjacent(c0, ones);
        var s1 = Avx2.MultiplyAddAdjacent(c1, ones);
        if (!hasMin)
        {
            var offset = Vector256.Create(8 * *codeSum);
            s0 = Avx2.Subtract(s0, offset);
            s1 = Avx2.Subtract(s1, offset);
        }
        var dx = Vector256.Create(*scale);
        var f0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s0), Avx.Multiply(d0, dx), Avx.LoadVector256(acc));
        var f1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s1), Avx.Multiply(d1, dx), Avx.LoadVector256(acc + 8));
        if (hasMin)
        {
            var sx = Vector256.Create(*xSum);
            f0 = Fma.MultiplyAdd(Avx.LoadVector256(min), sx, f0);
            f1 = Fma.MultiplyAdd(Avx.LoadVector256(min + 8), sx, f1);
        }
        f0.Store(acc);
        f1.Store(acc + 8);
    }

    /// <summary>
    /// <paramref name="cols"/> (at most 16) Q8_0 weight rows for <see cref="Tile6x16Wide"/>: panel [block][pair g][16
    /// features][2 int16] (the codes sign-extended), d [block][16] the scales as floats (0 past <paramref name="cols"/>,
    /// whose codes repeat row 0's). Per block and 8 features, each row's 32 codes widen to two registers of 8 pairs, and
    /// the 8 x 8 transpose of 32-bit words (Linear.Transpose8x8, moving bits only) makes each store one pair of 8 features.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackWidePanel(byte* w, int rowBytes, int cols, int blocks, float* half, byte* panel, float* d)
    {
        const int bytes = 2 + QuantTypes.BlockSize;
        var rows = stackalloc byte*[Cols];
        for (int j = 0; j < Cols; j++) rows[j] = w + (long)(j < cols ? j : 0) * rowBytes;
        var lo = stackalloc Vector256<float>[8];
        var hi = stackalloc Vector256<float>[8];
        for (int k = 0; k < blocks; k++, panel += WidePanelBytesPerBlock, d += Cols)
        {
            int at = k * bytes;
            for (int h = 0; h < 2; h++)
            {
                for (int r = 0; r < 8; r++)
                {
                    sbyte* q = (sbyte*)rows[8 * h + r] + at + 2;
                    lo[r] = Avx2.ConvertToVector256Int16(q).AsSingle();        // pairs 0..7
                    hi[r] = Avx2.ConvertToVector256Int16(q + 16).AsSingle();   // pairs 8..15
                }
                float* o = (float*)panel + 8 * h;
                Linear.Transpose8x8(lo[0], lo[1], lo[2], lo[3], lo[4], lo[5], lo[6], lo[7], ref *o, Cols);
                Linear.Transpose8x8(hi[0], hi[1], hi[2], hi[3], hi[4], hi[5], hi[6], hi[7], ref *(o + 8 * Cols), Cols);
            }
            for (int j = 0; j < Cols; j++) d[j] = j < cols ? half[Unsafe.ReadUnaligned<ushort>(rows[j] + at)] : 0f;
        }
    }

    /// <summary>
    /// acc [6, 16] += the 6 rows of 16-bit activation codes at <paramref name="a"/> (<paramref name="lda"/> codes
    /// apart) against a wide panel; the rows' block scales are [6, blocks] from <paramref name="scale"/>. Spelled out
    /// beside <see cref="Tile6x16"/> as Linear's micro-kernels are: the JIT keeps 12 named accumulators in registers,
    /// not an array or a loop over rows, and the element types and instructions differ.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile6x16Wide(byte* panel, float* d, short* a, int lda, float* scale, int blocks, float* acc)
    {
        short* a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda;
        for (int k = 0; k < blocks; k++, panel += WidePanelBytesPerBlock)
        {
            Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector256<int> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            byte* p = panel;
            for (nint o = k * QuantTypes.BlockSize, end = o + QuantTypes.BlockSize; o < end; o += 2, p += 64)
            {
                var b0 = Avx.LoadVector256((short*)p);
                var b1 = Avx.LoadVector256((short*)(p + 32));
                var x = Vector256.Create(*(int*)(a0 + o)).AsInt16();
                c00 = Avx2.Add(c00, Avx2.MultiplyAddAdjacent(b0, x));
                c01 = Avx2.Add(c01, Avx2.MultiplyAddAdjacent(b1, x));
                x = Vector256.Create(*(int*)(a1 + o)).AsInt16();
                c10 = Avx2.Add(c10, Avx2.MultiplyAddAdjacent(b0, x));
                c11 = Avx2.Add(c11, Avx2.MultiplyAddAdjacent(b1, x));
                x = Vector256.Create(*(int*)(a2 + o)).AsInt16();
                c20 = Avx2.Add(c20, Avx2.MultiplyAddAdjacent(b0, x));
                c21 = Avx2.Add(c21, Avx2.MultiplyAddAdjacent(b1, x));
                x = Vector256.Create(*(int*)(a3 + o)).AsInt16();
                c30 = Avx2.Add(c30, Avx2.MultiplyAddAdjacent(b0, x));
                c31 = Avx2.Add(c31, Avx2.MultiplyAddAdjacent(b1, x));
                x = Vector256.Create(*(int*)(a4 + o)).AsInt16();
                c40 = Avx2.Add(c40, Avx2.MultiplyAddAdjacent(b0, x));
                c41 = Avx2.Add(c41, Avx2.MultiplyAddAdjacent(b1, x));
                x = Vector256.Create(*(int*)(a5 + o)).AsInt16();
                c50 = Avx2.Add(c50, Avx2.MultiplyAddAdjacent(b0, x));
                c51 = Avx2.Add(c51, Avx2.MultiplyAddAdjacent(b1, x));
            }
            var d0 = Avx.LoadVector256(d + k * Cols);
            var d1 = Avx.LoadVector256(d + k * Cols + 8);
            FinishWide(c00, c01, d0, d1, scale[k], acc);
            FinishWide(c10, c11, d0, d1, scale[k + blocks], acc + Cols);
            FinishWide(c20, c21, d0, d1, scale[k + 2 * blocks], acc + 2 * Cols);
            FinishWide(c30, c31, d0, d1, scale[k + 3 * blocks], acc + 3 * Cols);
            FinishWide(c40, c41, d0, d1, scale[k + 4 * blocks], acc + 4 * Cols);
            FinishWide(c50, c51, d0, d1, scale[k + 5 * blocks], acc + 5 * Cols);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void FinishWide(Vector256<int> s0, Vector256<int> s1, Vector256<float> d0, Vector256<float> d1, float scale, float* acc)
    {
        var dx = Vector256.Create(scale);
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(s0), Avx.Multiply(d0, dx), Avx.LoadVector256(acc)).Store(acc);
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(s1), Avx.Multiply(d1, dx), Avx.LoadVector256(acc + 8)).Store(acc + 8);
    }
}
