using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Dense layer with the weight stored [In, Out] (GPT-2's Conv1D, makemore), so y = x @ W + b.
//   x  [n, In]     w  [In, Out]     b  [Out] or empty (no bias)     y  [n, Out]
// Backward accumulates (+=), like llm.c: the caller zeroes gradients once per step.
//   dx [n, In]   += dy @ W^T            (skipped when dx is empty)
//   dw [In, Out] += x^T @ dy
//   db [Out]     += column sums of dy   (skipped when db is empty)
// Activations (x, y, dx, dy) may be longer than n rows (a buffer sized for the largest batch);
// parameters and their gradients (w, b, dw, db) must have exactly their shape.
// A call is cut into parts for Parallelism.Threads (WorkerPool): Forward by rows of y in blocks of 4 when it has at
// least as many rows as columns, else by columns (see Forward), and a one-row product by fixed slices of w's rows
// (ForwardOneRow); Backward by rows of dw, rows or columns of dx (see Backward) and columns of db.
// Each element is computed by one thread with the same operations as on one thread (a one-row product's slices are
// fixed whatever the thread count), so results do not depend on the thread count.
public static unsafe class Linear
{
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y, int n, int inDim, int outDim)
    {
        Check.AtLeast(x.Length, n, inDim, nameof(x));
        Check.Exactly(w.Length, inDim, outDim, nameof(w));
        if (!b.IsEmpty) Check.SameLength(outDim, b.Length, nameof(b));
        Check.AtLeast(y.Length, n, outDim, nameof(y));

        if (n == 1 && inDim >= DecodeSlices * 64 && outDim >= 64)
        {
            ForwardOneRow(x, w, b, y, inDim, outDim);
            return;
        }
        fixed (float* px = x, pw = w, pb = b, py = y)
        {
            var work = new ForwardWork
            {
                X = px, W = pw, B = b.IsEmpty ? null : pb, Y = py, N = n, In = inDim, Out = outDim, Bits = Simd.Bits,
            };
            int parts = Parallelism.Parts((long)n * inDim * outDim, Math.Max((n + 3) / 4, (outDim + 15) / 16));
            // Each part packs its own copy of what it multiplies: split by rows (blocks of 4), every part packs all of w
            // [in, out]; by columns, every part packs all of x [n, in]. Split whichever repeats less: rows when n >= out
            // (training's long batches), columns otherwise (a prompt pass: 64 rows against 768-3072 columns packed twice
            // measured slower). Column chunks are multiples of 96 (every micro-kernel's columns: 16, 32, 12) once there
            // are rows for a tile, else of 16 (decoding), so every column keeps the vector width it gets on one thread.
            work.ByRows = (n + 3) / 4 >= 2 && n >= outDim;
            work.Chunks = work.ByRows ? new Split(n, parts, 4) : new Split(outDim, parts, n >= 6 ? 96 : 16);
            WorkerPool.For(ref work, Math.Min(parts, work.Chunks.Parts));
        }
    }

    /// <summary>
    /// Slices of w's rows a one-row product (decoding) is cut into, whatever the thread count: each slice's partial
    /// y is summed over its rows of w in order, then y = b + the partials in slice order, so the result does not
    /// depend on the threads (it differs from the batched product's in the last bits: decoding is checked against the
    /// full forward to 1e-4). A thread reads its slices' rows of w whole, one contiguous stream; split by columns, each
    /// thread read part of every row, and GPT-2's fp32 token took 16.95 ms against 15.55 now (bench-ab, 3 rounds).
    /// Products with In below 256 (a width-128 model) keep the column split.
    /// </summary>
    internal const int DecodeSlices = 4;

    [ThreadStatic] static float[]? t_partials;

    static void ForwardOneRow(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y, int inDim, int outDim)
    {
        int need = DecodeSlices * outDim;
        var partials = t_partials is { } t && t.Length >= need ? t : t_partials = GC.AllocateUninitializedArray<float>(need, pinned: true);
        fixed (float* px = x, pw = w, pp = partials)
        {
            var work = new SliceWork { X = px, W = pw, P = pp, In = inDim, Out = outDim, Bits = Simd.Bits };
            if (Parallelism.Parts((long)inDim * outDim, DecodeSlices) > 1) WorkerPool.For(ref work, DecodeSlices);
            else for (int part = 0; part < DecodeSlices; part++) work.Run(part, 0);
        }
        // y = b + p0 + p1 + p2 + p3, in that order for every element (the vector and scalar paths add alike).
        var p = partials.AsSpan(0, need);
        if (b.IsEmpty) p[..outDim].CopyTo(y);
        else TensorPrimitives.Add(b, p[..outDim], y[..outDim]);
        for (int s = 1; s < DecodeSlices; s++)
            TensorPrimitives.Add(y[..outDim], p.Slice(s * outDim, outDim), y[..outDim]);
    }

    // Slice `part` of a one-row product (rows of w in multiples of 8; the last slice takes the rest): its partial y
    // from zero, through the one-row loops (Row1).
    struct SliceWork : IPartitionedWork
    {
        public float* X, W, P;
        public int In, Out, Bits;

        public void Run(int part, int worker)
        {
            int rows = (In / DecodeSlices + 7) / 8 * 8;
            int s0 = part * rows, s1 = part == DecodeSlices - 1 ? In : Math.Min(In, s0 + rows);
            float* partial = P + (nint)part * Out;
            new Span<float>(partial, Out).Clear();
            if (s0 < s1)
                MatMulAddRows(Bits, ref X[s0], In, 1, ref W[(nint)s0 * Out], ref *partial, 1, s1 - s0, Out, Out, Out);
        }
    }

    /// <summary>y[r, c0 .. c0 + width) = b[c0 ..] (or 0 without a bias) for rows [r0, r1); the start of every forward product.</summary>
    internal static void FillBias(float* b, float* y, int r0, int r1, int c0, int width, int stride)
    {
        for (int r = r0; r < r1; r++)
        {
            var row = new Span<float>(y + (nint)r * stride + c0, width);
            if (b is null) row.Clear();
            else new ReadOnlySpan<float>(b + c0, width).CopyTo(row);
        }
    }

    // y rows [r0, r1) (or columns [j0, j1) of every row) = b, then += x @ w.
    struct ForwardWork : IPartitionedWork
    {
        public float* X, W, B, Y;
        public int N, In, Out, Bits;
        public bool ByRows;
        public Split Chunks;

        public void Run(int part, int worker)
        {
            int s = Chunks.Start(part), e = Chunks.End(part);
            if (s >= e) return;
            if (ByRows)
            {
                Linear.FillBias(B, Y, s, e, 0, Out, Out);
                // y [rows, Out] += x [rows, In] @ w [In, Out]
                MatMulAdd(Bits, ref X[(nint)s * In], In, 1, ref *W, ref Y[(nint)s * Out], e - s, In, Out, Out);
            }
            else
            {
                int width = e - s;
                Linear.FillBias(B, Y, 0, N, s, width, Out);
                // y [n, cols s..e) += x [n, In] @ w [In, cols s..e)
                MatMulAdd(Bits, ref *X, In, 1, ref W[s], ref Y[s], N, In, width, Out);
            }
        }
    }

    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> db, int n, int inDim, int outDim)
    {
        Check.AtLeast(x.Length, n, inDim, nameof(x));
        Check.Exactly(w.Length, inDim, outDim, nameof(w));
        Check.AtLeast(dy.Length, n, outDim, nameof(dy));
        if (!dx.IsEmpty) Check.AtLeast(dx.Length, n, inDim, nameof(dx));
        if (!dw.IsEmpty) Check.Exactly(dw.Length, inDim, outDim, nameof(dw));
        if (!db.IsEmpty) Check.SameLength(outDim, db.Length, nameof(db));

        fixed (float* px = x, pw = w, pdy = dy, pdx = dx, pdw = dw, pdb = db)
        {
            var work = new BackwardWork
            {
                X = px, W = pw, Dy = pdy, Dx = dx.IsEmpty ? null : pdx, Dw = dw.IsEmpty ? null : pdw, Db = db.IsEmpty ? null : pdb,
                N = n, In = inDim, Out = outDim, Bits = Simd.Bits,
            };
            long macs = (long)n * inDim * outDim * ((dx.IsEmpty ? 0 : 1) + (dw.IsEmpty ? 0 : 1));
            int parts = Parallelism.Parts(macs, Math.Max((inDim + 3) / 4, (n + 3) / 4));
            // Part p owns rows of dw (In), rows of dx (n) and columns of db: no two parts write one element.
            work.DwRows = new Split(inDim, parts, 4);
            // dx through the tiled GEMM from TransposedTiledFromRows rows on, below that rows in blocks of 4 through the
            // dot-product loops. Tiled, a part packs all of its rows of dy and transposes all of its columns of w: split
            // the columns of dx (at multiples of 16) when In < n, so that the duplicated work is the smaller of the two
            // (by columns a part transposes In/parts rows of w but packs all n rows of dy; by rows the reverse).
            work.DxTiled = TransposedTiled(n);
            work.DxByCols = work.DxTiled && inDim >= n;
            work.DxRows = work.DxByCols ? new Split(inDim, parts, 16) : new Split(n, parts, 4);
            work.DbCols = new Split(outDim, parts, 16);
            WorkerPool.For(ref work, parts);
        }
    }

    struct BackwardWork : IPartitionedWork
    {
        public float* X, W, Dy, Dx, Dw, Db;
        public int N, In, Out, Bits;
        public bool DxTiled, DxByCols;
        public Split DwRows, DxRows, DbCols;

        public void Run(int part, int worker)
        {
            int s = DbCols.Start(part), e = DbCols.End(part);
            if (Db is not null && s < e)
                for (int r = 0; r < N; r++)
                    VectorMath.Add(Bits, ref Dy[(nint)r * Out + s], ref Db[s], e - s);
            // dw [In, Out] += x^T [In, n] @ dy [n, Out]; element (i, r) of x^T is x[r * In + i]. Rows s..e of dw.
            s = DwRows.Start(part); e = DwRows.End(part);
            if (Dw is not null && s < e)
                MatMulAdd(Bits, ref X[s], 1, In, ref *Dy, ref Dw[(nint)s * Out], e - s, N, Out, Out);
            // dx [n, In] += dy [n, Out] @ w [In, Out]^T: columns s..e of dx (rows s..e of w), or rows s..e of dx.
            s = DxRows.Start(part); e = DxRows.End(part);
            if (Dx is not null && s < e)
            {
                if (DxByCols) MatMulTransposedTiled(Bits, ref *Dy, ref W[(nint)s * Out], ref Dx[s], N, Out, e - s, In);
                else if (DxTiled) MatMulTransposedTiled(Bits, ref Dy[(nint)s * Out], ref *W, ref Dx[(nint)s * In], e - s, Out, In, In);
                else MatMulTransposedAdd(Bits, ref Dy[(nint)s * Out], ref *W, ref Dx[(nint)s * In], e - s, Out, In, In);
            }
        }
    }

    /// <summary>
    /// C [m, cols] += A [m, k] @ B [k, cols], where A(p, q) = a[p * rowStride + q * colStride] (so A may be a transpose)
    /// and B, C are row-major. Whole tiles of C go through a packed, register-tiled micro-kernel (LinearTiles.cs: 6 rows
    /// x 2 vectors, about 80 GFLOP/s on one AVX2 core against a 100 GFLOP/s FMA peak, from 30-45 with the four-row loops
    /// alone; 8 rows x 12 columns with multiply-adds by lane on ARM64); the edges go through the four-row loops, where
    /// four rows of C at a time share each load of a B row.
    /// A long k is taken in blocks of B rows that stay in the L2 cache (about 128 KiB each) while every row of C
    /// passes over them; each element of C still sums its k products in order, so blocking changes no result.
    /// B and C rows are <paramref name="ld"/> floats apart (ld = cols, or more for a column slice of wider matrices).
    /// A column keeps its vector width when C is cut into column slices that start at multiples of 16.
    /// </summary>
    internal static void MatMulAdd(int bits, ref float a, int rowStride, int colStride, ref float b, ref float c, int m, int k, int cols, int ld) =>
        MatMulAdd(bits, ref a, rowStride, colStride, ref b, ref c, m, k, cols, ld, ld);

    /// <summary>
    /// <see cref="MatMulAdd(int, ref float, int, int, ref float, ref float, int, int, int, int)"/> with B rows
    /// <paramref name="ldb"/> floats apart and C rows <paramref name="ldc"/> apart (B a separate buffer, e.g. a tile of
    /// dequantised weights, while C is a column slice of a wider matrix): the same operations, so the same results.
    /// </summary>
    internal static void MatMulAdd(int bits, ref float a, int rowStride, int colStride, ref float b, ref float c, int m, int k, int cols, int ldb, int ldc)
    {
        // Blocks of tile rows x tile columns go through the register-tiled micro-kernel; the rest (the last rows, the
        // columns past the last whole tile, and m below a tile, i.e. decoding) through the four-row loops below.
        // Every path sums each element's k products in order with one fused multiply-add per product, and a column
        // gets the same vector width (or the scalar tail) on every path, so the split changes no result.
        // A short k (the dw product when decoding: k = n = 1) is not worth packing: the loops below touch C as often.
        if (k >= MinTiledK)
        {
            bool tiled =
                Simd.Arm(bits) ? Tiled<Simd128, F128, ArmTile8x12>(bits, ref a, rowStride, colStride, ref b, ref c, m, k, cols, ldb, ldc) :
                bits >= 512 ? Tiled<Simd512, F512, Tile8x2<Simd512, F512>>(bits, ref a, rowStride, colStride, ref b, ref c, m, k, cols, ldb, ldc) :
                bits >= 256 ? Tiled<Simd256, F256, Tile6x2<Simd256, F256>>(bits, ref a, rowStride, colStride, ref b, ref c, m, k, cols, ldb, ldc) :
                bits >= 128 && Tiled<Simd128, F128, Tile6x2<Simd128, F128>>(bits, ref a, rowStride, colStride, ref b, ref c, m, k, cols, ldb, ldc);
            if (tiled) return;
        }
        MatMulAddRows(bits, ref a, rowStride, colStride, ref b, ref c, m, k, cols, ldb, ldc);
    }

    /// <summary>
    /// <see cref="MatMulAdd"/> through the micro-kernel <typeparamref name="K"/> where at least one whole tile fits
    /// (false, and nothing done, otherwise): the whole tiles, then the edges through the four-row loops.
    /// </summary>
    static bool Tiled<S, V, K>(int bits, ref float a, int rowStride, int colStride, ref float b, ref float c, int m, int k, int cols, int ldb, int ldc)
        where S : struct, ISimd<V> where V : struct where K : struct, IMicroKernel
    {
        int tiles = m / K.Rows;
        if (tiles == 0 || cols < K.Cols) return false;
        int rows = tiles * K.Rows, tiledCols = cols / K.Cols * K.Cols;
        PackAndRun<S, V, K>(ref a, rowStride, colStride, ref b, ref c, rows, k, tiledCols, ldb, ldc);
        // tiledCols is a multiple of every narrower width, so the remaining columns keep their widths.
        if (tiledCols < cols)
            MatMulAddRows(bits, ref a, rowStride, colStride, ref Unsafe.Add(ref b, tiledCols), ref Unsafe.Add(ref c, tiledCols),
                rows, k, cols - tiledCols, ldb, ldc);
        if (rows < m)
            MatMulAddRows(bits, ref Unsafe.Add(ref a, (nint)rows * rowStride), rowStride, colStride, ref b,
                ref Unsafe.Add(ref c, (nint)rows * ldc), m - rows, k, cols, ldb, ldc);
        return true;
    }

    // k block: a packed B panel of KBlock x 16 floats (16 KiB at 256 bits) stays in L1 while every row tile of a
    // row block passes over it. Row block: a packed A block of RowBlock x KBlock floats (96 KiB) stays in L2 while
    // every column tile passes over it. RowBlock is a multiple of every micro-kernel's rows (6 and 8).
    const int KBlock = 256, RowBlock = 96;
    // Below this k the packing costs more than the tile saves (measured: n = 1, k = 1 ran 2x slower tiled).
    internal const int MinTiledK = 8;

    // Per-thread packing buffers, grown once (to the largest tile's size) and reused: no allocation per call.
    [ThreadStatic] static float[]? t_packA, t_packB;

    /// <summary>
    /// C [rows, cols] += A @ B for rows a multiple of K.Rows and cols a multiple of K.Cols: for each k block, A is
    /// packed by row tiles ([tile][q][K.Rows], so the kernel reads a tile's column of A from one pointer) and each B
    /// column tile is packed contiguous ([q][K.Cols]: no cache-set conflicts when ld is a large power of 2).
    /// </summary>
    static void PackAndRun<S, V, K>(ref float a, nint rowStride, nint colStride, ref float b, ref float c, int rows, int k, int cols, nint ldb, nint ldc)
        where S : struct, ISimd<V> where V : struct where K : struct, IMicroKernel
    {
        int tr = K.Rows, tc = K.Cols;
        var packA = t_packA;
        if (packA is null || packA.Length < RowBlock * KBlock + PackSlack) t_packA = packA = new float[RowBlock * KBlock + PackSlack];
        var packB = t_packB;
        if (packB is null || packB.Length < KBlock * 32) t_packB = packB = new float[KBlock * 32];
        ref float pa = ref MemoryMarshal.GetArrayDataReference(packA);
        ref float pb = ref MemoryMarshal.GetArrayDataReference(packB);
        for (int q0 = 0; q0 < k; q0 += KBlock)
        {
            int kc = Math.Min(KBlock, k - q0);
            ref float aq = ref Unsafe.Add(ref a, (nint)q0 * colStride);
            ref float bq = ref Unsafe.Add(ref b, (nint)q0 * ldb);
            for (int p0 = 0; p0 < rows; p0 += RowBlock)
            {
                int mc = Math.Min(RowBlock, rows - p0);
                // packA[t * tr * kc + q * tr + r] = A(p0 + tr t + r, q0 + q)
                for (int t = 0; t < mc; t += tr)
                    PackRowTile(ref Unsafe.Add(ref aq, (nint)(p0 + t) * rowStride), rowStride, colStride, ref Unsafe.Add(ref pa, (nint)t * kc), tr, kc);
                for (int j = 0; j < cols; j += tc)
                {
                    ref float bj = ref Unsafe.Add(ref bq, j);
                    for (int q = 0; q < kc; q++)
                    {
                        ref float src = ref Unsafe.Add(ref bj, (nint)q * ldb);
                        ref float dst = ref Unsafe.Add(ref pb, (nint)q * tc);
                        for (int v = 0; v < tc; v += S.Count)
                            S.Store(S.Load(ref Unsafe.Add(ref src, v)), ref Unsafe.Add(ref dst, v));
                    }
                    ref float cj = ref Unsafe.Add(ref c, (nint)p0 * ldc + j);
                    for (int t = 0; t < mc; t += tr)
                        K.Run(ref Unsafe.Add(ref pa, (nint)t * kc), ref pb, ref Unsafe.Add(ref cj, t * ldc), ldc, kc);
                }
            }
        }
    }

    // The four-row path: the fallback for edge tiles and the whole product when m < 6.
    static void MatMulAddRows(int bits, ref float a, int rowStride, int colStride, ref float b, ref float c, int m, int k, int cols, int ldb, int ldc)
    {
        int block = Math.Max(16, 32768 / Math.Max(cols, 1));
        for (int q = 0; q < k; q += block)
            MatMulAddBlock(bits, ref Unsafe.Add(ref a, (nint)q * colStride), rowStride, colStride,
                ref Unsafe.Add(ref b, (nint)q * ldb), ref c, m, Math.Min(block, k - q), cols, ldb, ldc);
    }

    static void MatMulAddBlock(int bits, ref float a, int rowStride, int colStride, ref float b, ref float c, int m, int k, int cols, int ldb, int ldc)
    {
        int p = 0;
        for (; p + 4 <= m; p += 4)
        {
            ref float ap = ref Unsafe.Add(ref a, (nint)p * rowStride);
            ref float cp = ref Unsafe.Add(ref c, (nint)p * ldc);
            int j = 0;
            if (bits >= 512) j = Rows4<Simd512, F512>(ref ap, rowStride, colStride, ref b, ref cp, k, cols, ldb, ldc, j);
            if (bits >= 256) j = Rows4<Simd256, F256>(ref ap, rowStride, colStride, ref b, ref cp, k, cols, ldb, ldc, j);
            if (bits >= 128) j = Rows4<Simd128, F128>(ref ap, rowStride, colStride, ref b, ref cp, k, cols, ldb, ldc, j);
            Rows4<Scalar, float>(ref ap, rowStride, colStride, ref b, ref cp, k, cols, ldb, ldc, j);
        }
        for (; p < m; p++)
        {
            ref float ap = ref Unsafe.Add(ref a, (nint)p * rowStride);
            ref float cp = ref Unsafe.Add(ref c, (nint)p * ldc);
            int j = 0;
            if (bits >= 512) j = Row1<Simd512, F512>(ref ap, colStride, ref b, ref cp, k, cols, ldb, j);
            if (bits >= 256) j = Row1<Simd256, F256>(ref ap, colStride, ref b, ref cp, k, cols, ldb, j);
            if (bits >= 128) j = Row1<Simd128, F128>(ref ap, colStride, ref b, ref cp, k, cols, ldb, j);
            Row1<Scalar, float>(ref ap, colStride, ref b, ref cp, k, cols, ldb, j);
        }
    }

    // Columns [j, j + Count) of four C rows stay in registers for the whole k loop.
    static int Rows4<S, V>(ref float a, nint rowStride, nint colStride, ref float b, ref float c, int k, int cols, nint ldb, nint ldc, int j)
        where S : struct, ISimd<V> where V : struct
    {
        for (; j + S.Count <= cols; j += S.Count)
        {
            ref float c0 = ref Unsafe.Add(ref c, j);
            ref float c1 = ref Unsafe.Add(ref c0, ldc);
            ref float c2 = ref Unsafe.Add(ref c1, ldc);
            ref float c3 = ref Unsafe.Add(ref c2, ldc);
            V s0 = S.Load(ref c0), s1 = S.Load(ref c1), s2 = S.Load(ref c2), s3 = S.Load(ref c3);
            ref float bq = ref Unsafe.Add(ref b, j);
            ref float aq = ref a;
            for (int q = 0; q < k; q++)
            {
                V bv = S.Load(ref bq);
                s0 = S.MulAdd(S.Splat(aq), bv, s0);
                s1 = S.MulAdd(S.Splat(Unsafe.Add(ref aq, rowStride)), bv, s1);
                s2 = S.MulAdd(S.Splat(Unsafe.Add(ref aq, 2 * rowStride)), bv, s2);
                s3 = S.MulAdd(S.Splat(Unsafe.Add(ref aq, 3 * rowStride)), bv, s3);
                bq = ref Unsafe.Add(ref bq, ldb);
                aq = ref Unsafe.Add(ref aq, colStride);
            }
            S.Store(s0, ref c0); S.Store(s1, ref c1); S.Store(s2, ref c2); S.Store(s3, ref c3);
        }
        return j;
    }

    // One row of C (decoding: y [1, cols] += x [1, k] @ W [k, cols]), columns [j, j + a multiple of Count): each
    // element sums its k products in order with one fused multiply-add each, C's row staying in L1 while B is read
    // eight rows per pass along the row (then four, then one: eight measured 6% faster than four on GPT-2's fp32
    // decoding, where every byte of the weights comes from memory). A 16-column strip at a time down k rows, as
    // before, read B a cache line per row: a strided walk that GPT-2's fp32 decoding paid for in memory bandwidth.
    static int Row1<S, V>(ref float a, nint colStride, ref float b, ref float c, int k, int cols, nint ldb, int j)
        where S : struct, ISimd<V> where V : struct
    {
        int end = j + (cols - j) / S.Count * S.Count;
        if (end == j) return j;
        int q = 0;
        for (; q + 8 <= k; q += 8)
        {
            V a0 = S.Splat(Unsafe.Add(ref a, q * colStride)), a1 = S.Splat(Unsafe.Add(ref a, (q + 1) * colStride));
            V a2 = S.Splat(Unsafe.Add(ref a, (q + 2) * colStride)), a3 = S.Splat(Unsafe.Add(ref a, (q + 3) * colStride));
            V a4 = S.Splat(Unsafe.Add(ref a, (q + 4) * colStride)), a5 = S.Splat(Unsafe.Add(ref a, (q + 5) * colStride));
            V a6 = S.Splat(Unsafe.Add(ref a, (q + 6) * colStride)), a7 = S.Splat(Unsafe.Add(ref a, (q + 7) * colStride));
            ref float b0 = ref Unsafe.Add(ref b, q * ldb);
            for (int jj = j; jj < end; jj += S.Count)
            {
                ref float cj = ref Unsafe.Add(ref c, jj);
                ref float bj = ref Unsafe.Add(ref b0, jj);
                V s0 = S.MulAdd(a0, S.Load(ref bj), S.Load(ref cj));
                s0 = S.MulAdd(a1, S.Load(ref Unsafe.Add(ref bj, ldb)), s0);
                s0 = S.MulAdd(a2, S.Load(ref Unsafe.Add(ref bj, 2 * ldb)), s0);
                s0 = S.MulAdd(a3, S.Load(ref Unsafe.Add(ref bj, 3 * ldb)), s0);
                s0 = S.MulAdd(a4, S.Load(ref Unsafe.Add(ref bj, 4 * ldb)), s0);
                s0 = S.MulAdd(a5, S.Load(ref Unsafe.Add(ref bj, 5 * ldb)), s0);
                s0 = S.MulAdd(a6, S.Load(ref Unsafe.Add(ref bj, 6 * ldb)), s0);
                S.Store(S.MulAdd(a7, S.Load(ref Unsafe.Add(ref bj, 7 * ldb)), s0), ref cj);
            }
        }
        for (; q + 4 <= k; q += 4)
        {
            V a0 = S.Splat(Unsafe.Add(ref a, q * colStride)), a1 = S.Splat(Unsafe.Add(ref a, (q + 1) * colStride));
            V a2 = S.Splat(Unsafe.Add(ref a, (q + 2) * colStride)), a3 = S.Splat(Unsafe.Add(ref a, (q + 3) * colStride));
            ref float b0 = ref Unsafe.Add(ref b, q * ldb);
            ref float b1 = ref Unsafe.Add(ref b0, ldb);
            ref float b2 = ref Unsafe.Add(ref b1, ldb);
            ref float b3 = ref Unsafe.Add(ref b2, ldb);
            for (int jj = j; jj < end; jj += S.Count)
            {
                ref float cj = ref Unsafe.Add(ref c, jj);
                V s0 = S.MulAdd(a0, S.Load(ref Unsafe.Add(ref b0, jj)), S.Load(ref cj));
                s0 = S.MulAdd(a1, S.Load(ref Unsafe.Add(ref b1, jj)), s0);
                s0 = S.MulAdd(a2, S.Load(ref Unsafe.Add(ref b2, jj)), s0);
                S.Store(S.MulAdd(a3, S.Load(ref Unsafe.Add(ref b3, jj)), s0), ref cj);
            }
        }
        for (; q < k; q++)
        {
            V aq = S.Splat(Unsafe.Add(ref a, q * colStride));
            ref float bq = ref Unsafe.Add(ref b, q * ldb);
            for (int jj = j; jj < end; jj += S.Count)
            {
                ref float cj = ref Unsafe.Add(ref c, jj);
                S.Store(S.MulAdd(aq, S.Load(ref Unsafe.Add(ref bq, jj)), S.Load(ref cj)), ref cj);
            }
        }
        return end;
    }

    /// <summary>
    /// Rows (of A and C) from which a transposed product goes through <see cref="MatMulTransposedTiled"/>: below this, the
    /// transposing and packing cost more than the register tiles save (decoding: one row).
    /// </summary>
    internal const int TransposedTiledFromRows = 16;

    /// <summary>Whether a transposed product of <paramref name="m"/> rows goes through <see cref="MatMulTransposedTiled"/>.</summary>
    internal static bool TransposedTiled(int m) => m >= TransposedTiledFromRows;

    [ThreadStatic] static float[]? t_transposed;

    /// <summary>
    /// C [m, cols] += A [m, k] @ B [cols, k]^T (A and B rows k floats apart, C rows <paramref name="ldc"/> apart)
    /// through the register-tiled GEMM: B's rows are transposed a tile at a time into a
    /// per-thread buffer [k][width] (all the columns when they fit in about 256 KiB, so that A is packed once; else a
    /// multiple of 32 columns, at least 96, so only the last tile has edge columns; the tile stays in L2 while <see cref="MatMulAdd(int, ref float, int, int, ref float, ref float, int, int, int, int, int)"/>
    /// packs it), then multiplied. Each element sums its k products in order, one fused multiply-add each, like every
    /// path of MatMulAdd: a caller may split the columns at multiples of 16 without changing a result.
    /// </summary>
    internal static void MatMulTransposedTiled(int bits, ref float a, ref float b, ref float c, int m, int k, int cols, int ldc)
    {
        // All columns in one tile when they fit (A is then packed once); else tiles of a multiple of 32 columns.
        int width = Math.Max(96, 65536 / Math.Max(k, 1) / 32 * 32);
        if (width >= cols) width = cols;
        int need = k * Math.Min(width, cols);
        var tile = t_transposed is { } t && t.Length >= need ? t : t_transposed = GC.AllocateUninitializedArray<float>(Math.Max(need, 65536));
        ref float pt = ref MemoryMarshal.GetArrayDataReference(tile);
        for (int j0 = 0; j0 < cols; j0 += width)
        {
            int w = Math.Min(width, cols - j0);
            Transpose(ref Unsafe.Add(ref b, (nint)j0 * k), k, ref pt, w, k);
            // C [m, cols j0 .. j0 + w) += A [m, k] @ tile [k, w]
            MatMulAdd(bits, ref a, k, 1, ref pt, ref Unsafe.Add(ref c, j0), m, k, w, w, ldc);
        }
    }

    /// <summary>dst [k][rows] = src [rows][k] (src rows <paramref name="lds"/> apart): eight source rows at a time, so each written run is 8 floats.</summary>
    static void Transpose(ref float src, int lds, ref float dst, int rows, int k)
    {
        int j = 0;
        for (; j + 8 <= rows; j += 8)
        {
            ref float s0 = ref Unsafe.Add(ref src, (nint)j * lds);
            for (int q = 0; q < k; q++)
            {
                ref float d = ref Unsafe.Add(ref dst, (nint)q * rows + j);
                ref float sq = ref Unsafe.Add(ref s0, q);
                d = sq;
                Unsafe.Add(ref d, 1) = Unsafe.Add(ref sq, lds);
                Unsafe.Add(ref d, 2) = Unsafe.Add(ref sq, 2 * (nint)lds);
                Unsafe.Add(ref d, 3) = Unsafe.Add(ref sq, 3 * (nint)lds);
                Unsafe.Add(ref d, 4) = Unsafe.Add(ref sq, 4 * (nint)lds);
                Unsafe.Add(ref d, 5) = Unsafe.Add(ref sq, 5 * (nint)lds);
                Unsafe.Add(ref d, 6) = Unsafe.Add(ref sq, 6 * (nint)lds);
                Unsafe.Add(ref d, 7) = Unsafe.Add(ref sq, 7 * (nint)lds);
            }
        }
        for (; j < rows; j++)
        {
            ref float sj = ref Unsafe.Add(ref src, (nint)j * lds);
            for (int q = 0; q < k; q++) Unsafe.Add(ref dst, (nint)q * rows + j) = Unsafe.Add(ref sj, q);
        }
    }

    // Floats past a packed A block that PackRowTile may write (its 8-float stores of 6-float groups), overwritten later.
    const int PackSlack = 8;

    /// <summary>
    /// One row tile of A packed for the micro-kernel: dst[q * tr + r] = A(r, q) for r &lt; tr, q &lt; kc, where
    /// A(r, q) = a[r * rowStride + q * colStride]. Copies only (the same floats, so no result depends on the path).
    /// A row-major A (colStride 1: the forward product, the input gradient) is transposed 8 columns at a time in
    /// registers where the tile has 6 or 8 rows and AVX is there, and a transposed one (rowStride 1: the weight
    /// gradient) copied a column of 6 or 8 at a time: loading and storing one float at a time cost about as much as the
    /// micro-kernel's multiply-adds for a narrow product (128 columns: 8 FMAs an element of A). Each 8-float store
    /// of a 6-float group writes 2 floats past it, which the next group (or a later tile) overwrites: the buffer has
    /// <see cref="PackSlack"/> floats to spare.
    /// </summary>
    static void PackRowTile(ref float a, nint rowStride, nint colStride, ref float dst, int tr, int kc)
    {
        int q = 0;
        if (colStride == 1 && (tr == 6 || tr == 8) && Avx.IsSupported)
            for (; q + 8 <= kc; q += 8)
            {
                ref float aq = ref Unsafe.Add(ref a, q);
                var r0 = Vector256.LoadUnsafe(ref aq);
                var r1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref aq, rowStride));
                var r2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref aq, 2 * rowStride));
                var r3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref aq, 3 * rowStride));
                var r4 = Vector256.LoadUnsafe(ref Unsafe.Add(ref aq, 4 * rowStride));
                var r5 = Vector256.LoadUnsafe(ref Unsafe.Add(ref aq, 5 * rowStride));
                if (tr == 6) Transpose8x8(r0, r1, r2, r3, r4, r5, F256.Zero, F256.Zero, ref Unsafe.Add(ref dst, q * 6), 6);
                else Transpose8x8(r0, r1, r2, r3, r4, r5, Vector256.LoadUnsafe(ref Unsafe.Add(ref aq, 6 * rowStride)),
                    Vector256.LoadUnsafe(ref Unsafe.Add(ref aq, 7 * rowStride)), ref Unsafe.Add(ref dst, q * 8), 8);
            }
        else if (rowStride == 1 && tr == 8 && Avx.IsSupported)
            // A transposed (the weight gradient's x^T): a group is 8 contiguous floats, one vector.
            for (; q < kc; q++)
                Vector256.LoadUnsafe(ref Unsafe.Add(ref a, q * colStride)).StoreUnsafe(ref Unsafe.Add(ref dst, q * 8));
        else if (rowStride == 1 && tr == 6 && Avx.IsSupported)
            // A transposed (the weight gradient's x^T): a group is 6 contiguous floats. Each 8-float load reads 2 floats
            // past them, still inside A's next column (q + 1 < kc), so the last column is left to the loop below.
            for (; q + 1 < kc; q++)
                Vector256.LoadUnsafe(ref Unsafe.Add(ref a, q * colStride)).StoreUnsafe(ref Unsafe.Add(ref dst, q * 6));
        for (int r = 0; r < tr; r++)
        {
            ref float src = ref Unsafe.Add(ref a, r * rowStride + q * colStride);
            ref float d = ref Unsafe.Add(ref dst, q * tr + r);
            for (int qq = q; qq < kc; qq++, src = ref Unsafe.Add(ref src, colStride), d = ref Unsafe.Add(ref d, tr))
                d = src;
        }
    }

    /// <summary>
    /// Rows r0..r7 (8 floats each) stored transposed, column j at dst + j * <paramref name="group"/>: dst[group j + i] =
    /// r_i[j]. The GEMM's A packing stores groups of 6 or 8 (with 6, each group's 8-float store writes rows 6 and 7 past
    /// it, which the next group overwrites); QuantizedLinear's dequantised tiles store rows of a wider buffer.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(F256 r0, F256 r1, F256 r2, F256 r3, F256 r4, F256 r5, F256 r6, F256 r7, ref float dst, nint group)
    {
        // The 8x8 transpose of AVX: unpack, shuffle, 128-bit permute.
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        // Column j (rows 0..7) is the low or high 128 bits of s_{j mod 4} with s_{j mod 4 + 4}.
        Avx.Permute2x128(s0, s4, 0x20).StoreUnsafe(ref dst);
        Avx.Permute2x128(s1, s5, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, group));
        Avx.Permute2x128(s2, s6, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, 2 * group));
        Avx.Permute2x128(s3, s7, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, 3 * group));
        Avx.Permute2x128(s0, s4, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 4 * group));
        Avx.Permute2x128(s1, s5, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 5 * group));
        Avx.Permute2x128(s2, s6, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 6 * group));
        Avx.Permute2x128(s3, s7, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 7 * group));
    }

    /// <summary>
    /// C [m, cols] += A [m, k] @ B [cols, k]^T, i.e. C[p, i] += A[p, :] . B[i, :]. Four rows of A at a time share
    /// each load of a B row. C rows are <paramref name="ldc"/> floats apart. A row's sums differ between the
    /// four-row and the one-row paths, so a row split must cut at multiples of 4; a column split may cut anywhere.
    /// </summary>
    internal static void MatMulTransposedAdd(int bits, ref float a, ref float b, ref float c, int m, int k, int cols, int ldc)
    {
        int p = 0;
        for (; p + 4 <= m; p += 4)
        {
            ref float ap = ref Unsafe.Add(ref a, (nint)p * k);
            ref float cp = ref Unsafe.Add(ref c, (nint)p * ldc);
            for (int i = 0; i < cols; i++)
            {
                ref float bi = ref Unsafe.Add(ref b, (nint)i * k);
                float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
                int q = 0;
                if (bits >= 512) q = Dot4<Simd512, F512>(ref ap, ref bi, k, q, ref s0, ref s1, ref s2, ref s3);
                if (bits >= 256) q = Dot4<Simd256, F256>(ref ap, ref bi, k, q, ref s0, ref s1, ref s2, ref s3);
                if (bits >= 128) q = Dot4<Simd128, F128>(ref ap, ref bi, k, q, ref s0, ref s1, ref s2, ref s3);
                Dot4<Scalar, float>(ref ap, ref bi, k, q, ref s0, ref s1, ref s2, ref s3);
                Unsafe.Add(ref cp, i) += s0;
                Unsafe.Add(ref cp, (nint)ldc + i) += s1;
                Unsafe.Add(ref cp, 2 * (nint)ldc + i) += s2;
                Unsafe.Add(ref cp, 3 * (nint)ldc + i) += s3;
            }
        }
        for (; p < m; p++)
        {
            ref float ap = ref Unsafe.Add(ref a, (nint)p * k);
            ref float cp = ref Unsafe.Add(ref c, (nint)p * ldc);
            for (int i = 0; i < cols; i++)
                Unsafe.Add(ref cp, i) += VectorMath.Dot(bits, ref ap, ref Unsafe.Add(ref b, (nint)i * k), k);
        }
    }

    // s_r += A[r, q..] . B[q..] for the four rows r of A (row stride k), over whole vectors from q.
    static int Dot4<S, V>(ref float a, ref float b, int k, int q, ref float s0, ref float s1, ref float s2, ref float s3)
        where S : struct, ISimd<V> where V : struct
    {
        if (q + S.Count > k) return q;
        nint ld = k;
        V a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero;
        for (; q + S.Count <= k; q += S.Count)
        {
            ref float aq = ref Unsafe.Add(ref a, q);
            V bv = S.Load(ref Unsafe.Add(ref b, q));
            a0 = S.MulAdd(S.Load(ref aq), bv, a0);
            a1 = S.MulAdd(S.Load(ref Unsafe.Add(ref aq, ld)), bv, a1);
            a2 = S.MulAdd(S.Load(ref Unsafe.Add(ref aq, 2 * ld)), bv, a2);
            a3 = S.MulAdd(S.Load(ref Unsafe.Add(ref aq, 3 * ld)), bv, a3);
        }
        s0 += S.Sum(a0); s1 += S.Sum(a1); s2 += S.Sum(a2); s3 += S.Sum(a3);
        return q;
    }
}
