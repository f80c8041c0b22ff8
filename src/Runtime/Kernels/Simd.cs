using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Edge.Kernels;

/// <summary>
/// Which hand-written, architecture-specific code a kernel may use beside the portable Vector128/256/512 code.
/// The portable code serves every width on every CPU; these are the few places where one instruction set has a
/// better instruction than the portable API can express (an integer dot product, a multiply-add by a lane).
/// </summary>
public enum SimdIsa
{
    /// <summary>The portable vector API only (and scalar code).</summary>
    Portable,
    /// <summary>x86 AVX2 + FMA: the quantised products' vpmaddubsw/vpmaddwd integer sums, at 256 and 512 bits.</summary>
    Avx2,
    /// <summary>ARM64 AdvSimd (Neon): the GEMM micro-kernel's multiply-add by lane, widening integer products, at 128 bits.</summary>
    AdvSimd,
    /// <summary>ARM64 AdvSimd with the dot-product extension (SDOT): the quantised products' integer dot, at 128 bits.</summary>
    AdvSimdDp,
}

/// <summary>
/// Which vector width the kernels use. By default the widest the machine accelerates (512, 256, 128 bits);
/// tests force each narrower width, and 0 (scalar), to check every path against the scalar reference.
/// Kernels read <see cref="Bits"/> once per call, so forcing a width costs one branch per call, not per element.
/// Beside the width, <see cref="Isa"/> says which architecture-specific code runs at that width (x86 intrinsics
/// at 256 and 512 bits, ARM ones at 128); forcing <see cref="SimdIsa.Portable"/> runs the portable code instead,
/// so both are checked on the machine that has them (<see cref="Edge.Diagnostics.KernelSelfCheck"/>).
/// </summary>
public static class Simd
{
    /// <summary>The widest width this machine accelerates: 512, 256, 128 or 0.</summary>
    public static readonly int MachineBits =
        Vector512.IsHardwareAccelerated ? 512 :
        Vector256.IsHardwareAccelerated ? 256 :
        Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>The best architecture-specific code this machine (and this build of the binary) can run.</summary>
    public static readonly SimdIsa MachineIsa =
        Avx2.IsSupported && Fma.IsSupported ? SimdIsa.Avx2 :
        AdvSimd.Arm64.IsSupported && Dp.IsSupported ? SimdIsa.AdvSimdDp :
        AdvSimd.Arm64.IsSupported ? SimdIsa.AdvSimd : SimdIsa.Portable;

    static int _bits = MachineBits;
    static SimdIsa _isa = MachineIsa;

    /// <summary>The width the kernels use now.</summary>
    public static int Bits => _bits;

    /// <summary>The architecture-specific code the kernels may use now.</summary>
    public static SimdIsa Isa => _isa;

    /// <summary>True when the kernels may use the ARM64 AdvSimd paths (at 128 bits).</summary>
    internal static bool Arm(int bits) => bits == 128 && _isa >= SimdIsa.AdvSimd && AdvSimd.Arm64.IsSupported;

    /// <summary>
    /// Every width a kernel has a path for. All of them run on any machine: a width the hardware lacks is
    /// emulated by the runtime (Vector512 as two 256-bit halves), slowly but with the same results, so tests
    /// check every path everywhere.
    /// </summary>
    public static readonly int[] AllBits = [512, 256, 128, 0];

    /// <summary>Whether <paramref name="isa"/> has code of its own at <paramref name="bits"/> (the portable code runs at every width).</summary>
    public static bool RunsAt(SimdIsa isa, int bits) => isa switch
    {
        SimdIsa.Avx2 => bits is 256 or 512,
        SimdIsa.AdvSimd or SimdIsa.AdvSimdDp => bits == 128,
        _ => true,
    };

    /// <summary>Whether this machine runs <paramref name="isa"/>'s code: it is <see cref="MachineIsa"/> or a subset of it.</summary>
    public static bool Supports(SimdIsa isa) => isa switch
    {
        SimdIsa.Portable => true,
        SimdIsa.Avx2 => MachineIsa == SimdIsa.Avx2,
        SimdIsa.AdvSimd => MachineIsa is SimdIsa.AdvSimd or SimdIsa.AdvSimdDp,
        SimdIsa.AdvSimdDp => MachineIsa == SimdIsa.AdvSimdDp,
        _ => false,
    };

    /// <summary>
    /// The kernel paths this machine runs natively, best first: each accelerated width with every instruction set
    /// whose code runs at that width (its own, then the portable code), and scalar last. On an AVX2 machine:
    /// 256 AVX2, 256 portable, 128, scalar (an AVX-512 one adds 512 AVX2 and 512 portable first); on ARM64 with SDOT:
    /// 128 AdvSimd+Dp, 128 AdvSimd, 128 portable, scalar.
    /// </summary>
    public static IReadOnlyList<(int Bits, SimdIsa Isa)> MachinePaths()
    {
        var paths = new List<(int, SimdIsa)>();
        foreach (int bits in AllBits)
        {
            if (bits > MachineBits) continue;
            foreach (var isa in new[] { SimdIsa.Avx2, SimdIsa.AdvSimdDp, SimdIsa.AdvSimd })
                if (bits > 0 && Supports(isa) && RunsAt(isa, bits)) paths.Add((bits, isa));
            paths.Add((bits, SimdIsa.Portable));
        }
        return paths;
    }

    /// <summary>A path's name as `edge doctor` prints it: "256-bit AVX2", "128-bit portable", "scalar".</summary>
    public static string PathName(int bits, SimdIsa isa) => bits == 0 ? "scalar" : $"{bits}-bit {IsaName(isa)}";

    public static string IsaName(SimdIsa isa) => isa switch
    {
        SimdIsa.Avx2 => "AVX2",
        SimdIsa.AdvSimd => "AdvSimd",
        SimdIsa.AdvSimdDp => "AdvSimd+Dp",
        _ => "portable",
    };

    /// <summary>Use <paramref name="bits"/> (512, 256, 128 or 0 for scalar) until the returned scope is disposed. Process-wide: tests only.</summary>
    public static Scope Force(int bits) => Force(bits, _isa);

    /// <summary>
    /// Use <paramref name="bits"/> and <paramref name="isa"/> until the returned scope is disposed (process-wide: tests
    /// and the self-check only). An instruction set this machine lacks is refused.
    /// </summary>
    public static Scope Force(int bits, SimdIsa isa)
    {
        if (Array.IndexOf(AllBits, bits) < 0) throw new ArgumentOutOfRangeException(nameof(bits), "expected 512, 256, 128 or 0");
        if (!Supports(isa)) throw new ArgumentOutOfRangeException(nameof(isa), $"{IsaName(isa)} is not supported on this machine");
        var previous = new Scope(_bits, _isa);
        _bits = bits;
        _isa = isa;
        return previous;
    }

    public readonly struct Scope(int previousBits, SimdIsa previousIsa) : IDisposable
    {
        public void Dispose()
        {
            _bits = previousBits;
            _isa = previousIsa;
        }
    }
}
