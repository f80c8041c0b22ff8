using System.Reflection;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

/// <summary>
/// Kernel tests switch the process-wide Simd width, so they run in one collection, alone: a test class running
/// beside them would otherwise see (and could reset) a forced width.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SimdWidthCollection
{
    public const string Name = "Simd width";
}

/// <summary>The vector widths a kernel test runs at.</summary>
public static class Widths
{
    /// <summary>
    /// Every width in Simd.SupportedBits(); on a machine without AVX-512 also 512, emulated: Vector512 works on every
    /// machine (in software, on two 256-bit halves), so the 512-bit instantiation of each kernel still gets checked.
    /// </summary>
    public static TheoryData<int> All
    {
        get
        {
            var data = new TheoryData<int>();
            foreach (var bits in Simd.SupportedBits()) data.Add(bits);
            if (Simd.MachineBits < 512) data.Add(512);
            return data;
        }
    }

    /// <summary>Runs the kernels at <paramref name="bits"/> until disposed.</summary>
    public static IDisposable Use(int bits) => bits <= Simd.MachineBits ? Simd.Force(bits) : new Emulated(bits);

    /// <summary>Simd.Force refuses widths the hardware lacks, so emulation sets the width field directly.</summary>
    sealed class Emulated : IDisposable
    {
        static readonly FieldInfo Field = typeof(Simd).GetField("_bits", BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new InvalidOperationException("Simd no longer keeps its width in a static field _bits: update Widths.Emulated");
        readonly object? _previous;

        public Emulated(int bits)
        {
            _previous = Field.GetValue(null);
            Field.SetValue(null, bits);
        }

        public void Dispose() => Field.SetValue(null, _previous);
    }
}

/// <summary>Awkward sizes (hit every vector tail) and random inputs.</summary>
internal static class Data
{
    public static readonly int[] Sizes = [1, 3, 7, 17, 31, 33, 65, 130];

    public static float[] Gaussian(ref Rng rng, int n, float scale = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = scale * rng.NextGaussian();
        return a;
    }

    public static int[] Ints(ref Rng rng, int n, int below)
    {
        var a = new int[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextInt(below);
        return a;
    }
}

internal static class Expect
{
    public const double Rel = 1e-5, Abs = 1e-5;

    public static void Close(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, string what, double rel = Rel, double abs = Abs)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            Close(expected[i], actual[i], $"{what}[{i}]", rel, abs);
    }

    public static void Close(double expected, double actual, string what, double rel = Rel, double abs = Abs)
    {
        double diff = Math.Abs(actual - expected);
        if (!(diff <= abs + rel * Math.Abs(expected)) && !(expected == actual))
            Assert.Fail($"{what}: expected {expected:R}, got {actual:R} (|diff| {diff:G3})");
    }

    /// <summary>Bytes allocated on this thread by 100 calls, after one warm-up call (which JIT-compiles).</summary>
    public static void AllocatesNothing(Action call, string what)
    {
        call();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) call();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{what}: 100 calls allocated {allocated} bytes");
    }
}
