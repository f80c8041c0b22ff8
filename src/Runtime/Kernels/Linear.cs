using System.Runtime.CompilerServices;
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
public static class Linear
{
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y, int n, int inDim, int outDim)
    {
        Check.AtLeast(x.Length, n, inDim, nameof(x));
        Check.Exactly(w.Length, inDim, outDim, nameof(w));
        if (!b.IsEmpty) Check.SameLength(outDim, b.Length, nameof(b));
        Check.AtLeast(y.Length, n, outDim, nameof(y));

        if (b.IsEmpty) y[..(n * outDim)].Clear();
        else for (int r = 0; r < n; r++) b.CopyTo(y.Slice(r * outDim, outDim));
        // y [n, Out] += x [n, In] @ w [In, Out]
        MatMulAdd(Simd.Bits, ref MemoryMarshal.GetReference(x), inDim, 1, ref MemoryMarshal.GetReference(w),
            ref MemoryMarshal.GetReference(y), n, inDim, outDim);
    }

    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> db, int n, int inDim, int outDim)
    {
        Check.AtLeast(x.Length, n, inDim, nameof(x));
        Check.Exactly(w.Length, inDim, outDim, nameof(w));
        Check.AtLeast(dy.Length, n, outDim, nameof(dy));
        if (!dx.IsEmpty) Check.AtLeast(dx.Length, n, inDim, nameof(dx));
        Check.Exactly(dw.Length, inDim, outDim, nameof(dw));
        if (!db.IsEmpty) Check.SameLength(outDim, db.Length, nameof(db));

        int bits = Simd.Bits;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        if (!db.IsEmpty)
            for (int r = 0; r < n; r++)
                VectorMath.Add(bits, ref Unsafe.Add(ref rdy, (nint)r * outDim), ref MemoryMarshal.GetReference(db), outDim);
        // dw [In, Out] += x^T [In, n] @ dy [n, Out]; element (i, r) of x^T is x[r * In + i].
        MatMulAdd(bits, ref rx, 1, inDim, ref rdy, ref MemoryMarshal.GetReference(dw), inDim, n, outDim);
        if (!dx.IsEmpty)
            MatMulTransposedAdd(bits, ref rdy, ref MemoryMarshal.GetReference(w), ref MemoryMarshal.GetReference(dx), n, outDim, inDim);
    }

    /// <summary>
    /// C [m, cols] += A [m, k] @ B [k, cols], where A(p, q) = a[p * rowStride + q * colStride] (so A may be a transpose)
    /// and B, C are row-major. Four rows of C at a time share each load of a B row.
    /// A long k is taken in blocks of B rows that stay in the L2 cache (about 128 KiB each) while every row of C
    /// passes over them; each element of C still sums its k products in order, so blocking changes no result.
    /// </summary>
    internal static void MatMulAdd(int bits, ref float a, int rowStride, int colStride, ref float b, ref float c, int m, int k, int cols)
    {
        int block = Math.Max(16, 32768 / Math.Max(cols, 1));
        for (int q = 0; q < k; q += block)
            MatMulAddBlock(bits, ref Unsafe.Add(ref a, (nint)q * colStride), rowStride, colStride,
                ref Unsafe.Add(ref b, (nint)q * cols), ref c, m, Math.Min(block, k - q), cols);
    }

    static void MatMulAddBlock(int bits, ref float a, int rowStride, int colStride, ref float b, ref float c, int m, int k, int cols)
    {
        int p = 0;
        for (; p + 4 <= m; p += 4)
        {
            ref float ap = ref Unsafe.Add(ref a, (nint)p * rowStride);
            ref float cp = ref Unsafe.Add(ref c, (nint)p * cols);
            int j = 0;
            if (bits >= 512) j = Rows4<Simd512, F512>(ref ap, rowStride, colStride, ref b, ref cp, k, cols, j);
            if (bits >= 256) j = Rows4<Simd256, F256>(ref ap, rowStride, colStride, ref b, ref cp, k, cols, j);
            if (bits >= 128) j = Rows4<Simd128, F128>(ref ap, rowStride, colStride, ref b, ref cp, k, cols, j);
            Rows4<Scalar, float>(ref ap, rowStride, colStride, ref b, ref cp, k, cols, j);
        }
        for (; p < m; p++)
        {
            ref float ap = ref Unsafe.Add(ref a, (nint)p * rowStride);
            ref float cp = ref Unsafe.Add(ref c, (nint)p * cols);
            int j = 0;
            if (bits >= 512) j = Row1<Simd512, F512>(ref ap, colStride, ref b, ref cp, k, cols, j);
            if (bits >= 256) j = Row1<Simd256, F256>(ref ap, colStride, ref b, ref cp, k, cols, j);
            if (bits >= 128) j = Row1<Simd128, F128>(ref ap, colStride, ref b, ref cp, k, cols, j);
            Row1<Scalar, float>(ref ap, colStride, ref b, ref cp, k, cols, j);
        }
    }

    // Columns [j, j + Count) of four C rows stay in registers for the whole k loop.
    static int Rows4<S, V>(ref float a, nint rowStride, nint colStride, ref float b, ref float c, int k, int cols, int j)
        where S : struct, ISimd<V> where V : struct
    {
        nint ld = cols;
        for (; j + S.Count <= cols; j += S.Count)
        {
            ref float c0 = ref Unsafe.Add(ref c, j);
            ref float c1 = ref Unsafe.Add(ref c0, ld);
            ref float c2 = ref Unsafe.Add(ref c1, ld);
            ref float c3 = ref Unsafe.Add(ref c2, ld);
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
                bq = ref Unsafe.Add(ref bq, ld);
                aq = ref Unsafe.Add(ref aq, colStride);
            }
            S.Store(s0, ref c0); S.Store(s1, ref c1); S.Store(s2, ref c2); S.Store(s3, ref c3);
        }
        return j;
    }

    static int Row1<S, V>(ref float a, nint colStride, ref float b, ref float c, int k, int cols, int j)
        where S : struct, ISimd<V> where V : struct
    {
        nint ld = cols;
        for (; j + S.Count <= cols; j += S.Count)
        {
            ref float c0 = ref Unsafe.Add(ref c, j);
            V s0 = S.Load(ref c0);
            ref float bq = ref Unsafe.Add(ref b, j);
            ref float aq = ref a;
            for (int q = 0; q < k; q++)
            {
                s0 = S.MulAdd(S.Splat(aq), S.Load(ref bq), s0);
                bq = ref Unsafe.Add(ref bq, ld);
                aq = ref Unsafe.Add(ref aq, colStride);
            }
            S.Store(s0, ref c0);
        }
        return j;
    }

    /// <summary>
    /// C [m, cols] += A [m, k] @ B [cols, k]^T, i.e. C[p, i] += A[p, :] . B[i, :]. Four rows of A at a time share
    /// each load of a B row.
    /// </summary>
    internal static void MatMulTransposedAdd(int bits, ref float a, ref float b, ref float c, int m, int k, int cols)
    {
        int p = 0;
        for (; p + 4 <= m; p += 4)
        {
            ref float ap = ref Unsafe.Add(ref a, (nint)p * k);
            ref float cp = ref Unsafe.Add(ref c, (nint)p * cols);
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
                Unsafe.Add(ref cp, cols + i) += s1;
                Unsafe.Add(ref cp, 2 * cols + i) += s2;
                Unsafe.Add(ref cp, 3 * cols + i) += s3;
            }
        }
        for (; p < m; p++)
        {
            ref float ap = ref Unsafe.Add(ref a, (nint)p * k);
            ref float cp = ref Unsafe.Add(ref c, (nint)p * cols);
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
