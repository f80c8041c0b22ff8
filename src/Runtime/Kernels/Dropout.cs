using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Inverted dropout (training only; at inference callers skip it): x, y, mask, dy, dx [count] (buffers may be longer).
//   mask[i] = rng.NextFloat() >= p ? 1 / (1 - p) : 0      (one draw per element, in order)
//   y = x * mask
// Backward accumulates: dx += dy * mask.
// p must be in [0, 1). With p == 0, y = x and mask = 1, and the Rng is not advanced (no draws).
// y may be x (in place); mask must not overlap x or y (Forward writes the draws into it first).
public static class Dropout
{
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, Span<float> mask, int count, float p, ref Rng rng)
    {
        Check.AtLeast(x.Length, count, nameof(x));
        Check.AtLeast(y.Length, count, nameof(y));
        Check.AtLeast(mask.Length, count, nameof(mask));
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "p must be in [0, 1)");

        ref float rm = ref MemoryMarshal.GetReference(mask);
        if (p == 0f)
        {
            mask[..count].Fill(1f);
            x[..count].CopyTo(y);
            return;
        }
        // The draws are sequential (one Rng stream, from a local copy whose state can live in registers), so they
        // go into the mask first; a vector pass then turns each draw u into its mask value and multiplies, without
        // the branch that a random keep/drop decision would mispredict.
        var local = rng;
        for (int k = 0; k < count; k++)
            Unsafe.Add(ref rm, k) = local.NextFloat();
        rng = local;

        float keep = 1f / (1f - p);
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int bits = Simd.Bits, i = 0;
        if (bits >= 512) i = Apply<Simd512, F512>(ref rx, ref rm, ref ry, p, keep, i, count);
        if (bits >= 256) i = Apply<Simd256, F256>(ref rx, ref rm, ref ry, p, keep, i, count);
        if (bits >= 128) i = Apply<Simd128, F128>(ref rx, ref rm, ref ry, p, keep, i, count);
        Apply<Scalar, float>(ref rx, ref rm, ref ry, p, keep, i, count);
    }

    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> mask, Span<float> dx, int count)
    {
        Check.AtLeast(dy.Length, count, nameof(dy));
        Check.AtLeast(mask.Length, count, nameof(mask));
        Check.AtLeast(dx.Length, count, nameof(dx));
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rm = ref MemoryMarshal.GetReference(mask);
        ref float rdx = ref MemoryMarshal.GetReference(dx);
        int bits = Simd.Bits, i = 0;
        if (bits >= 512) i = MultiplyAdd<Simd512, F512>(ref rdy, ref rm, ref rdx, i, count);
        if (bits >= 256) i = MultiplyAdd<Simd256, F256>(ref rdy, ref rm, ref rdx, i, count);
        if (bits >= 128) i = MultiplyAdd<Simd128, F128>(ref rdy, ref rm, ref rdx, i, count);
        MultiplyAdd<Scalar, float>(ref rdy, ref rm, ref rdx, i, count);
    }

    // m holds draws u: m = u >= p ? keep : 0, written as keep - (p > u ? keep : 0) (p - u > 0 exactly when p > u); y = x * m
    static int Apply<S, V>(ref float x, ref float m, ref float y, float p, float keep, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        V vp = S.Splat(p), vkeep = S.Splat(keep);
        for (; i + S.Count <= n; i += S.Count)
        {
            ref float mi = ref Unsafe.Add(ref m, i);
            V mask = S.Sub(vkeep, S.WherePositive(S.Sub(vp, S.Load(ref mi)), vkeep));
            S.Store(mask, ref mi);
            S.Store(S.Mul(S.Load(ref Unsafe.Add(ref x, i)), mask), ref Unsafe.Add(ref y, i));
        }
        return i;
    }

    // y += x * m
    static int MultiplyAdd<S, V>(ref float x, ref float m, ref float y, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        for (; i + S.Count <= n; i += S.Count)
        {
            ref float yi = ref Unsafe.Add(ref y, i);
            S.Store(S.MulAdd(S.Load(ref Unsafe.Add(ref x, i)), S.Load(ref Unsafe.Add(ref m, i)), S.Load(ref yi)), ref yi);
        }
        return i;
    }
}
