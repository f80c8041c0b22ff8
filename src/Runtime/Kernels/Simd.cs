using System.Runtime.Intrinsics;

namespace Edge.Kernels;

/// <summary>
/// Which vector width the kernels use. By default the widest the machine accelerates (512, 256, 128 bits);
/// tests force each narrower width, and 0 (scalar), to check every path against the scalar reference.
/// Kernels read <see cref="Bits"/> once per call, so forcing a width costs one branch per call, not per element.
/// </summary>
public static class Simd
{
    /// <summary>The widest width this machine accelerates: 512, 256, 128 or 0.</summary>
    public static readonly int MachineBits =
        Vector512.IsHardwareAccelerated ? 512 :
        Vector256.IsHardwareAccelerated ? 256 :
        Vector128.IsHardwareAccelerated ? 128 : 0;

    static int _bits = MachineBits;

    /// <summary>The width the kernels use now.</summary>
    public static int Bits => _bits;

    /// <summary>
    /// Every width a kernel has a path for. All of them run on any machine: a width the hardware lacks is
    /// emulated by the runtime (Vector512 as two 256-bit halves), slowly but with the same results, so tests
    /// check every path everywhere.
    /// </summary>
    public static readonly int[] AllBits = [512, 256, 128, 0];

    /// <summary>Use <paramref name="bits"/> (512, 256, 128 or 0 for scalar) until the returned scope is disposed. Process-wide: tests only.</summary>
    public static Scope Force(int bits)
    {
        if (Array.IndexOf(AllBits, bits) < 0) throw new ArgumentOutOfRangeException(nameof(bits), "expected 512, 256, 128 or 0");
        var previous = _bits;
        _bits = bits;
        return new Scope(previous);
    }

    public readonly struct Scope(int previous) : IDisposable
    {
        public void Dispose() => _bits = previous;
    }
}
