using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Edge.Kernels;

namespace Edge.Diagnostics;

/// <summary>
/// Measures this machine's peak fp32 fused-multiply-add rate on one thread, at the vector width the kernels
/// use: 12 independent FMA chains, enough to cover the FMA latency on current x86 cores. Benchmarks report
/// their GFLOP/s as a share of this figure, so ratios stay honest on any machine.
/// </summary>
public static class MachinePeak
{
    /// <summary>GFLOP/s (one FMA = 2 FLOPs), the best of a few ~50 ms runs.</summary>
    public static double MeasureGflops()
    {
        double best = 0;
        Run(20_000); // warm up, tier up
        for (int i = 0; i < 5; i++)
        {
            const long iterations = 2_000_000;
            var clock = Stopwatch.StartNew();
            float sink = Run(iterations);
            double seconds = clock.Elapsed.TotalSeconds;
            GC.KeepAlive(sink);
            best = Math.Max(best, iterations * 12.0 * Lanes * 2 / seconds / 1e9);
        }
        return best;
    }

    /// <summary>
    /// Memory copy bandwidth in GB/s, counted as STREAM's Copy counts it (bytes read plus bytes written per second):
    /// 256 MiB copied between two buffers far larger than the caches, split across <see cref="Parallelism.Threads"/>
    /// threads, the best of a few passes. Memory-bound work (decoding: every weight read once per token) is
    /// judged against it.
    /// </summary>
    public static unsafe double MeasureCopyBandwidth()
    {
        const int Bytes = 256 << 20;
        using var from = new NativeBuffer(Bytes / 4);
        using var to = new NativeBuffer(Bytes / 4);
        from.Span.Fill(1f); // touch every page, so the copy measures memory and not page faults
        to.Span.Clear();
        var work = new CopyWork { From = (byte*)from.Pointer, To = (byte*)to.Pointer };
        int parts = Math.Max(1, Parallelism.Threads);
        work.Chunks = new Split(Bytes, parts, 4096);
        double best = 0;
        for (int i = 0; i < 5; i++)
        {
            long start = Stopwatch.GetTimestamp();
            WorkerPool.For(ref work, work.Chunks.Parts);
            best = Math.Max(best, 2.0 * Bytes / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9);
        }
        return best;
    }

    unsafe struct CopyWork : IPartitionedWork
    {
        public byte* From, To;
        public Split Chunks;

        public void Run(int part, int worker)
        {
            int s = Chunks.Start(part), e = Chunks.End(part);
            Buffer.MemoryCopy(From + s, To + s, e - s, e - s);
        }
    }

    static int Lanes => Simd.Bits switch { 512 => 16, 256 => 8, 128 => 4, _ => 1 };

    [MethodImpl(MethodImplOptions.NoInlining)]
    static float Run(long iterations) => Simd.Bits switch
    {
        512 => Chains<Simd512, Vector512<float>>(iterations),
        256 => Chains<Simd256, Vector256<float>>(iterations),
        128 => Chains<Simd128, Vector128<float>>(iterations),
        _ => Chains<Scalar, float>(iterations),
    };

    /// <summary>12 independent FMA chains at one width (the kernels' own ops struct, so the instruction is theirs).</summary>
    static float Chains<S, V>(long n) where S : struct, ISimd<V> where V : struct
    {
        V a = S.Splat(1.0001f), b = S.Splat(0.9999f);
        V c0 = b, c1 = b, c2 = b, c3 = b, c4 = b, c5 = b, c6 = b, c7 = b, c8 = b, c9 = b, c10 = b, c11 = b;
        for (long i = 0; i < n; i++)
        {
            c0 = S.MulAdd(c0, a, b); c1 = S.MulAdd(c1, a, b); c2 = S.MulAdd(c2, a, b); c3 = S.MulAdd(c3, a, b);
            c4 = S.MulAdd(c4, a, b); c5 = S.MulAdd(c5, a, b); c6 = S.MulAdd(c6, a, b); c7 = S.MulAdd(c7, a, b);
            c8 = S.MulAdd(c8, a, b); c9 = S.MulAdd(c9, a, b); c10 = S.MulAdd(c10, a, b); c11 = S.MulAdd(c11, a, b);
        }
        V sum = S.Add(S.Add(S.Add(c0, c1), S.Add(c2, c3)), S.Add(S.Add(c4, c5), S.Add(c6, c7)));
        return S.Sum(S.Add(sum, S.Add(S.Add(c8, c9), S.Add(c10, c11))));
    }
}
