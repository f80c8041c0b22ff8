namespace Edge.Kernels;

// Dense layer with the weight stored [Out, In] (torch.nn.Linear; an output head tied to the token embedding
// wte [V, C]), so y = x @ W^T + b.
//   x  [n, In]     w  [Out, In]     b  [Out] or empty (no bias)     y  [n, Out]
//   y[r, o] = b[o] + x[r, :] . w[o, :]
// Backward accumulates (+=), like llm.c:
//   dx [n, In]   += dy @ W               (skipped when dx is empty)
//   dw [Out, In] += dy^T @ x
//   db [Out]     += column sums of dy    (skipped when db is empty)
// Activations (x, y, dx, dy) may be longer than n rows; parameters and their gradients must have exactly their shape.
// The products share Linear's tiled loops: Forward, from 16 rows on, transposes w a tile of rows at a time for the
// register-tiled GEMM (Linear.MatMulTransposedTiled); with fewer rows (decoding) it takes dot products of four x rows
// against each w row (each w load serves four rows). Backward goes through the tiled GEMM as it is.
// Parts for Parallelism.Threads, as in Linear: Forward by rows of y in blocks of 4 (or columns when n < 5); Backward
// by rows of dw (Out), rows of dx and columns of db. Results do not depend on the thread count.
public static unsafe class LinearRows
{
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y, int n, int inDim, int outDim)
    {
        Check.AtLeast(x.Length, n, inDim, nameof(x));
        Check.Exactly(w.Length, outDim, inDim, nameof(w));
        if (!b.IsEmpty) Check.SameLength(outDim, b.Length, nameof(b));
        Check.AtLeast(y.Length, n, outDim, nameof(y));

        fixed (float* px = x, pw = w, pb = b, py = y)
        {
            var work = new ForwardWork
            {
                X = px, W = pw, B = b.IsEmpty ? null : pb, Y = py, N = n, In = inDim, Out = outDim, Bits = Simd.Bits,
            };
            int parts = Parallelism.Parts((long)n * inDim * outDim, Math.Max((n + 3) / 4, (outDim + 15) / 16));
            // From Linear.TransposedTiledFromRows rows on, through the tiled GEMM, split by columns (rows of w, at
            // multiples of 16) when Out > n and by rows otherwise: a part packs all of its rows of x and transposes all
            // of its rows of w, so the smaller side is the one every part repeats (the tied head of a small model,
            // V = 65, splits its rows; GPT-2's, V = 50,257, its columns). Below that, rows in blocks of 4 (a row's sum
            // depends on whether it is in a block of 4) when there are at least two blocks, otherwise (decoding: n = 1)
            // columns, through the dot products.
            work.Tiled = Linear.TransposedTiled(n);
            work.ByRows = work.Tiled ? outDim <= n : (n + 3) / 4 >= 2;
            work.Chunks = work.ByRows ? new Split(n, parts, 4) : new Split(outDim, parts, 16);
            WorkerPool.For(ref work, Math.Min(parts, work.Chunks.Parts));
        }
    }

    struct ForwardWork : IPartitionedWork
    {
        public float* X, W, B, Y;
        public int N, In, Out, Bits;
        public bool ByRows, Tiled;
        public Split Chunks;

        public void Run(int part, int worker)
        {
            int s = Chunks.Start(part), e = Chunks.End(part);
            if (s >= e) return;
            if (Tiled && ByRows)
            {
                Linear.FillBias(B, Y, s, e, 0, Out, Out);
                // y [rows s..e, Out] += x [rows s..e, In] @ w [Out, In]^T
                Linear.MatMulTransposedTiled(Bits, ref X[(nint)s * In], ref *W, ref Y[(nint)s * Out], e - s, In, Out, Out);
            }
            else if (Tiled)
            {
                Linear.FillBias(B, Y, 0, N, s, e - s, Out);
                // y [n, cols s..e) += x [n, In] @ w [rows s..e, In]^T
                Linear.MatMulTransposedTiled(Bits, ref *X, ref W[(nint)s * In], ref Y[s], N, In, e - s, Out);
            }
            else if (ByRows)
            {
                Linear.FillBias(B, Y, s, e, 0, Out, Out);
                // y [rows, Out] += x [rows, In] @ w [Out, In]^T
                Linear.MatMulTransposedAdd(Bits, ref X[(nint)s * In], ref *W, ref Y[(nint)s * Out], e - s, In, Out, Out);
            }
            else
            {
                int width = e - s;
                Linear.FillBias(B, Y, 0, N, s, width, Out);
                // y [n, cols s..e) += x [n, In] @ w [rows s..e, In]^T
                Linear.MatMulTransposedAdd(Bits, ref *X, ref W[(nint)s * In], ref Y[s], N, In, width, Out);
            }
        }
    }

    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> db, int n, int inDim, int outDim)
    {
        Check.AtLeast(x.Length, n, inDim, nameof(x));
        Check.Exactly(w.Length, outDim, inDim, nameof(w));
        Check.AtLeast(dy.Length, n, outDim, nameof(dy));
        if (!dx.IsEmpty) Check.AtLeast(dx.Length, n, inDim, nameof(dx));
        if (!dw.IsEmpty) Check.Exactly(dw.Length, outDim, inDim, nameof(dw));
        if (!db.IsEmpty) Check.SameLength(outDim, db.Length, nameof(db));

        fixed (float* px = x, pw = w, pdy = dy, pdx = dx, pdw = dw, pdb = db)
        {
            var work = new BackwardWork
            {
                X = px, W = pw, Dy = pdy, Dx = dx.IsEmpty ? null : pdx, Dw = dw.IsEmpty ? null : pdw, Db = db.IsEmpty ? null : pdb,
                N = n, In = inDim, Out = outDim, Bits = Simd.Bits,
            };
            long macs = (long)n * inDim * outDim * ((dx.IsEmpty ? 0 : 1) + (dw.IsEmpty ? 0 : 1));
            int parts = Parallelism.Parts(macs, Math.Max((outDim + 3) / 4, (n + 3) / 4));
            // Part p owns rows of dw (Out), rows of dx (n) and columns of db: no two parts write one element.
            work.DwRows = new Split(outDim, parts, 4);
            work.DxRows = new Split(n, parts, 4);
            work.DbCols = new Split(outDim, parts, 16);
            WorkerPool.For(ref work, parts);
        }
    }

    struct BackwardWork : IPartitionedWork
    {
        public float* X, W, Dy, Dx, Dw, Db;
        public int N, In, Out, Bits;
        public Split DwRows, DxRows, DbCols;

        public void Run(int part, int worker)
        {
            int s = DbCols.Start(part), e = DbCols.End(part);
            if (Db is not null && s < e)
                for (int r = 0; r < N; r++)
                    VectorMath.Add(Bits, ref Dy[(nint)r * Out + s], ref Db[s], e - s);
            // dw [Out, In] += dy^T [Out, n] @ x [n, In]; element (o, r) of dy^T is dy[r * Out + o]. Rows s..e of dw.
            s = DwRows.Start(part); e = DwRows.End(part);
            if (Dw is not null && s < e)
                Linear.MatMulAdd(Bits, ref Dy[s], 1, Out, ref *X, ref Dw[(nint)s * In], e - s, N, In, In);
            // dx [n, In] += dy [n, Out] @ w [Out, In], rows s..e.
            s = DxRows.Start(part); e = DxRows.End(part);
            if (Dx is not null && s < e)
                Linear.MatMulAdd(Bits, ref Dy[(nint)s * Out], Out, 1, ref *W, ref Dx[(nint)s * In], e - s, Out, In, In);
        }
    }
}
