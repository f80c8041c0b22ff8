using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Rotary position embeddings (Llama): every head's vector [hs] is rotated pair by pair by angles that grow with the
// position, so that q . k depends on the distance between positions.
//   x, y  [B, T, heads * hs]     cos, sin  [positions, hs / 2] (Table)     rows of a batch at positions start .. start+T-1
//   pair i of a head (i < hs/2) turns by angle pos * theta^(-2i/hs):
//     half layout (Hugging Face's rotate_half):  (x[i], x[i + hs/2])
//     interleaved layout (Meta's and llama2.c's): (x[2i], x[2i + 1])
//   y_a = x_a cos - x_b sin,  y_b = x_b cos + x_a sin
// The two layouts are one function up to a permutation of each head's channels (what Hugging Face's conversion
// script applies to q_proj and k_proj). Backward is the inverse rotation and accumulates: dx += R^T dy.
// The half layout runs at every vector width; the interleaved one is scalar on every path (its pairs are adjacent).
public static class Rope
{
    /// <summary>
    /// cos and sin [positions, hs/2] of pos * theta^(-2i/hs), computed in float32 as Hugging Face and llama2.c compute them
    /// (the inverse frequencies, then the products pos * frequency, rounded to float), so positions far from 0 rotate by
    /// the same angles their checkpoints were trained with.
    /// </summary>
    public static (float[] Cos, float[] Sin) Table(int positions, int headSize, double theta)
    {
        if (headSize <= 0 || headSize % 2 != 0) throw new ArgumentOutOfRangeException(nameof(headSize), headSize, "the head size must be even");
        int half = headSize / 2;
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        for (int i = 0; i < half; i++)
        {
            float frequency = 1f / MathF.Pow((float)theta, 2 * i / (float)headSize);
            for (int p = 0; p < positions; p++)
            {
                float angle = p * frequency;
                cos[p * half + i] = MathF.Cos(angle);
                sin[p * half + i] = MathF.Sin(angle);
            }
        }
        return (cos, sin);
    }

    public static void Forward(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin,
        int b, int t, int start, int heads, int hs, bool interleaved) =>
        Apply(x, y, cos, sin, b, t, start, heads, hs, interleaved, backward: false);

    /// <summary>dx [B, T, heads * hs] += R^T dy: the gradient through the rotation.</summary>
    public static void Backward(ReadOnlySpan<float> dy, Span<float> dx, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin,
        int b, int t, int start, int heads, int hs, bool interleaved) =>
        Apply(dy, dx, cos, sin, b, t, start, heads, hs, interleaved, backward: true);

    static void Apply(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin,
        int b, int t, int start, int heads, int hs, bool interleaved, bool backward)
    {
        if (hs <= 0 || hs % 2 != 0) throw new ArgumentOutOfRangeException(nameof(hs), hs, "the head size must be even");
        int half = hs / 2, width = heads * hs;
        Check.AtLeast(x.Length, b * t, width, nameof(x));
        Check.AtLeast(y.Length, b * t, width, nameof(y));
        Check.AtLeast(cos.Length, start + t, half, nameof(cos));
        Check.AtLeast(sin.Length, start + t, half, nameof(sin));
        if (start < 0) throw new ArgumentOutOfRangeException(nameof(start));
        int bits = Simd.Bits;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref float rc = ref MemoryMarshal.GetReference(cos);
        ref float rs = ref MemoryMarshal.GetReference(sin);
        for (int row = 0; row < b * t; row++)
        {
            int pos = start + row % t;
            ref float c = ref Unsafe.Add(ref rc, (nint)pos * half);
            ref float s = ref Unsafe.Add(ref rs, (nint)pos * half);
            for (int h = 0; h < heads; h++)
            {
                ref float xh = ref Unsafe.Add(ref rx, (nint)row * width + h * hs);
                ref float yh = ref Unsafe.Add(ref ry, (nint)row * width + h * hs);
                if (interleaved) Interleaved(ref xh, ref yh, ref c, ref s, half, backward);
                else
                {
                    int i = 0;
                    if (bits >= 512) i = Half<Simd512, F512>(ref xh, ref yh, ref c, ref s, i, half, backward);
                    if (bits >= 256) i = Half<Simd256, F256>(ref xh, ref yh, ref c, ref s, i, half, backward);
                    if (bits >= 128) i = Half<Simd128, F128>(ref xh, ref yh, ref c, ref s, i, half, backward);
                    Half<Scalar, float>(ref xh, ref yh, ref c, ref s, i, half, backward);
                }
            }
        }
    }

    // Forward: y_a = x_a c - x_b s, y_b = x_b c + x_a s (written). Backward: y_a += x_a c + x_b s, y_b += x_b c - x_a s.
    static int Half<S, V>(ref float x, ref float y, ref float c, ref float s, int i, int half, bool backward) where S : struct, ISimd<V> where V : struct
    {
        for (; i + S.Count <= half; i += S.Count)
        {
            V xa = S.Load(ref Unsafe.Add(ref x, i)), xb = S.Load(ref Unsafe.Add(ref x, i + half));
            V vc = S.Load(ref Unsafe.Add(ref c, i)), vs = S.Load(ref Unsafe.Add(ref s, i));
            ref float ya = ref Unsafe.Add(ref y, i);
            ref float yb = ref Unsafe.Add(ref y, i + half);
            if (!backward)
            {
                S.Store(S.Sub(S.Mul(xa, vc), S.Mul(xb, vs)), ref ya);
                S.Store(S.Add(S.Mul(xb, vc), S.Mul(xa, vs)), ref yb);
            }
            else
            {
                S.Store(S.Add(S.Load(ref ya), S.Add(S.Mul(xa, vc), S.Mul(xb, vs))), ref ya);
                S.Store(S.Add(S.Load(ref yb), S.Sub(S.Mul(xb, vc), S.Mul(xa, vs))), ref yb);
            }
        }
        return i;
    }

    static void Interleaved(ref float x, ref float y, ref float c, ref float s, int half, bool backward)
    {
        for (int i = 0; i < half; i++)
        {
            float xa = Unsafe.Add(ref x, 2 * i), xb = Unsafe.Add(ref x, 2 * i + 1), ci = Unsafe.Add(ref c, i), si = Unsafe.Add(ref s, i);
            ref float ya = ref Unsafe.Add(ref y, 2 * i);
            ref float yb = ref Unsafe.Add(ref y, 2 * i + 1);
            if (!backward)
            {
                ya = xa * ci - xb * si;
                yb = xb * ci + xa * si;
            }
            else
            {
                ya += xa * ci + xb * si;
                yb += xb * ci - xa * si;
            }
        }
    }
}
