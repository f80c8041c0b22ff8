using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

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

    /// <summary>
    /// Writes probs and returns the mean over counted rows of -log probs[r, targets[r]] (0 when none is counted). Rows are
    /// split across the worker pool; each row's loss goes into a per-call buffer and they are summed in row order, so
    /// the result does not depend on the thread count.
    /// </summary>
    public static unsafe float Forward(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, Span<float> probs, int n, int vocab)
    {
        Check.AtLeast(logits.Length, n, vocab, nameof(logits));
        Check.AtLeast(targets.Length, n, nameof(targets));
        Check.AtLeast(probs.Length, n, vocab, nameof(probs));
        for (int r = 0; r < n; r++)
            if (targets[r] != IgnoredTarget) Check.Index(targets[r], vocab, nameof(targets));
        var losses = t_losses is { } l && l.Length >= n ? l : t_losses = new double[Math.Max(n, 64)];
        fixed (float* pl = logits, pp = probs)
        fixed (int* pt = targets)
        fixed (double* ploss = losses)
        {
            var work = new ForwardWork { Logits = pl, Probs = pp, Targets = pt, Losses = ploss, Vocab = vocab, Bits = Simd.Bits };
            // About 20 multiply-adds' worth per element (the exp, the max, the scaling).
            int parts = Parallelism.Parts(20L * n * vocab, n);
            work.Rows = new Split(n, parts, 1);
            WorkerPool.For(ref work, Math.Min(parts, work.Rows.Parts));
        }
        double loss = 0;
        int counted = 0;
        for (int r = 0; r < n; r++)
        {
            if (targets[r] == IgnoredTarget) continue;
            counted++;
            loss += losses[r];
        }
        return counted == 0 ? 0f : (float)(loss / counted);
    }

    [ThreadStatic] static double[]? t_losses;

    unsafe struct ForwardWork : IPartitionedWork
    {
        public float* Logits, Probs;
        public int* Targets;
        public double* Losses;
        public int Vocab, Bits;
        public Split Rows;

        public void Run(int part, int worker)
        {
            for (int r = Rows.Start(part), e = Rows.End(part); r < e; r++)
            {
                int t = Targets[r];
                if (t == IgnoredTarget) continue;
                var row = new ReadOnlySpan<float>(Logits + (nint)r * Vocab, Vocab);
                var (max, logSum) = SoftmaxRow(Bits, row, new Span<float>(Probs + (nint)r * Vocab, Vocab));
                // -log p_t = -((logit_t - max) - log(sum exp(logit - max))): finite even where p_t underflows to 0.
                Losses[r] = -((row[t] - max) - logSum);
            }
        }
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

    /// <summary>dst = exp(src - shift); returns sum(dst). The kernels' float exp on every vector width (SimdOps' FloatExp).</summary>
    static float ExpShifted(int bits, ReadOnlySpan<float> src, float shift, Span<float> dst)
    {
        ref float rs = ref MemoryMarshal.GetReference(src);
        ref float rd = ref MemoryMarshal.GetReference(dst);
        int i = 0, n = src.Length;
        float sum = 0f;
        if (bits >= 512) sum += ExpShifted<Simd512, F512>(ref rs, shift, ref rd, ref i, n);
        if (bits >= 256) sum += ExpShifted<Simd256, F256>(ref rs, shift, ref rd, ref i, n);
        if (bits >= 128) sum += ExpShifted<Simd128, F128>(ref rs, shift, ref rd, ref i, n);
        return sum + ExpShifted<Scalar, float>(ref rs, shift, ref rd, ref i, n);
    }

    static float ExpShifted<S, V>(ref float src, float shift, ref float dst, ref int i, int n) where S : struct, ISimd<V> where V : struct
    {
        if (i + S.Count > n) return 0f;
        V vs = S.Splat(shift), a0 = S.Zero, a1 = S.Zero;
        for (; i + 2 * S.Count <= n; i += 2 * S.Count)
        {
            V e0 = S.Exp(S.Sub(S.Load(ref Unsafe.Add(ref src, i)), vs));
            V e1 = S.Exp(S.Sub(S.Load(ref Unsafe.Add(ref src, i + S.Count)), vs));
            S.Store(e0, ref Unsafe.Add(ref dst, i));
            S.Store(e1, ref Unsafe.Add(ref dst, i + S.Count));
            a0 = S.Add(a0, e0);
            a1 = S.Add(a1, e1);
        }
        for (; i + S.Count <= n; i += S.Count)
        {
            V e0 = S.Exp(S.Sub(S.Load(ref Unsafe.Add(ref src, i)), vs));
            S.Store(e0, ref Unsafe.Add(ref dst, i));
            a0 = S.Add(a0, e0);
        }
        return S.Sum(S.Add(a0, a1));
    }
}
