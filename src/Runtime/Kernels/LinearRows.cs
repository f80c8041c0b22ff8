using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
// The products share Linear's tiled loops: Forward takes dot products of four x rows against each w row (one
// vector accumulator per row, so each w load serves four rows); Backward keeps four output rows in registers.
public static class LinearRows
{
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y, int n, int inDim, int outDim)
    {
        Check.AtLeast(x.Length, n, inDim, nameof(x));
        Check.Exactly(w.Length, outDim, inDim, nameof(w));
        if (!b.IsEmpty) Check.SameLength(outDim, b.Length, nameof(b));
        Check.AtLeast(y.Length, n, outDim, nameof(y));

        if (b.IsEmpty) y[..(n * outDim)].Clear();
        else for (int r = 0; r < n; r++) b.CopyTo(y.Slice(r * outDim, outDim));
        // y [n, Out] += x [n, In] @ w [Out, In]^T
        Linear.MatMulTransposedAdd(Simd.Bits, ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(w),
            ref MemoryMarshal.GetReference(y), n, inDim, outDim);
    }

    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> db, int n, int inDim, int outDim)
    {
        Check.AtLeast(x.Length, n, inDim, nameof(x));
        Check.Exactly(w.Length, outDim, inDim, nameof(w));
        Check.AtLeast(dy.Length, n, outDim, nameof(dy));
        if (!dx.IsEmpty) Check.AtLeast(dx.Length, n, inDim, nameof(dx));
        Check.Exactly(dw.Length, outDim, inDim, nameof(dw));
        if (!db.IsEmpty) Check.SameLength(outDim, db.Length, nameof(db));

        int bits = Simd.Bits;
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        if (!db.IsEmpty)
            for (int r = 0; r < n; r++)
                VectorMath.Add(bits, ref Unsafe.Add(ref rdy, (nint)r * outDim), ref MemoryMarshal.GetReference(db), outDim);
        // dw [Out, In] += dy^T [Out, n] @ x [n, In]; element (o, r) of dy^T is dy[r * Out + o].
        Linear.MatMulAdd(bits, ref rdy, 1, outDim, ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(dw), outDim, n, inDim);
        // dx [n, In] += dy [n, Out] @ w [Out, In]
        if (!dx.IsEmpty)
            Linear.MatMulAdd(bits, ref rdy, outDim, 1, ref MemoryMarshal.GetReference(w), ref MemoryMarshal.GetReference(dx), n, outDim, inDim);
    }
}
