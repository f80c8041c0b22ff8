using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Edge.Kernels;

// Token embedding (a lookup table; also the whole bigram model, where dim = V).
//   tokens [count] in [0, V)     table [V, dim]     y [count, dim]
// Backward accumulates rows into the table gradient: dtable [V, dim], dtable[tokens[k], :] += dy[k, :].
// A token outside [0, V) throws ArgumentOutOfRangeException (one check per row).
public static class Embedding
{
    public static void Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<float> table, Span<float> y, int count, int dim)
    {
        int vocab = Rows(table.Length, dim, nameof(table));
        Check.AtLeast(tokens.Length, count, nameof(tokens));
        Check.AtLeast(y.Length, count, dim, nameof(y));
        for (int k = 0; k < count; k++)
        {
            int t = tokens[k];
            Check.Index(t, vocab, nameof(tokens));
            table.Slice(t * dim, dim).CopyTo(y.Slice(k * dim, dim));
        }
    }

    public static void Backward(ReadOnlySpan<int> tokens, ReadOnlySpan<float> dy, Span<float> dtable, int count, int dim)
    {
        int vocab = Rows(dtable.Length, dim, nameof(dtable));
        Check.AtLeast(tokens.Length, count, nameof(tokens));
        Check.AtLeast(dy.Length, count, dim, nameof(dy));
        int bits = Simd.Bits;
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rdt = ref MemoryMarshal.GetReference(dtable);
        for (int k = 0; k < count; k++)
        {
            int t = tokens[k];
            Check.Index(t, vocab, nameof(tokens));
            VectorMath.Add(bits, ref Unsafe.Add(ref rdy, (nint)k * dim), ref Unsafe.Add(ref rdt, (nint)t * dim), dim);
        }
    }

    static int Rows(int length, int dim, string name)
    {
        if (dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim), dim, "dim must be positive");
        if (length % dim != 0) throw new ArgumentException($"{name} has length {length}, not a whole number of rows of {dim}", name);
        return length / dim;
    }
}
