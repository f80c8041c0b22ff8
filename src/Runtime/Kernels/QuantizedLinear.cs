using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Edge.Quantization;

namespace Edge.Kernels;

// y [n, out] = x [n, in] @ W^T + b for a quantised W (out rows of in weights, blocks of 32; see QuantizedMatrix).
// The activations are quantised too, per block of 32, to int8 with an fp32 scale (GGML's Q8_0 for activations), so
// every block's dot product is an integer one: 32 int8 x int8 (or unsigned 4-bit x int8) products summed by
// multiply-add instructions (AVX2 vpmaddubsw + vpmaddwd on the 256-bit path; on ARM64 SDOT where the CPU has the
// dot-product extension, widening multiplies and pairwise adds otherwise), then scaled once per block:
//   Q8_0:        dot = d_w * d_x * sum(q_w * q_x)
//   Q4_0:        dot = d_w * d_x * (sum(nibble * q_x) - 8 * sum(q_x))   (q_w = nibble - 8; the AVX2 path takes the
//                nibbles as they are, unsigned, and takes the code sum off each of its 8 integer lanes: exact, and no
//                float work beside the block's one multiply-add)
//   Q4_1:        dot = d_w * d_x * sum(nibble * q_x) + min_w * sum(x)
// Every width gives the same integer sums; only the order of the per-block float additions differs
// (vector lanes), so paths agree to float rounding. Output rows are split across the worker pool. A 4-bit matrix
// held in row groups (x64 with AVX2: RowGroups) runs its whole groups in the group kernels
// (QuantizedGroupKernels.cs) and its remaining rows here; the other widths copy a group's rows out first.
public static unsafe partial class QuantizedLinear
{
    const int RowTile = 16;

    [ThreadStatic] static sbyte[]? t_codes;
    [ThreadStatic] static float[]? t_scales;
    [ThreadStatic] static byte[]? t_groupRows;

    /// <summary>
    /// Rows from which a product takes the dequantise-a-tile path (<see cref="ForwardDequantised"/>) where the integer
    /// tiles do not serve (ARM64, 128 bits, scalar): measured on an AVX2 and an AVX-512 EPYC, where from here on it
    /// beat the integer path (which wins for decoding and a few rows).
    /// </summary>
    public const int DequantiseFromRows = 16;

    /// <summary>
    /// Rows from which a product takes the integer tiles (<see cref="QuantizedTiles"/>) where they serve: measured on
    /// GPT-2's products (`edge bench prefill gpt2 --vocab 50257 --prompt-tokens N --type q4|q8`, with this threshold
    /// set to 2 in one build and 16 in another) on an AVX-512 EPYC, where 4-bit tiles beat the four-rows-a-pass integer
    /// path from 5 rows (5 tokens: 7.0 against 10.1 ms) and Q8_0's 16-bit tiles from 9 or 10 (8 tokens: 15.2 against
    /// 13.7 ms; 10 tokens: 14.0 against 17.3).
    /// </summary>
    internal static int TilesFromRows(QuantType type) => type == QuantType.Q8_0 ? 9 : 5;

    /// <summary>
    /// Which way a product is computed; <see cref="Path.Auto"/> picks by the number of rows and what serves at the
    /// current width (<see cref="Route"/>). <see cref="Path.Dequantised"/> forces the dequantised tiles, even for a
    /// small matrix with an fp32 form.
    /// </summary>
    internal enum Path { Auto, Integer, Dequantised, IntegerTiles }

    /// <summary>Rows from which <see cref="Path.Auto"/> leaves the integer path for a many-row one, at the current width.</summary>
    internal static int ManyRowsFrom(QuantType type) => QuantizedTiles.Serve ? TilesFromRows(type) : DequantiseFromRows;

    /// <summary>
    /// The path <see cref="Path.Auto"/> takes for <paramref name="n"/> rows of <paramref name="w"/>: the integer one
    /// below <see cref="ManyRowsFrom"/>; from there the integer tiles where they serve (AVX2), else dequantised tiles
    /// (or a small matrix's fp32 form).
    /// </summary>
    internal static Path Route(int n, QuantizedMatrix w) =>
        n < ManyRowsFrom(w.Type) ? Path.Integer : QuantizedTiles.Serve ? Path.IntegerTiles : Path.Dequantised;

    public static void Forward(ReadOnlySpan<float> x, QuantizedMatrix w, ReadOnlySpan<float> b, Span<float> y, int n, int inDim, int outDim) =>
        Forward(x, w, b, y, n, inDim, outDim, Path.Auto);

    internal static void Forward(ReadOnlySpan<float> x, QuantizedMatrix w, ReadOnlySpan<float> b, Span<float> y, int n, int inDim, int outDim, Path path)
    {
        var route = path == Path.Auto ? Route(n, w) : path;
        if (route == Path.Dequantised)
        {
            ForwardDequantised(x, w, b, y, n, inDim, outDim, tiles: path == Path.Dequantised);
            return;
        }
        if (w.Cols != inDim || w.Rows != outDim)
            throw new ArgumentException($"the quantised weight is [{w.Rows}, {w.Cols}] (out, in), the product needs [{outDim}, {inDim}]", nameof(w));
        Check.AtLeast(x.Length, n, inDim, nameof(x));
        if (!b.IsEmpty) Check.SameLength(outDim, b.Length, nameof(b));
        Check.AtLeast(y.Length, n, outDim, nameof(y));
        if (route == Path.IntegerTiles)
        {
            QuantizedTiles.Forward(x, w, b, y, n, inDim, outDim);
            return;
        }
        int blocks = inDim / QuantTypes.BlockSize;

        // Quantise the activations once per call, on the calling thread: codes [n, in], then per block a scale, the
        // sum of x and the sum of the codes.
        var codes = t_codes is { } c && c.Length >= n * inDim ? c : t_codes = new sbyte[Math.Max(n * inDim, 1024)];
        var scales = t_scales is { } s && s.Length >= 3 * n * blocks ? s : t_scales = new float[Math.Max(3 * n * blocks, 96)];
        QuantizeActivations(x, codes, scales, n, inDim);

        // The fp16 table is read from its static field once here and passed down as a pointer: NativeAOT checks that a
        // static's class is initialised at every read, and such a check (with its call into the runtime) inside the
        // block loops costs those loops their registers.
        fixed (float* px = scales, pb = b, py = y, half = QuantizedMatrix.HalfTable)
        fixed (sbyte* pq = codes)
        {
            var work = new Work
            {
                W = w.Data, Type = w.Type, RowBytes = w.RowBytes, Codes = pq, Scales = px, Sums = px + n * blocks, Half = half,
                B = b.IsEmpty ? null : pb, Y = py, N = n, In = inDim, Out = outDim, Blocks = blocks, Bits = Simd.Bits, Isa = Simd.Isa,
                GroupedRows = w.Groups * RowGroups.Rows,
            };
            // Bytes of weights read per part matter more than multiply-adds here: a part per 16 output rows at least
            // (a row group: parts start at multiples of 16, so none splits a group).
            int parts = Parallelism.Parts((long)n * inDim * outDim / 2, (outDim + 15) / 16);
            work.Rows = new Split(outDim, parts, RowGroups.Rows);
            WorkerPool.For(ref work, Math.Min(parts, work.Rows.Parts));
        }
    }

    // ---- many rows: dequantise a tile of weight rows to fp32, then the fp32 GEMM's register-tiled micro-kernel ----

    /// <summary>
    /// Output features per dequantised tile at least, and the unit of its width: a multiple of every micro-kernel's
    /// columns (16 and 32 on x86, 12 on ARM64), so only a product's last tile has edge columns. The tile, [in][width]
    /// floats, is per thread and grown once; each weight byte is dequantised once per call.
    /// </summary>
    internal const int TileCols = 96;

    [ThreadStatic] static float[]? t_tile;

    /// <summary>
    /// y = x @ deq(W)^T + b with x in fp32 (not quantised): the weights are dequantised a tile of
    /// <see cref="TileCols"/> output features at a time into a per-thread buffer, transposed ([in][cols], the layout
    /// of a Conv1D weight), and multiplied by <see cref="Linear.MatMulAdd(int, ref float, int, int, ref float, ref float, int, int, int, int, int)"/>.
    /// Each element is the fp32 product of x and deq(W): every path agrees with <see cref="Edge.Diagnostics.ScalarReference.DequantisedLinearForward"/>
    /// to float rounding. Parts split the output features, at multiples of 16 so a column keeps its vector width.
    /// </summary>
    internal static void ForwardDequantised(ReadOnlySpan<float> x, QuantizedMatrix w, ReadOnlySpan<float> b, Span<float> y, int n, int inDim, int outDim, bool tiles = false)
    {
        if (w.Cols != inDim || w.Rows != outDim)
            throw new ArgumentException($"the quantised weight is [{w.Rows}, {w.Cols}] (out, in), the product needs [{outDim}, {inDim}]", nameof(w));
        if (!tiles && w.Fp32Transposed() is { IsEmpty: false } fp32)
        {
            // A small matrix's fp32 form, kept since its first such product (QuantizedMatrix.SmallFp32Bytes): the same
            // GEMM on the same values as the tiles below, so the same results, without dequantising again.
            Linear.Forward(x, fp32, b, y, n, inDim, outDim);
            return;
        }
        Check.AtLeast(x.Length, n, inDim, nameof(x));
        if (!b.IsEmpty) Check.SameLength(outDim, b.Length, nameof(b));
        Check.AtLeast(y.Length, n, outDim, nameof(y));
        if (n == 0) return;
        fixed (float* px = x, pb = b, py = y, half = QuantizedMatrix.HalfTable)
        {
            var work = new TileWork
            {
                W = w.Data, Type = w.Type, RowBytes = w.RowBytes, X = px, B = b.IsEmpty ? null : pb, Y = py, Half = half,
                N = n, In = inDim, Out = outDim, Bits = Simd.Bits, Grouped = w.Grouped,
            };
            int parts = Parallelism.Parts((long)n * inDim * outDim, (outDim + 15) / 16);
            work.Cols = new Split(outDim, parts, 16);
            WorkerPool.For(ref work, Math.Min(parts, work.Cols.Parts));
        }
    }

    struct TileWork : IPartitionedWork
    {
        public byte* W;
        public QuantType Type;
        public int RowBytes;
        public float* X, B, Y, Half;
        public int N, In, Out, Bits;
        public bool Grouped;
        public Split Cols;

        public void Run(int part, int worker)
        {
            int s = Cols.Start(part), e = Cols.End(part);
            if (s >= e) return;
            // Tiles as wide as fit in about 256 KiB (a multiple of TileCols): each tile packs the activations again, so a
            // narrow layer (In = 128: 480 columns) packs them once or twice where 96-column tiles would pack them often.
            int cols = Math.Max(TileCols, 65536 / In / TileCols * TileCols);
            int need = In * cols;
            var tile = t_tile is { } t && t.Length >= need ? t : t_tile = GC.AllocateUninitializedArray<float>(need, pinned: true);
            Linear.FillBias(B, Y, 0, N, s, e - s, Out);
            fixed (float* pt = tile)
                for (int j0 = s; j0 < e; j0 += cols)
                {
                    int width = Math.Min(cols, e - j0);
                    byte* rows = W + (long)j0 * RowBytes;
                    if (Grouped)
                    {
                        // Held in row groups: this tile's rows copied out as a file stores them (a pinned buffer).
                        var copy = t_groupRows is { } c && c.Length >= width * RowBytes ? c : t_groupRows = GC.AllocateUninitializedArray<byte>(width * RowBytes, pinned: true);
                        rows = (byte*)Unsafe.AsPointer(ref copy[0]);
                        RowGroups.CopyRows(Type, W, Out, In / QuantTypes.BlockSize, j0, width, rows);
                    }
                    DequantizeTransposed(Type, rows, RowBytes, width, In, Half, pt, width, Bits >= 256 && Avx2.IsSupported);
                    // y [n, cols j0 .. j0 + width) += x [n, in] @ tile [in, width]
                    Linear.MatMulAdd(Bits, ref *X, In, 1, ref *pt, ref Y[j0], N, In, width, width, Out);
                }
        }
    }

    /// <summary>
    /// <paramref name="rows"/> weight rows (from <paramref name="w"/>, <paramref name="rowBytes"/> apart) dequantised
    /// and transposed: dst[i * ld + j] = deq(W)[j, i], the same value as <see cref="QuantizedMatrix.DequantizeRow"/>
    /// (d * q, or d * q + min for Q4_1, each one float multiply and at most one add).
    /// </summary>
    /// <param name="avx2">Eight rows at a time with AVX2 (<see cref="DequantizeEightRows"/>), the same values bit for bit.</param>
    internal static void DequantizeTransposed(QuantType type, byte* w, int rowBytes, int rows, int inDim, float* half, float* dst, int ld, bool avx2)
    {
        int bytes = type.BlockBytes(), blocks = inDim / QuantTypes.BlockSize;
        if (avx2)
            for (; rows >= 8; rows -= 8, w += 8L * rowBytes, dst += 8)
                DequantizeEightRows(type, w, rowBytes, blocks, half, dst, ld);
        for (int j = 0; j < rows; j++, w += rowBytes)
        {
            byte* p = w;
            float* col = dst + j;
            for (int k = 0; k < blocks; k++, p += bytes)
            {
                float d = Half16(half, p);
                float* o = col + (long)k * QuantTypes.BlockSize * ld;
                switch (type)
                {
                    case QuantType.Q8_0:
                        for (int i = 0; i < 32; i++) o[i * ld] = d * (sbyte)p[2 + i];
                        break;
                    case QuantType.Q4_0:
                        for (int i = 0; i < 16; i++)
                        {
                            o[i * ld] = d * ((p[2 + i] & 0x0F) - 8);
                            o[(i + 16) * ld] = d * ((p[2 + i] >> 4) - 8);
                        }
                        break;
                    default:
                        float min = Half16(half, p + 2);
                        for (int i = 0; i < 16; i++)
                        {
                            o[i * ld] = d * (p[4 + i] & 0x0F) + min;
                            o[(i + 16) * ld] = d * (p[4 + i] >> 4) + min;
                        }
                        break;
                }
            }
        }
    }

    /// <summary>
    /// Eight weight rows of <see cref="DequantizeTransposed"/>: per block, each row's 32 values as four vectors of eight
    /// (the same integer code, int-to-float conversion, multiply and add as the scalar loop, so the same floats), then
    /// each group of eight values of the eight rows transposed in registers and stored as one vector a dst row:
    /// dst[i * ld + r] = deq(W)[r, i] for r in [0, 8).
    /// </summary>
    static void DequantizeEightRows(QuantType type, byte* w, int rowBytes, int blocks, float* half, float* dst, int ld)
    {
        int bytes = type.BlockBytes();
        var v = stackalloc Vector256<float>[32];                    // [row r][group g] at 4 r + g
        for (int k = 0; k < blocks; k++)
        {
            for (int r = 0; r < 8; r++)
            {
                byte* p = w + (long)r * rowBytes + (long)k * bytes;
                var d = Vector256.Create(Half16(half, p));
                Vector256<int> c0, c1, c2, c3;
                if (type == QuantType.Q8_0)
                {
                    c0 = Avx2.ConvertToVector256Int32((sbyte*)p + 2);
                    c1 = Avx2.ConvertToVector256Int32((sbyte*)p + 10);
                    c2 = Avx2.ConvertToVector256Int32((sbyte*)p + 18);
                    c3 = Avx2.ConvertToVector256Int32((sbyte*)p + 26);
                }
                else
                {
                    // 16 bytes: value i < 16 in the low nibble of byte i, value i + 16 in its high nibble
                    byte* q = p + (type == QuantType.Q4_0 ? 2 : 4);
                    var nibble = Vector256.Create(0x0F);
                    var lo = Avx2.ConvertToVector256Int32(q);
                    var hi = Avx2.ConvertToVector256Int32(q + 8);
                    c0 = Avx2.And(lo, nibble);
                    c1 = Avx2.And(hi, nibble);
                    c2 = Avx2.ShiftRightLogical(lo, 4);
                    c3 = Avx2.ShiftRightLogical(hi, 4);
                    if (type == QuantType.Q4_0)
                    {
                        var eight = Vector256.Create(8);
                        (c0, c1, c2, c3) = (Avx2.Subtract(c0, eight), Avx2.Subtract(c1, eight), Avx2.Subtract(c2, eight), Avx2.Subtract(c3, eight));
                    }
                }
                var f0 = Avx.Multiply(d, Avx.ConvertToVector256Single(c0));
                var f1 = Avx.Multiply(d, Avx.ConvertToVector256Single(c1));
                var f2 = Avx.Multiply(d, Avx.ConvertToVector256Single(c2));
                var f3 = Avx.Multiply(d, Avx.ConvertToVector256Single(c3));
                if (type == QuantType.Q4_1)
                {
                    var min = Vector256.Create(Half16(half, p + 2));
                    (f0, f1, f2, f3) = (Avx.Add(f0, min), Avx.Add(f1, min), Avx.Add(f2, min), Avx.Add(f3, min));
                }
                v[4 * r] = f0; v[4 * r + 1] = f1; v[4 * r + 2] = f2; v[4 * r + 3] = f3;
            }
            float* band = dst + (long)k * QuantTypes.BlockSize * ld;
            for (int g = 0; g < 4; g++)
                Transpose8(v + g, band + (long)g * 8 * ld, ld);
        }
    }

    /// <summary>Rows v[0], v[4], ..., v[28] (8 floats each) stored transposed: out[i * ld + r] = v[4 r][i] (Linear's 8x8 transpose).</summary>
    static void Transpose8(Vector256<float>* v, float* o, int ld) =>
        Linear.Transpose8x8(v[0], v[4], v[8], v[12], v[16], v[20], v[24], v[28], ref *o, ld);

    /// <summary>
    /// x [n, in] to int8 codes per block of 32: scale = max|x| / 127, code = round(x / scale). <paramref name="scalesAndSums"/>
    /// [3 n blocks] gets the scales [n, blocks], then per row the blocks' sums of x and then of the codes, the code sums
    /// as int32 bits (row r's sums start at n blocks + 2 r blocks).
    /// </summary>
    internal static void QuantizeActivations(ReadOnlySpan<float> x, Span<sbyte> codes, Span<float> scalesAndSums, int n, int inDim)
    {
        int blocks = inDim / QuantTypes.BlockSize;
        Check.AtLeast(x.Length, n, inDim, nameof(x));
        Check.AtLeast(codes.Length, n, inDim, nameof(codes));
        Check.AtLeast(scalesAndSums.Length, 3 * n, blocks, nameof(scalesAndSums));
        bool vector = Simd.Bits >= 256 && Vector256.IsHardwareAccelerated, arm = Simd.Arm(Simd.Bits);
        fixed (float* px = x, ps = scalesAndSums)
        fixed (sbyte* pq = codes)
            for (int r = 0; r < n; r++)
                for (int k = 0; k < blocks; k++)
                {
                    long at = (long)r * inDim + k * QuantTypes.BlockSize;
                    float* d = ps + r * blocks + k, sums = ps + n * blocks + 2 * r * blocks + k;
                    if (vector) QuantizeBlock256(px + at, pq + at, d, sums, sums + blocks);
                    else if (arm) QuantizeBlock128(px + at, pq + at, d, sums, sums + blocks);
                    else QuantizeBlockScalar(px + at, pq + at, d, sums, sums + blocks);
                }
    }

    /// <summary>One block of 32: its scale, codes, sum of x and sum of codes (the reference for <see cref="QuantizeBlock256"/>).</summary>
    internal static void QuantizeBlockScalar(float* x, sbyte* q, float* scale, float* xSum, float* codeSum)
    {
        float amax = 0, sum = 0;
        for (int i = 0; i < QuantTypes.BlockSize; i++) { amax = MathF.Max(amax, MathF.Abs(x[i])); sum += x[i]; }
        float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
        int codes = 0;
        for (int i = 0; i < QuantTypes.BlockSize; i++) codes += q[i] = (sbyte)MathF.Round(x[i] * id);
        *scale = d;
        *xSum = sum;
        *codeSum = BitConverter.Int32BitsToSingle(codes);
    }

    /// <summary>The largest magnitude among a block's 32 values, held in four 8-float vectors (max is exact in any order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float AbsMax256(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3)
    {
        var m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
        var m4 = Vector128.Max(m.GetLower(), m.GetUpper());
        return MathF.Max(MathF.Max(m4[0], m4[1]), MathF.Max(m4[2], m4[3]));
    }

    /// <summary>
    /// <see cref="QuantizeBlockScalar"/> in four 8-float vectors: the same scale and codes (round half to even, as
    /// MathF.Round); the sum of x is added in another order, so it can differ from the scalar one in the last bits.
    /// </summary>
    internal static void QuantizeBlock256(float* x, sbyte* q, float* scale, float* xSum, float* codeSum)
    {
        var v0 = Vector256.Load(x);
        var v1 = Vector256.Load(x + 8);
        var v2 = Vector256.Load(x + 16);
        var v3 = Vector256.Load(x + 24);
        float d = AbsMax256(v0, v1, v2, v3) / 127f, id = d != 0 ? 1f / d : 0f;
        var scaleBy = Vector256.Create(id);
        var c0 = Vector256.ConvertToInt32(Vector256.Round(v0 * scaleBy));
        var c1 = Vector256.ConvertToInt32(Vector256.Round(v1 * scaleBy));
        var c2 = Vector256.ConvertToInt32(Vector256.Round(v2 * scaleBy));
        var c3 = Vector256.ConvertToInt32(Vector256.Round(v3 * scaleBy));
        Vector256.Narrow(Vector256.Narrow(c0, c1), Vector256.Narrow(c2, c3)).Store(q);
        *scale = d;
        *xSum = Vector256.Sum((v0 + v1) + (v2 + v3));
        *codeSum = BitConverter.Int32BitsToSingle(Vector256.Sum((c0 + c1) + (c2 + c3)));
    }

    /// <summary>
    /// <see cref="QuantizeBlockScalar"/> in 4-float vectors (the ARM64 path; portable code, so tested on any machine):
    /// the same scale and codes; the sum of x is added in another order.
    /// </summary>
    internal static void QuantizeBlock128(float* x, sbyte* q, float* scale, float* xSum, float* codeSum)
    {
        Vector128<float> m = default, s = default;
        for (int i = 0; i < QuantTypes.BlockSize; i += 4)
        {
            var v = Vector128.Load(x + i);
            m = Vector128.Max(m, Vector128.Abs(v));
            s += v;
        }
        float amax = MathF.Max(MathF.Max(m[0], m[1]), MathF.Max(m[2], m[3]));
        float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
        var scaleBy = Vector128.Create(id);
        Vector128<int> codes = default;
        for (int i = 0; i < QuantTypes.BlockSize; i += 16)
        {
            var c0 = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + i) * scaleBy));
            var c1 = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + i + 4) * scaleBy));
            var c2 = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + i + 8) * scaleBy));
            var c3 = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + i + 12) * scaleBy));
            Vector128.Narrow(Vector128.Narrow(c0, c1), Vector128.Narrow(c2, c3)).Store(q + i);
            codes += (c0 + c1) + (c2 + c3);
        }
        *scale = d;
        *xSum = Vector128.Sum(s);
        *codeSum = BitConverter.Int32BitsToSingle(Vector128.Sum(codes));
    }

    struct Work : IPartitionedWork
    {
        public byte* W;
        public QuantType Type;
        public int RowBytes;
        public sbyte* Codes;
        public float* Scales, Sums, B, Y, Half;
        public int N, In, Out, Blocks, Bits;
        public SimdIsa Isa;
        public Split Rows;

        public int GroupedRows; // rows [0, GroupedRows) are in row groups (RowGroups); 0 when held as rows

        public void Run(int part, int worker)
        {
            int s = Rows.Start(part), e = Rows.End(part);
            if (s >= e) return;
            bool avx2 = Bits >= 256 && Isa == SimdIsa.Avx2 && Avx2.IsSupported && Fma.IsSupported;
            int grouped = Math.Min(e, GroupedRows);
            if (s < grouped)
            {
                if (avx2) Groups(s, grouped);
                else
                {
                    // The other widths read rows as a file stores them: a group at a time, copied out into a
                    // per-thread buffer (a forced width on an x86 machine; ARM64 holds 4-bit matrices as rows).
                    var rows = t_groupRows is { } t && t.Length >= RowGroups.Rows * RowBytes ? t : t_groupRows = GC.AllocateUninitializedArray<byte>(RowGroups.Rows * RowBytes, pinned: true);
                    fixed (byte* pr = rows)
                        for (int g0 = s; g0 < grouped; g0 += RowGroups.Rows)
                        {
                            RowGroups.CopyRows(Type, W, Out, Blocks, g0, RowGroups.Rows, pr);
                            RunRows(pr, g0, g0 + RowGroups.Rows, avx2);
                        }
                }
                s = grouped;
            }
            if (s < e) RunRows(W + (long)s * RowBytes, s, e, avx2);
        }

        /// <summary>Rows [s, e) of whole groups against every activation row, in the group kernels.</summary>
        void Groups(int s, int e)
        {
            bool wide = GroupsWide(Bits);
            byte* g = W + (long)s * RowBytes;
            if (N == 1)
            {
                GroupRows(Type, wide, g, (e - s) / RowGroups.Rows, Blocks, Codes, Scales, Sums, B is null ? null : B + s, Y + s);
                return;
            }
            // A few rows: each group (at most 16 x 1728 bytes for GPT-2's widest) is read from memory once, then
            // from cache for the other activation rows.
            for (int j = s; j < e; j += RowGroups.Rows, g += (long)RowGroups.Rows * RowBytes)
                for (int r = 0; r < N; r++)
                    GroupRows(Type, wide, g, 1, Blocks, Codes + (long)r * In, Scales + r * Blocks, Sums + 2 * r * Blocks,
                        B is null ? null : B + j, Y + (long)r * Out + j);
        }

        /// <summary>Rows [s, e) as a file stores them, at <paramref name="w"/> (row s's bytes).</summary>
        void RunRows(byte* w, int s, int e, bool avx2)
        {
            if (N == 1)
            {
                // Decoding: this part's weight rows against the one activation row, the row loop inside one call.
                float* b = B is null ? null : B + s;
                if (avx2) { DotRows256(Type, w, RowBytes, e - s, Codes, Scales, Sums, Blocks, Half, b, Y + s); return; }
                if (Simd.Arm(Bits) && Isa == SimdIsa.AdvSimdDp) { DotRows<ArmSdot>(Type, w, RowBytes, e - s, Codes, Scales, Sums, Blocks, Half, b, Y + s); return; }
                if (Simd.Arm(Bits)) { DotRows<ArmDot>(Type, w, RowBytes, e - s, Codes, Scales, Sums, Blocks, Half, b, Y + s); return; }
            }
            // Activation rows in tiles of RowTile, so a tile's codes stay in cache while this part's weight rows stream
            // past them (decoding, n = 1, is one tile: every weight byte is read once).
            for (int r0 = 0; r0 < N; r0 += RowTile)
            {
                int r1 = Math.Min(N, r0 + RowTile);
                for (int j = s; j < e; j++)
                {
                    byte* row = w + (long)(j - s) * RowBytes;
                    float bias = B is null ? 0f : B[j];
                    int r = r0;
                    // Four activation rows per pass over the weight row: each block is loaded and unpacked once.
                    if (avx2)
                        for (; r + 4 <= r1; r += 4)
                        {
                            var dots = Dot256x4(Type, row, Codes + (long)r * In, In, Scales + r * Blocks, Sums + 2 * r * Blocks, Blocks, Half);
                            for (int k = 0; k < 4; k++) Y[(long)(r + k) * Out + j] = bias + dots[k];
                        }
                    for (; r < r1; r++)
                    {
                        sbyte* q = Codes + (long)r * In;
                        float* d = Scales + r * Blocks, sum = Sums + 2 * r * Blocks;
                        Y[(long)r * Out + j] = bias + Dot(Bits, Isa, Type, row, q, d, sum, Blocks, Half);
                    }
                }
            }
        }
    }

    /// <summary>
    /// One weight row against one quantised activation row, at the given vector width and instruction set:
    /// <paramref name="sum"/> holds the row's blocks' sums of x, then (at sum + blocks) of the codes.
    /// </summary>
    internal static float Dot(int bits, SimdIsa isa, QuantType type, byte* w, sbyte* q, float* d, float* sum, int blocks, float* half) => bits switch
    {
        512 or 256 when isa == SimdIsa.Avx2 && Avx2.IsSupported && Fma.IsSupported => Dot256(type, w, q, d, sum, blocks, half),
        128 when isa == SimdIsa.AdvSimdDp && AdvSimd.Arm64.IsSupported => ArmSdot.Dot(type, w, q, d, sum, blocks, half),
        128 when isa == SimdIsa.AdvSimd && AdvSimd.Arm64.IsSupported => ArmDot.Dot(type, w, q, d, sum, blocks, half),
        512 => Dot512(type, w, q, d, sum, blocks, half),
        256 or 128 => DotPortable(bits, type, w, q, d, sum, blocks, half),
        _ => DotScalar(type, w, q, d, sum, blocks, half),
    };

    /// <summary>An fp16 scale or minimum as a float, through the table (<see cref="QuantizedMatrix.HalfTable"/>, pinned by the caller).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Half16(float* table, byte* p) => table[Unsafe.ReadUnaligned<ushort>(p)];

    // ---- scalar: the reference path ----

    static float DotScalar(QuantType type, byte* w, sbyte* q, float* d, float* sum, int blocks, float* half)
    {
        int bytes = type.BlockBytes();
        float total = 0;
        for (int k = 0; k < blocks; k++, w += bytes, q += 32)
        {
            float dw = Half16(half, w);
            int acc = 0;
            switch (type)
            {
                case QuantType.Q8_0:
                    for (int i = 0; i < 32; i++) acc += (sbyte)w[2 + i] * q[i];
                    total += dw * d[k] * acc;
                    break;
                case QuantType.Q4_0:
                    for (int i = 0; i < 16; i++) acc += ((w[2 + i] & 0x0F) - 8) * q[i] + ((w[2 + i] >> 4) - 8) * q[i + 16];
                    total += dw * d[k] * acc;
                    break;
                default:
                    for (int i = 0; i < 16; i++) acc += (w[4 + i] & 0x0F) * q[i] + (w[4 + i] >> 4) * q[i + 16];
                    total += dw * d[k] * acc + Half16(half, w + 2) * sum[k];
                    break;
            }
        }
        return total;
    }

    // ---- 256 bits with AVX2: vpmaddubsw (unsigned x signed bytes -> pairs of 16-bit sums) + vpmaddwd ----

    /// <summary>One instruction set's dot product of a weight row with an activation row, for <see cref="DotRows{D}"/> (ARM64; x64 decodes through <see cref="DotRows256"/>).</summary>
    interface IRowDot
    {
        static abstract float Dot(QuantType type, byte* w, sbyte* q, float* d, float* sum, int blocks, float* half);
    }

    /// <summary>y[j] = b[j] + D.Dot(row j) for <paramref name="rows"/> consecutive weight rows: the same bits as row by row.</summary>
    static void DotRows<D>(QuantType type, byte* w, int rowBytes, int rows, sbyte* q, float* d, float* sum, int blocks, float* half, float* b, float* y)
        where D : struct, IRowDot
    {
        for (int j = 0; j < rows; j++, w += rowBytes)
            y[j] = (b is null ? 0f : b[j]) + D.Dot(type, w, q, d, sum, blocks, half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Dot256(QuantType type, byte* w, sbyte* q, float* d, float* sum, int blocks, float* half)
    {
        int bytes = type.BlockBytes();
        var ones = Vector256.Create((short)1);
        var low = Vector256.Create((byte)0x0F);
        var acc = Vector256<float>.Zero;
        float extra = 0; // Q4_1: the minimums' share, min_w * sum(x)
        for (int k = 0; k < blocks; k++, w += bytes, q += 32)
        {
            var ints = BlockInts256(type, w, q, sum + blocks + k, ones, low);
            if (type == QuantType.Q4_1) extra += Half16(half, w + 2) * sum[k];
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ints), Vector256.Create(Half16(half, w) * d[k]), acc);
        }
        return Vector256.Sum(acc) + extra;
    }

    /// <summary>
    /// y[j] = b[j] + <see cref="Dot256"/>(row j) for <paramref name="rows"/> consecutive weight rows, four rows per pass:
    /// each block's activation codes (and Q4_0's code sum) are loaded once for the four rows, and the four rows'
    /// accumulators are independent chains. Each row's operations are <see cref="Dot256"/>'s in its order: the same bits.
    /// </summary>
    static void DotRows256(QuantType type, byte* w, int rowBytes, int rows, sbyte* q, float* d, float* sum, int blocks, float* half, float* b, float* y)
    {
        switch (type)
        {
            case QuantType.Q8_0: DotRows256<Q8>(w, rowBytes, rows, q, d, sum, blocks, half, b, y); break;
            case QuantType.Q4_0: DotRows256<Q4>(w, rowBytes, rows, q, d, sum, blocks, half, b, y); break;
            default: DotRows256<Q4WithMin>(w, rowBytes, rows, q, d, sum, blocks, half, b, y); break;
        }
    }

    /// <summary>A quantisation type as a type argument, so that a kernel's per-type branches are decided when it is compiled.</summary>
    interface IQuantType { static abstract QuantType Type { get; } }
    readonly struct Q8 : IQuantType { public static QuantType Type => QuantType.Q8_0; }
    readonly struct Q4 : IQuantType { public static QuantType Type => QuantType.Q4_0; }
    readonly struct Q4WithMin : IQuantType { public static QuantType Type => QuantType.Q4_1; }

    static void DotRows256<T>(byte* w, int rowBytes, int rows, sbyte* q, float* d, float* sum, int blocks, float* half, float* b, float* y)
        where T : struct, IQuantType
    {
        var type = T.Type;
        int bytes = type.BlockBytes();
        var ones = Vector256.Create((short)1);
        var low = Vector256.Create((byte)0x0F);
        // Rows i, i + quarter, i + 2 quarter, i + 3 quarter together: four long sequential streams through the weights,
        // which the hardware prefetchers follow (four neighbouring rows would be four streams of one row each, restarted
        // every four rows: measured 1.3-1.9x slower on GPT-2's q8_0 matrices, which do not fit in cache).
        int quarter = rows / 4;
        long apart = (long)quarter * rowBytes;
        for (int j = 0; j < quarter; j++, w += rowBytes)
        {
            Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            float extra0 = 0, extra1 = 0, extra2 = 0, extra3 = 0;
            byte* w0 = w, w1 = w + apart, w2 = w + 2 * apart, w3 = w + 3 * apart;
            // 1 KiB ahead in each stream (prefetching past a part's end is harmless): GPT-2's q4_0 token 3.38 -> 3.08 ms
            // and 2.99 -> 2.83 in two 4-round bench-ab runs (when 4-bit matrices were decoded here); q8_0 unchanged.
            sbyte* qk = q;
            for (int k = 0; k < blocks; k++, w0 += bytes, w1 += bytes, w2 += bytes, w3 += bytes, qk += 32)
            {
                Sse.Prefetch0(w0 + 1024);
                Sse.Prefetch0(w1 + 1024);
                Sse.Prefetch0(w2 + 1024);
                Sse.Prefetch0(w3 + 1024);
                var qx = Avx.LoadVector256(qk);
                float dx = d[k];
                if (type == QuantType.Q8_0)
                {
                    var v0 = Avx.LoadVector256((sbyte*)w0 + 2);
                    var v1 = Avx.LoadVector256((sbyte*)w1 + 2);
                    var v2 = Avx.LoadVector256((sbyte*)w2 + 2);
                    var v3 = Avx.LoadVector256((sbyte*)w3 + 2);
                    acc0 = Block(Avx2.Abs(v0), Avx2.Sign(qx, v0), ones, default, Half16(half, w0) * dx, acc0);
                    acc1 = Block(Avx2.Abs(v1), Avx2.Sign(qx, v1), ones, default, Half16(half, w1) * dx, acc1);
                    acc2 = Block(Avx2.Abs(v2), Avx2.Sign(qx, v2), ones, default, Half16(half, w2) * dx, acc2);
                    acc3 = Block(Avx2.Abs(v3), Avx2.Sign(qx, v3), ones, default, Half16(half, w3) * dx, acc3);
                }
                else
                {
                    var c = type == QuantType.Q4_0 ? CodeSum(sum + blocks + k) : default;
                    if (type == QuantType.Q4_1)
                    {
                        float sx = sum[k];
                        extra0 += Half16(half, w0 + 2) * sx;
                        extra1 += Half16(half, w1 + 2) * sx;
                        extra2 += Half16(half, w2 + 2) * sx;
                        extra3 += Half16(half, w3 + 2) * sx;
                    }
                    acc0 = Block(Nibbles(type, w0, low), qx, ones, c, Half16(half, w0) * dx, acc0);
                    acc1 = Block(Nibbles(type, w1, low), qx, ones, c, Half16(half, w1) * dx, acc1);
                    acc2 = Block(Nibbles(type, w2, low), qx, ones, c, Half16(half, w2) * dx, acc2);
                    acc3 = Block(Nibbles(type, w3, low), qx, ones, c, Half16(half, w3) * dx, acc3);
                }
            }
            float b0 = 0, b1 = 0, b2 = 0, b3 = 0;
            if (b is not null) { b0 = b[j]; b1 = b[j + quarter]; b2 = b[j + 2 * quarter]; b3 = b[j + 3 * quarter]; }
            y[j] = b0 + (Vector256.Sum(acc0) + extra0);
            y[j + quarter] = b1 + (Vector256.Sum(acc1) + extra1);
            y[j + 2 * quarter] = b2 + (Vector256.Sum(acc2) + extra2);
            y[j + 3 * quarter] = b3 + (Vector256.Sum(acc3) + extra3);
        }
        w += 3 * apart;
        for (int j = 4 * quarter; j < rows; j++, w += rowBytes)
            y[j] = (b is null ? 0f : b[j]) + Dot256(type, w, q, d, sum, blocks, half);
    }

    /// <summary>
    /// One block's 32 products summed exactly, in integers, in eight 32-bit lanes: vpmaddubsw (unsigned x signed bytes,
    /// in pairs to 16 bits) and vpmaddwd (to 32). Q8_0's signed weights enter as magnitudes with their signs moved onto
    /// the activations (GGML's trick); Q4_0's unsigned nibbles are corrected by the activations' code sum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> BlockInts256(QuantType type, byte* w, sbyte* q, float* codeSum, Vector256<short> ones, Vector256<byte> low)
    {
        var qx = Avx.LoadVector256(q);
        if (type == QuantType.Q8_0)
        {
            var qw = Avx.LoadVector256((sbyte*)w + 2);
            return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(qw), Avx2.Sign(qx, qw)), ones);
        }
        var ints = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Nibbles(type, w, low), qx), ones);
        return type == QuantType.Q4_0 ? Avx2.Subtract(ints, CodeSum(codeSum)) : ints;
    }

    /// <summary>
    /// A 4-bit block's 32 nibbles as unsigned bytes, weights 0..15 (low nibbles) then 16..31 (high nibbles): the 16
    /// packed bytes are loaded into both halves, the upper half shifted right by 4, then both masked.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<byte> Nibbles(QuantType type, byte* w, Vector256<byte> low)
    {
        var both = Avx2.BroadcastVector128ToVector256(w + (type == QuantType.Q4_0 ? 2 : 4)).AsInt32();
        return Avx2.And(Avx2.Blend(both, Avx2.ShiftRightLogical(both.AsUInt16(), 4).AsInt32(), 0xF0).AsByte(), low);
    }

    /// <summary>
    /// Q4_0's nibbles are multiplied unsigned (0..15 for weights -8..7), so a block's integer sum comes out 8 times
    /// the activations' code sum too large; taking the code sum (stored as int32 bits) off each of the eight lanes
    /// corrects it exactly, in integers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> CodeSum(float* codeSum) => Vector256.Create(*(int*)codeSum);

    /// <summary>
    /// <see cref="Dot256"/> for four activation rows at once (codes <paramref name="stride"/> apart, scales and sums
    /// <paramref name="blocks"/> apart): the same per-row operations in the same order, so each result is bit-identical
    /// to <see cref="Dot256"/>'s for that row.
    /// </summary>
    static Vector128<float> Dot256x4(QuantType type, byte* w, sbyte* q, int stride, float* d, float* sum, int blocks, float* half)
    {
        int bytes = type.BlockBytes();
        var ones = Vector256.Create((short)1);
        var low = Vector256.Create((byte)0x0F);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float extra0 = 0, extra1 = 0, extra2 = 0, extra3 = 0;
        for (int k = 0; k < blocks; k++, w += bytes, q += 32)
        {
            float dw = Half16(half, w);
            Vector256<sbyte> qw = default;
            Vector256<byte> magnitude;
            if (type == QuantType.Q8_0)
            {
                qw = Avx.LoadVector256((sbyte*)w + 2);
                magnitude = Avx2.Abs(qw);
            }
            else
            {
                magnitude = Nibbles(type, w, low);
                if (type == QuantType.Q4_1)
                {
                    // Row i's sums of x start at sum + 2 i blocks.
                    float min = Half16(half, w + 2);
                    extra0 += min * sum[k];
                    extra1 += min * sum[2 * blocks + k];
                    extra2 += min * sum[4 * blocks + k];
                    extra3 += min * sum[6 * blocks + k];
                }
            }
            // Row i's code sums start at sum + (2 i + 1) blocks; zero (nothing to correct) but for Q4_0.
            Vector256<int> c0 = default, c1 = default, c2 = default, c3 = default;
            if (type == QuantType.Q4_0)
            {
                c0 = CodeSum(sum + blocks + k);
                c1 = CodeSum(sum + 3 * blocks + k);
                c2 = CodeSum(sum + 5 * blocks + k);
                c3 = CodeSum(sum + 7 * blocks + k);
            }
            bool signed = type == QuantType.Q8_0;
            acc0 = Block(magnitude, Signed(signed, Avx.LoadVector256(q), qw), ones, c0, dw * d[k], acc0);
            acc1 = Block(magnitude, Signed(signed, Avx.LoadVector256(q + stride), qw), ones, c1, dw * d[blocks + k], acc1);
            acc2 = Block(magnitude, Signed(signed, Avx.LoadVector256(q + 2 * stride), qw), ones, c2, dw * d[2 * blocks + k], acc2);
            acc3 = Block(magnitude, Signed(signed, Avx.LoadVector256(q + 3 * stride), qw), ones, c3, dw * d[3 * blocks + k], acc3);
        }
        return Vector128.Create(Vector256.Sum(acc0) + extra0, Vector256.Sum(acc1) + extra1, Vector256.Sum(acc2) + extra2, Vector256.Sum(acc3) + extra3);
    }

    /// <summary>acc + scale * (the 32 products of one block, summed in eight lanes), as <see cref="Dot256"/> does it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Block(Vector256<byte> magnitude, Vector256<sbyte> qx, Vector256<short> ones, Vector256<int> correction, float scale, Vector256<float> acc)
    {
        var ints = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(magnitude, qx), ones);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(ints, correction)), Vector256.Create(scale), acc);
    }

    /// <summary>Q8_0: the activation codes with the weights' signs moved onto them (the weights enter as magnitudes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<sbyte> Signed(bool signed, Vector256<sbyte> qx, Vector256<sbyte> qw) => signed ? Avx2.Sign(qx, qw) : qx;

    // ---- ARM64, 128 bits: SDOT (Dp) or widening multiplies (AdvSimd) ----

    readonly struct ArmSdot : IRowDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(QuantType type, byte* w, sbyte* q, float* d, float* sum, int blocks, float* half) => DotArm(true, type, w, q, d, sum, blocks, half);
    }

    readonly struct ArmDot : IRowDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(QuantType type, byte* w, sbyte* q, float* d, float* sum, int blocks, float* half) => DotArm(false, type, w, q, d, sum, blocks, half);
    }

    /// <summary>
    /// A block's 32 weights as two vectors of signed bytes (Q4_0's nibbles minus 8, Q4_1's raw nibbles 0..15) against
    /// the activation codes: with <paramref name="sdot"/> two SDOTs (four byte products summed into each 32-bit lane),
    /// otherwise four widening multiplies to 16 bits and pairwise widening adds to 32. Then one multiply-add by the
    /// block's two scales into four float lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float DotArm(bool sdot, QuantType type, byte* w, sbyte* q, float* d, float* sum, int blocks, float* half)
    {
        int bytes = type.BlockBytes();
        var acc = Vector128<float>.Zero;
        float extra = 0; // Q4_1: the minimums' share, min_w * sum(x)
        for (int k = 0; k < blocks; k++, w += bytes, q += 32)
        {
            Vector128<sbyte> w0, w1;
            if (type == QuantType.Q8_0)
            {
                w0 = AdvSimd.LoadVector128((sbyte*)w + 2);
                w1 = AdvSimd.LoadVector128((sbyte*)w + 18);
            }
            else
            {
                var packed = AdvSimd.LoadVector128(w + (type == QuantType.Q4_0 ? 2 : 4));
                w0 = AdvSimd.And(packed, Vector128.Create((byte)0x0F)).AsSByte();
                w1 = AdvSimd.ShiftRightLogical(packed, 4).AsSByte();
                if (type == QuantType.Q4_0)
                {
                    w0 = AdvSimd.Subtract(w0, Vector128.Create((sbyte)8));
                    w1 = AdvSimd.Subtract(w1, Vector128.Create((sbyte)8));
                }
                else extra += Half16(half, w + 2) * sum[k];
            }
            var q0 = AdvSimd.LoadVector128(q);
            var q1 = AdvSimd.LoadVector128(q + 16);
            Vector128<int> ints;
            if (sdot && Dp.IsSupported)
                ints = Dp.DotProduct(Dp.DotProduct(Vector128<int>.Zero, w0, q0), w1, q1);
            else
            {
                // Products of two int8 fit in 16 bits; each pairwise add widens to 32.
                ints = AdvSimd.AddPairwiseWidening(AdvSimd.MultiplyWideningLower(w0.GetLower(), q0.GetLower()));
                ints = AdvSimd.AddPairwiseWideningAndAdd(ints, AdvSimd.MultiplyWideningUpper(w0, q0));
                ints = AdvSimd.AddPairwiseWideningAndAdd(ints, AdvSimd.MultiplyWideningLower(w1.GetLower(), q1.GetLower()));
                ints = AdvSimd.AddPairwiseWideningAndAdd(ints, AdvSimd.MultiplyWideningUpper(w1, q1));
            }
            acc = AdvSimd.FusedMultiplyAdd(acc, AdvSimd.ConvertToSingle(ints), Vector128.Create(Half16(half, w) * d[k]));
        }
        return Vector128.Sum(acc) + extra;
    }

    // ---- 128 and 256 bits without AVX2: widen to 16 bits, multiply, widen to 32 and add ----

    static float DotPortable(int bits, QuantType type, byte* w, sbyte* q, float* d, float* sum, int blocks, float* half)
    {
        int bytes = type.BlockBytes();
        float total = 0;
        sbyte* unpacked = stackalloc sbyte[32];
        for (int k = 0; k < blocks; k++, w += bytes, q += 32)
        {
            sbyte* qw = Unpack(type, w, unpacked);
            int acc = bits == 256
                ? Sum(Vector256.Load(qw), Vector256.Load(q))
                : Sum(Vector128.Load(qw), Vector128.Load(q)) + Sum(Vector128.Load(qw + 16), Vector128.Load(q + 16));
            total += Half16(half, w) * d[k] * acc;
            if (type == QuantType.Q4_1) total += Half16(half, w + 2) * sum[k];
        }
        return total;
    }

    // ---- 512 bits without AVX2 (the portable path, forced in tests): two blocks per vector ----

    /// <remarks>
    /// An x64 CPU with AVX-512 has AVX2, and there the 512-bit setting takes the 256-bit integer kernels above
    /// (<see cref="Dot256"/>, <see cref="DotRows256"/>): a block is 32 bytes, and 256-bit vpmaddubsw sums with one
    /// float multiply-add per block measured faster than either this widening path or per-block horizontal sums.
    /// </remarks>
    static float Dot512(QuantType type, byte* w, sbyte* q, float* d, float* sum, int blocks, float* half)
    {
        int bytes = type.BlockBytes();
        float total = 0;
        sbyte* unpacked = stackalloc sbyte[64];
        int k = 0;
        for (; k + 2 <= blocks; k += 2, w += 2 * bytes, q += 64)
        {
            Unpack(type, w, unpacked, copy: true);
            Unpack(type, w + bytes, unpacked + 32, copy: true);
            var (a, b) = Vector512.Widen(Vector512.Load(unpacked));
            var (x0, x1) = Vector512.Widen(Vector512.Load(q));
            int acc0 = SumWidened(a * x0), acc1 = SumWidened(b * x1);
            total += Half16(half, w) * d[k] * acc0 + Half16(half, w + bytes) * d[k + 1] * acc1;
            if (type == QuantType.Q4_1)
                total += Half16(half, w + 2) * sum[k] + Half16(half, w + bytes + 2) * sum[k + 1];
        }
        if (k < blocks) total += DotPortable(256, type, w, q, d + k, sum + k, 1, half);
        return total;
    }

    /// <summary>
    /// The block's 32 weights as signed codes (Q4_1: the raw nibbles 0..15, its minimum is added apart) in
    /// <paramref name="into"/>; returns where they are (Q8_0's codes are used in place).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static sbyte* Unpack(QuantType type, byte* w, sbyte* into, bool copy = false)
    {
        if (type == QuantType.Q8_0)
        {
            if (!copy) return (sbyte*)w + 2;
            Buffer.MemoryCopy(w + 2, into, 32, 32);
            return into;
        }
        int off = type == QuantType.Q4_0 ? 2 : 4, bias = type == QuantType.Q4_0 ? 8 : 0;
        for (int i = 0; i < 16; i++)
        {
            into[i] = (sbyte)((w[off + i] & 0x0F) - bias);
            into[i + 16] = (sbyte)((w[off + i] >> 4) - bias);
        }
        return into;
    }

    // Products of two int8 fit in 16 bits (|p| <= 128 * 127); their sums are taken in 32.
    static int Sum(Vector256<sbyte> a, Vector256<sbyte> b)
    {
        var (a0, a1) = Vector256.Widen(a);
        var (b0, b1) = Vector256.Widen(b);
        var (p0, p1) = Vector256.Widen(a0 * b0);
        var (p2, p3) = Vector256.Widen(a1 * b1);
        return Vector256.Sum(p0 + p1 + p2 + p3);
    }

    static int Sum(Vector128<sbyte> a, Vector128<sbyte> b)
    {
        var (a0, a1) = Vector128.Widen(a);
        var (b0, b1) = Vector128.Widen(b);
        var (p0, p1) = Vector128.Widen(a0 * b0);
        var (p2, p3) = Vector128.Widen(a1 * b1);
        return Vector128.Sum(p0 + p1 + p2 + p3);
    }

    static int SumWidened(Vector512<short> products)
    {
        var (p0, p1) = Vector512.Widen(products);
        return Vector512.Sum(p0 + p1);
    }
}
