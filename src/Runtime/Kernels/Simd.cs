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

    /// <summary>Widths this machine can run: the ones a test should cover.</summary>
    public static int[] SupportedBits() =>
        new[] { 512, 256, 128, 0 }.Where(b => b <= MachineBits).ToArray();

    /// <summary>Use a narrower width (or 0 for scalar) until the returned scope is disposed. Not thread-safe: tests only.</summary>
    public static Scope Force(int bits)
    {
        if (bits > MachineBits) throw new ArgumentOutOfRangeException(nameof(bits), $"this machine accelerates at most {MachineBits}-bit vectors");
        var previous = _bits;
        _bits = bits;
        return new Scope(previous);
    }

    public readonly struct Scope(int previous) : IDisposable
    {
        public void Dispose() => _bits = previous;
    }
}
