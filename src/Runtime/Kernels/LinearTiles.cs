using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace Edge.Kernels;

// The register-tiled micro-kernels of Linear.MatMulAdd: C [Rows, Cols] += packed A [kc][Rows] @ packed B [kc][Cols],
// every sum held in registers for a whole k block. Each product is one fused multiply-add, taken in k order, so
// every kernel gives an element of C the same bits as the four-row loops do.

/// <summary>A micro-kernel: its tile shape and its loop over one k block of packed A and B.</summary>
internal interface IMicroKernel
{
    /// <summary>Rows of C per tile (the rows of A packed together).</summary>
    static abstract int Rows { get; }
    /// <summary>Columns of C per tile (floats of each packed B row).</summary>
    static abstract int Cols { get; }
    /// <summary>C [Rows, Cols] (rows <paramref name="ld"/> floats apart) += A [kc][Rows] @ B [kc][Cols], both packed.</summary>
    static abstract void Run(ref float a, ref float b, ref float c, nint ld, int kc);
}

/// <summary>
/// 6 rows x 2 vectors = 12 accumulators, plus 2 B vectors and 1 broadcast A value: 15 of the 16 ymm registers on
/// AVX2 (the classic 6x16 shape; 12 independent FMA chains cover FMA latency x throughput). Portable: the same
/// kernel serves every width.
/// </summary>
internal readonly struct Tile6x2<S, V> : IMicroKernel where S : struct, ISimd<V> where V : struct
{
    public static int Rows => 6;
    public static int Cols => 2 * S.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float a, ref float b, ref float c, nint ld, int kc)
    {
        int n = S.Count;
        ref float c0 = ref c;
        ref float c1 = ref Unsafe.Add(ref c0, ld);
        ref float c2 = ref Unsafe.Add(ref c1, ld);
        ref float c3 = ref Unsafe.Add(ref c2, ld);
        ref float c4 = ref Unsafe.Add(ref c3, ld);
        ref float c5 = ref Unsafe.Add(ref c4, ld);
        V s00 = S.Load(ref c0), s01 = S.Load(ref Unsafe.Add(ref c0, n));
        V s10 = S.Load(ref c1), s11 = S.Load(ref Unsafe.Add(ref c1, n));
        V s20 = S.Load(ref c2), s21 = S.Load(ref Unsafe.Add(ref c2, n));
        V s30 = S.Load(ref c3), s31 = S.Load(ref Unsafe.Add(ref c3, n));
        V s40 = S.Load(ref c4), s41 = S.Load(ref Unsafe.Add(ref c4, n));
        V s50 = S.Load(ref c5), s51 = S.Load(ref Unsafe.Add(ref c5, n));
        for (int q = 0; q < kc; q++)
        {
            V b0 = S.Load(ref b), b1 = S.Load(ref Unsafe.Add(ref b, n));
            V x = S.Splat(a);
            s00 = S.MulAdd(x, b0, s00); s01 = S.MulAdd(x, b1, s01);
            x = S.Splat(Unsafe.Add(ref a, 1));
            s10 = S.MulAdd(x, b0, s10); s11 = S.MulAdd(x, b1, s11);
            x = S.Splat(Unsafe.Add(ref a, 2));
            s20 = S.MulAdd(x, b0, s20); s21 = S.MulAdd(x, b1, s21);
            x = S.Splat(Unsafe.Add(ref a, 3));
            s30 = S.MulAdd(x, b0, s30); s31 = S.MulAdd(x, b1, s31);
            x = S.Splat(Unsafe.Add(ref a, 4));
            s40 = S.MulAdd(x, b0, s40); s41 = S.MulAdd(x, b1, s41);
            x = S.Splat(Unsafe.Add(ref a, 5));
            s50 = S.MulAdd(x, b0, s50); s51 = S.MulAdd(x, b1, s51);
            a = ref Unsafe.Add(ref a, 6);
            b = ref Unsafe.Add(ref b, 2 * n);
        }
        S.Store(s00, ref c0); S.Store(s01, ref Unsafe.Add(ref c0, n));
        S.Store(s10, ref c1); S.Store(s11, ref Unsafe.Add(ref c1, n));
        S.Store(s20, ref c2); S.Store(s21, ref Unsafe.Add(ref c2, n));
        S.Store(s30, ref c3); S.Store(s31, ref Unsafe.Add(ref c3, n));
        S.Store(s40, ref c4); S.Store(s41, ref Unsafe.Add(ref c4, n));
        S.Store(s50, ref c5); S.Store(s51, ref Unsafe.Add(ref c5, n));
    }
}

/// <summary>
/// 8 rows x 2 vectors = 16 accumulators, 2 B vectors and 1 broadcast: 19 of the 32 zmm registers AVX-512 has (the
/// 512-bit path; at 256 bits there are 16 ymm registers and <see cref="Tile6x2{S, V}"/> stays). Eight rows make a
/// prompt pass of 64 or 128 tokens and the usual batch and width splits whole tiles (with six, 64 rows left 4 to the
/// slower four-row loops), and feed 16 multiply-adds with 10 loads where six rows feed 12 with 8. Spelled out like
/// Tile6x2 rather than shared with it: the JIT keeps named locals in registers, not an array or a loop over rows.
/// </summary>
internal readonly struct Tile8x2<S, V> : IMicroKernel where S : struct, ISimd<V> where V : struct
{
    public static int Rows => 8;
    public static int Cols => 2 * S.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float a, ref float b, ref float c, nint ld, int kc)
    {
        int n = S.Count;
        ref float c0 = ref c;
        ref float c1 = ref Unsafe.Add(ref c0, ld);
        ref float c2 = ref Unsafe.Add(ref c1, ld);
        ref float c3 = ref Unsafe.Add(ref c2, ld);
        ref float c4 = ref Unsafe.Add(ref c3, ld);
        ref float c5 = ref Unsafe.Add(ref c4, ld);
        ref float c6 = ref Unsafe.Add(ref c5, ld);
        ref float c7 = ref Unsafe.Add(ref c6, ld);
        V s00 = S.Load(ref c0), s01 = S.Load(ref Unsafe.Add(ref c0, n));
        V s10 = S.Load(ref c1), s11 = S.Load(ref Unsafe.Add(ref c1, n));
        V s20 = S.Load(ref c2), s21 = S.Load(ref Unsafe.Add(ref c2, n));
        V s30 = S.Load(ref c3), s31 = S.Load(ref Unsafe.Add(ref c3, n));
        V s40 = S.Load(ref c4), s41 = S.Load(ref Unsafe.Add(ref c4, n));
        V s50 = S.Load(ref c5), s51 = S.Load(ref Unsafe.Add(ref c5, n));
        V s60 = S.Load(ref c6), s61 = S.Load(ref Unsafe.Add(ref c6, n));
        V s70 = S.Load(ref c7), s71 = S.Load(ref Unsafe.Add(ref c7, n));
        for (int q = 0; q < kc; q++)
        {
            V b0 = S.Load(ref b), b1 = S.Load(ref Unsafe.Add(ref b, n));
            V x = S.Splat(a);
            s00 = S.MulAdd(x, b0, s00); s01 = S.MulAdd(x, b1, s01);
            x = S.Splat(Unsafe.Add(ref a, 1));
            s10 = S.MulAdd(x, b0, s10); s11 = S.MulAdd(x, b1, s11);
            x = S.Splat(Unsafe.Add(ref a, 2));
            s20 = S.MulAdd(x, b0, s20); s21 = S.MulAdd(x, b1, s21);
            x = S.Splat(Unsafe.Add(ref a, 3));
            s30 = S.MulAdd(x, b0, s30); s31 = S.MulAdd(x, b1, s31);
            x = S.Splat(Unsafe.Add(ref a, 4));
            s40 = S.MulAdd(x, b0, s40); s41 = S.MulAdd(x, b1, s41);
            x = S.Splat(Unsafe.Add(ref a, 5));
            s50 = S.MulAdd(x, b0, s50); s51 = S.MulAdd(x, b1, s51);
            x = S.Splat(Unsafe.Add(ref a, 6));
            s60 = S.MulAdd(x, b0, s60); s61 = S.MulAdd(x, b1, s61);
            x = S.Splat(Unsafe.Add(ref a, 7));
            s70 = S.MulAdd(x, b0, s70); s71 = S.MulAdd(x, b1, s71);
            a = ref Unsafe.Add(ref a, 8);
            b = ref Unsafe.Add(ref b, 2 * n);
        }
        S.Store(s00, ref c0); S.Store(s01, ref Unsafe.Add(ref c0, n));
        S.Store(s10, ref c1); S.Store(s11, ref Unsafe.Add(ref c1, n));
        S.Store(s20, ref c2); S.Store(s21, ref Unsafe.Add(ref c2, n));
        S.Store(s30, ref c3); S.Store(s31, ref Unsafe.Add(ref c3, n));
        S.Store(s40, ref c4); S.Store(s41, ref Unsafe.Add(ref c4, n));
        S.Store(s50, ref c5); S.Store(s51, ref Unsafe.Add(ref c5, n));
        S.Store(s60, ref c6); S.Store(s61, ref Unsafe.Add(ref c6, n));
        S.Store(s70, ref c7); S.Store(s71, ref Unsafe.Add(ref c7, n));
    }
}

/// <summary>
/// ARM64 (AdvSimd): 8 rows x 3 vectors of 4 = 24 accumulators, 3 B vectors and the 8 A values of a step in 2
/// vectors: 29 of the 32 Neon registers (BLIS's 8x12 shape for ARMv8). Each product is FMLA by element (a multiply-add
/// by one lane of an A vector), so A needs no broadcast: 2 loads of A and 3 of B feed 24 multiply-adds.
/// </summary>
internal readonly struct ArmTile8x12 : IMicroKernel
{
    public static int Rows => 8;
    public static int Cols => 12;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ref float a, ref float b, ref float c, nint ld, int kc)
    {
        // Accumulator srj holds row r, columns 4j .. 4j + 3 of the tile: c + r ld + 4j.
        nint l1 = ld, l2 = 2 * ld, l3 = 3 * ld, l4 = 4 * ld, l5 = 5 * ld, l6 = 6 * ld, l7 = 7 * ld;
        Vector128<float> s00 = Load(ref c, 0), s01 = Load(ref c, 4), s02 = Load(ref c, 8);
        Vector128<float> s10 = Load(ref c, l1), s11 = Load(ref c, l1 + 4), s12 = Load(ref c, l1 + 8);
        Vector128<float> s20 = Load(ref c, l2), s21 = Load(ref c, l2 + 4), s22 = Load(ref c, l2 + 8);
        Vector128<float> s30 = Load(ref c, l3), s31 = Load(ref c, l3 + 4), s32 = Load(ref c, l3 + 8);
        Vector128<float> s40 = Load(ref c, l4), s41 = Load(ref c, l4 + 4), s42 = Load(ref c, l4 + 8);
        Vector128<float> s50 = Load(ref c, l5), s51 = Load(ref c, l5 + 4), s52 = Load(ref c, l5 + 8);
        Vector128<float> s60 = Load(ref c, l6), s61 = Load(ref c, l6 + 4), s62 = Load(ref c, l6 + 8);
        Vector128<float> s70 = Load(ref c, l7), s71 = Load(ref c, l7 + 4), s72 = Load(ref c, l7 + 8);
        for (int q = 0; q < kc; q++)
        {
            var b0 = Vector128.LoadUnsafe(ref b);
            var b1 = Vector128.LoadUnsafe(ref b, 4);
            var b2 = Vector128.LoadUnsafe(ref b, 8);
            var lo = Vector128.LoadUnsafe(ref a); // A rows 0..3 at this q
            var hi = Vector128.LoadUnsafe(ref a, 4); // rows 4..7
            s00 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s00, b0, lo, 0);
            s01 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s01, b1, lo, 0);
            s02 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s02, b2, lo, 0);
            s10 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s10, b0, lo, 1);
            s11 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s11, b1, lo, 1);
            s12 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s12, b2, lo, 1);
            s20 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s20, b0, lo, 2);
            s21 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s21, b1, lo, 2);
            s22 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s22, b2, lo, 2);
            s30 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s30, b0, lo, 3);
            s31 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s31, b1, lo, 3);
            s32 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s32, b2, lo, 3);
            s40 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s40, b0, hi, 0);
            s41 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s41, b1, hi, 0);
            s42 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s42, b2, hi, 0);
            s50 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s50, b0, hi, 1);
            s51 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s51, b1, hi, 1);
            s52 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s52, b2, hi, 1);
            s60 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s60, b0, hi, 2);
            s61 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s61, b1, hi, 2);
            s62 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s62, b2, hi, 2);
            s70 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s70, b0, hi, 3);
            s71 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s71, b1, hi, 3);
            s72 = AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(s72, b2, hi, 3);
            a = ref Unsafe.Add(ref a, 8);
            b = ref Unsafe.Add(ref b, 12);
        }
        Store(s00, ref c, 0); Store(s01, ref c, 4); Store(s02, ref c, 8);
        Store(s10, ref c, l1); Store(s11, ref c, l1 + 4); Store(s12, ref c, l1 + 8);
        Store(s20, ref c, l2); Store(s21, ref c, l2 + 4); Store(s22, ref c, l2 + 8);
        Store(s30, ref c, l3); Store(s31, ref c, l3 + 4); Store(s32, ref c, l3 + 8);
        Store(s40, ref c, l4); Store(s41, ref c, l4 + 4); Store(s42, ref c, l4 + 8);
        Store(s50, ref c, l5); Store(s51, ref c, l5 + 4); Store(s52, ref c, l5 + 8);
        Store(s60, ref c, l6); Store(s61, ref c, l6 + 4); Store(s62, ref c, l6 + 8);
        Store(s70, ref c, l7); Store(s71, ref c, l7 + 4); Store(s72, ref c, l7 + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Load(ref float c, nint at) => Vector128.LoadUnsafe(ref Unsafe.Add(ref c, at));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(Vector128<float> v, ref float c, nint at) => v.StoreUnsafe(ref Unsafe.Add(ref c, at));
}
