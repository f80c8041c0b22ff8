using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// The gate of Llama's MLP: h = SiLU(gate) * up, element-wise, SiLU(g) = g * sigmoid(g).
//   gate, up, h  [n]
// Backward accumulates (+=), with s = sigmoid(g):
//   dgate += dh * up * s * (1 + g * (1 - s))
//   dup   += dh * g * s
public static class SwiGlu
{
    public static void Forward(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> h)
    {
        Check.SameLength(gate.Length, up.Length, nameof(up));
        Check.SameLength(gate.Length, h.Length, nameof(h));
        ref float rg = ref MemoryMarshal.GetReference(gate);
        ref float ru = ref MemoryMarshal.GetReference(up);
        ref float rh = ref MemoryMarshal.GetReference(h);
        int bits = Simd.Bits, i = 0, n = gate.Length;
        if (bits >= 512) i = Forward<Simd512, F512>(ref rg, ref ru, ref rh, i, n);
        if (bits >= 256) i = Forward<Simd256, F256>(ref rg, ref ru, ref rh, i, n);
        if (bits >= 128) i = Forward<Simd128, F128>(ref rg, ref ru, ref rh, i, n);
        Forward<Scalar, float>(ref rg, ref ru, ref rh, i, n);
    }

    public static void Backward(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> dh, Span<float> dgate, Span<float> dup)
    {
        int n = gate.Length;
        Check.SameLength(n, up.Length, nameof(up));
        Check.SameLength(n, dh.Length, nameof(dh));
        Check.SameLength(n, dgate.Length, nameof(dgate));
        Check.SameLength(n, dup.Length, nameof(dup));
        ref float rg = ref MemoryMarshal.GetReference(gate);
        ref float ru = ref MemoryMarshal.GetReference(up);
        ref float rdh = ref MemoryMarshal.GetReference(dh);
        ref float rdg = ref MemoryMarshal.GetReference(dgate);
        ref float rdu = ref MemoryMarshal.GetReference(dup);
        int bits = Simd.Bits, i = 0;
        if (bits >= 512) i = Backward<Simd512, F512>(ref rg, ref ru, ref rdh, ref rdg, ref rdu, i, n);
        if (bits >= 256) i = Backward<Simd256, F256>(ref rg, ref ru, ref rdh, ref rdg, ref rdu, i, n);
        if (bits >= 128) i = Backward<Simd128, F128>(ref rg, ref ru, ref rdh, ref rdg, ref rdu, i, n);
        Backward<Scalar, float>(ref rg, ref ru, ref rdh, ref rdg, ref rdu, i, n);
    }

    /// <summary>sigmoid(g) = 1 / (1 + e^-g): exp of a large positive -g is +inf, giving 0, as it should.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static V Sigmoid<S, V>(V g) where S : struct, ISimd<V> where V : struct
    {
        V one = S.Splat(1f);
        return S.Div(one, S.Add(one, S.Exp(S.Sub(S.Zero, g))));
    }

    static int Forward<S, V>(ref float g, ref float u, ref float h, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        for (; i + S.Count <= n; i += S.Count)
        {
            V gi = S.Load(ref Unsafe.Add(ref g, i));
            S.Store(S.Mul(S.Mul(gi, Sigmoid<S, V>(gi)), S.Load(ref Unsafe.Add(ref u, i))), ref Unsafe.Add(ref h, i));
        }
        return i;
    }

    static int Backward<S, V>(ref float g, ref float u, ref float dh, ref float dg, ref float du, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        V one = S.Splat(1f);
        for (; i + S.Count <= n; i += S.Count)
        {
            V gi = S.Load(ref Unsafe.Add(ref g, i)), s = Sigmoid<S, V>(gi), d = S.Load(ref Unsafe.Add(ref dh, i));
            V silu = S.Mul(gi, s);
            // d silu / dg = s (1 + g (1 - s))
            V dsilu = S.Mul(s, S.MulAdd(gi, S.Sub(one, s), one));
            ref float dgi = ref Unsafe.Add(ref dg, i);
            S.Store(S.MulAdd(S.Mul(d, S.Load(ref Unsafe.Add(ref u, i))), dsilu, S.Load(ref dgi)), ref dgi);
            ref float dui = ref Unsafe.Add(ref du, i);
            S.Store(S.MulAdd(d, silu, S.Load(ref dui)), ref dui);
        }
        return i;
    }
}
