using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Edge.Kernels;

// Softmax over the vocabulary and the mean negative log-likelihood of the targets (the language-model loss).
//   logits [n, V]     targets [n] in [0, V), or IgnoredTarget     probs [n, V]     dlogits [n, V]
// Forward keeps probs for Backward: dlogits[r, j] += scale * (probs[r, j] - (j == targets[r] ? 1 : 0)),
// with scale = 1/n for the mean loss. A target outside [0, V) throws ArgumentOutOfRangeException.
// A row whose target is IgnoredTarget (padding, or a prompt when only answers are scored) has no loss and no
// gradient; the loss is then the mean over the counted rows, and Backward rescales scale by n / counted so that the
// caller's 1/n still gives the gradient of that mean. Without ignored rows nothing changes, bit for bit.
// Exp runs through TensorPrimitives.Exp on the vector paths (its own widest width) and MathF.Exp when Simd.Bits == 0.
public static class SoftmaxCrossEntropy
{
    /// <summary>A target that is not scored (no loss, no gradient).</summary>
    public const int IgnoredTarget = -1;

    /// <summary>Writes probs and returns the mean over counted rows of -log probs[r, targets[r]] (0 when none is counted).</summary>
    public static float Forward(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> probs, int n, int vocab)
    {
        Check.AtLeast(logits.Length, n, vocab, nameof(logits));
        Check.AtLeast(targets.Length, n, nameof(targets));
        Check.AtLeast(probs.Length, n, vocab, nameof(probs));
        int bits = Simd.Bits;
        double loss = 0;
        int counted = 0;
        for (int r = 0; r < n; r++)
        {
            int t = targets[r];
            if (t == IgnoredTarget) continue;
            Check.Index(t, vocab, nameof(targets));
            counted++;
            var row = logits.Slice(r * vocab, vocab);
            var (max, logSum) = SoftmaxRow(bits, row, probs.Slice(r * vocab, vocab));
            // log p_t = (logit_t - max) - log(sum exp(logit - max)): finite even where p_t underflows to 0.
            loss -= (row[t] - max) - logSum;
        }
        return counted == 0 ? 0f : (float)(loss / counted);
    }

    public static void Backward(ReadOnlySpan<float> probs, ReadOnlySpan<int> targets, Span<float> dlogits, int n, int vocab, float scale)
    {
        Check.AtLeast(probs.Length, n, vocab, nameof(probs));
        Check.AtLeast(targets.Length, n, nameof(targets));
        Check.AtLeast(dlogits.Length, n, vocab, nameof(dlogits));
        int bits = Simd.Bits;
        ref float rp = ref MemoryMarshal.GetReference(probs);
        ref float rd = ref MemoryMarshal.GetReference(dlogits);
        int counted = 0;
        for (int r = 0; r < n; r++)
            if (targets[r] != IgnoredTarget) counted++;
        if (counted == 0) return;
        if (counted < n) scale = scale * n / counted;
        for (int r = 0; r < n; r++)
        {
            int t = targets[r];
            if (t == IgnoredTarget) continue;
            Check.Index(t, vocab, nameof(targets));
            ref float drow = ref Unsafe.Add(ref rd, (nint)r * vocab);
            VectorMath.Axpy(bits, scale, ref Unsafe.Add(ref rp, (nint)r * vocab), ref drow, vocab);
            Unsafe.Add(ref drow, t) -= scale;
        }
    }

    /// <summary>probs = softmax(logits) for one row [V] (sampling); probs may be logits (in place).</summary>
    public static void Softmax(ReadOnlySpan<float> logits, Span<float> probs)
    {
        Check.SameLength(logits.Length, probs.Length, nameof(probs));
        if (logits.IsEmpty) return;
        SoftmaxRow(Simd.Bits, logits, probs);
    }

    /// <summary>log sum_j exp(row[j]), computed as max + log sum exp(row - max) (-infinity for an empty row).</summary>
    public static float LogSumExp(ReadOnlySpan<float> row)
    {
        int bits = Simd.Bits;
        float max = VectorMath.Max(bits, ref MemoryMarshal.GetReference(row), row.Length);
        if (float.IsNegativeInfinity(max)) return max; // empty, or every term is exp(-inf) = 0
        // Exp needs somewhere to write: a stack chunk, so that the row itself stays read-only.
        Span<float> chunk = stackalloc float[256];
        float sum = 0f;
        for (int i = 0; i < row.Length; i += chunk.Length)
        {
            var part = row.Slice(i, Math.Min(chunk.Length, row.Length - i));
            sum += ExpShifted(bits, part, max, chunk[..part.Length]);
        }
        return max + MathF.Log(sum);
    }

    /// <summary>probs = softmax(row); returns the row max and log sum exp(row - max).</summary>
    static (float Max, double LogSum) SoftmaxRow(int bits, ReadOnlySpan<float> row, Span<float> probs)
    {
        float max = VectorMath.Max(bits, ref MemoryMarshal.GetReference(row), row.Length);
        float sum = ExpShifted(bits, row, max, probs);
        VectorMath.Scale(bits, 1f / sum, ref MemoryMarshal.GetReference(probs), probs.Length);
        return (max, Math.Log(sum));
    }

    /// <summary>dst = exp(src - shift); returns sum(dst).</summary>
    static float ExpShifted(int bits, ReadOnlySpan<float> src, float shift, Span<float> dst)
    {
        ref float rs = ref MemoryMarshal.GetReference(src);
        ref float rd = ref MemoryMarshal.GetReference(dst);
        if (bits == 0)
        {
            float sum = 0f;
            for (int i = 0; i < src.Length; i++) sum += Unsafe.Add(ref rd, i) = MathF.Exp(Unsafe.Add(ref rs, i) - shift);
            return sum;
        }
        TensorPrimitives.Subtract(src, shift, dst);
        TensorPrimitives.Exp(dst, dst);
        return VectorMath.Sum(bits, ref rd, dst.Length);
    }
}
