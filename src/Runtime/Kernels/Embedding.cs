using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Edge.Kernels;

// Token embedding (a lookup table; also the whole bigram model, where dim = V).
//   tokens [count] in [0, V)     table [V, dim]     y [count, dim]
// Backward accumulates rows into the table gradient: dtable [V, dim], dtable[tokens[k], :] += dy[k, :].
// A token outside [0, V) throws ArgumentOutOfRangeException (one check per row).
// Learned positions (GPT-2's wpe), added to a batch of token embeddings:
//   y [B, T, C] += wpe [Context, C] rows 0 .. T-1 (wpe may have more rows than T; T <= Context)
// and their gradient, accumulated: dwpe [Context, C] rows 0 .. T-1 += sum over b of dy [B, T, C].
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

    /// <summary>An empty <paramref name="dtable"/> (a frozen table: LoRA training) skips the work.</summary>
    public static void Backward(ReadOnlySpan<int> tokens, ReadOnlySpan<float> dy, Span<float> dtable, int count, int dim)
    {
        if (dtable.IsEmpty) return;
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

    /// <summary>y[b, t, :] += wpe[t, :] for every b and every t &lt; <paramref name="t"/>.</summary>
    public static void AddPositions(Span<float> y, ReadOnlySpan<float> wpe, int b, int t, int c)
    {
        Positions(wpe.Length, b, t, c, nameof(wpe));
        Check.AtLeast(y.Length, b * t, c, nameof(y));
        // The first T rows of wpe and one sequence of y are both contiguous [T, C] blocks.
        int bits = Simd.Bits, block = t * c;
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref float rwpe = ref MemoryMarshal.GetReference(wpe);
        for (int k = 0; k < b; k++)
            VectorMath.Add(bits, ref rwpe, ref Unsafe.Add(ref ry, (nint)k * block), block);
    }

    /// <summary>dwpe[t, :] += sum over b of dy[b, t, :] for every t &lt; <paramref name="t"/>.</summary>
    public static void PositionsBackward(ReadOnlySpan<float> dy, Span<float> dwpe, int b, int t, int c)
    {
        if (dwpe.IsEmpty) return; // frozen
        Positions(dwpe.Length, b, t, c, nameof(dwpe));
        Check.AtLeast(dy.Length, b * t, c, nameof(dy));
        int bits = Simd.Bits, block = t * c;
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rdwpe = ref MemoryMarshal.GetReference(dwpe);
        for (int k = 0; k < b; k++)
            VectorMath.Add(bits, ref Unsafe.Add(ref rdy, (nint)k * block), ref rdwpe, block);
    }

    static void Positions(int length, int b, int t, int c, string name)
    {
        int context = Rows(length, c, name);
        if (t < 0 || t > context) throw new ArgumentOutOfRangeException(nameof(t), t, $"t must be in [0, {context}], the rows of {name}");
        if (b < 0) throw new ArgumentOutOfRangeException(nameof(b), b, "b must not be negative");
    }

    static int Rows(int length, int dim, string name)
    {
        if (dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim), dim, "dim must be positive");
        if (length % dim != 0) throw new ArgumentException($"{name} has length {length}, not a whole number of rows of {dim}", name);
        return length / dim;
    }
}
