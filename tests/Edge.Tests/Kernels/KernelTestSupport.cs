using Edge.Diagnostics;
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

/// <summary>The vector widths a kernel test runs at: every path, emulated where the hardware lacks it.</summary>
public static class Widths
{
    public static TheoryData<int> All
    {
        get
        {
            var data = new TheoryData<int>();
            foreach (var bits in Simd.AllBits) data.Add(bits);
            return data;
        }
    }

    /// <summary>Runs the kernels at <paramref name="bits"/> until disposed.</summary>
    public static IDisposable Use(int bits) => Simd.Force(bits);
}

/// <summary>
/// Thread counts a parallel kernel test runs at: 1 (the single-threaded path), the machine's, and more parts than
/// a two-core machine has cores. Parallelism.Threads is process-wide, so only tests in <see cref="SimdWidthCollection"/> change it.
/// </summary>
public static class ThreadCounts
{
    public static readonly int[] All = [1, 2, 3, 4];

    /// <summary>Splits kernel calls across <paramref name="threads"/> until disposed.</summary>
    public static IDisposable Use(int threads)
    {
        var previous = Parallelism.Threads;
        Parallelism.Threads = threads;
        return new Restore(previous);
    }

    sealed class Restore(int previous) : IDisposable
    {
        public void Dispose() => Parallelism.Threads = previous;
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
        if (Compare.Close(expected, actual, what, rel, abs) is { } mismatch) Assert.Fail(mismatch);
    }

    public static void Close(double expected, double actual, string what, double rel = Rel, double abs = Abs)
    {
        if (Compare.Close(expected, actual, what, rel, abs) is { } mismatch) Assert.Fail(mismatch);
    }

    /// <summary>The same float bit patterns (NaN payloads and the sign of zero included).</summary>
    public static void BitIdentical(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        if (Compare.BitIdentical(expected, actual, what) is { } mismatch) Assert.Fail(mismatch);
    }

    /// <summary>Bytes allocated on this thread by 100 calls, after one warm-up call (which JIT-compiles).</summary>
    public static void AllocatesNothing(Action call, string what) => AllocatesNothing(call, what, warmUp: 1, calls: 100);

    /// <summary>
    /// No allocation in the steady state: after <paramref name="warmUp"/> calls, a window of <paramref name="calls"/>
    /// calls that allocates nothing on this thread, out of at most three. A call that allocates would do so in every
    /// window; the runtime itself allocates now and then on a thread that runs hot code (its tiered compilation
    /// installing optimised code, timed by a clock, so more often when the machine is busy), which one window can catch.
    /// </summary>
    public static void AllocatesNothing(Action call, string what, int warmUp, int calls)
    {
        for (int i = 0; i < warmUp; i++) call();
        var windows = new List<long>();
        for (int w = 0; w < 3; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < calls; i++) call();
            windows.Add(GC.GetAllocatedBytesForCurrentThread() - before);
            if (windows[^1] == 0) return;
        }
        Assert.Fail($"{what}: every window of {calls} calls allocated ({string.Join(", ", windows)} bytes)");
    }
}

/// <summary>Central finite differences of a double-precision loss (the reference forward), for gradient checks.</summary>
internal static class FiniteDifferences
{
    /// <summary>d loss / d at[i] for every i, by (loss(at + h e_i) - loss(at - h e_i)) / 2h; at is restored.</summary>
    public static double[] Gradient(Func<double[], double> loss, double[] at, double h = 1e-5)
    {
        var g = new double[at.Length];
        for (int i = 0; i < at.Length; i++)
        {
            double saved = at[i];
            at[i] = saved + h;
            double plus = loss(at);
            at[i] = saved - h;
            double minus = loss(at);
            at[i] = saved;
            g[i] = (plus - minus) / (2 * h);
        }
        return g;
    }

    /// <summary>sum_i y[i] * g[i]: the loss whose gradient with respect to y is g.</summary>
    public static double Weighted(double[] y, float[] g)
    {
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += y[i] * g[i];
        return s;
    }
}
