using System.Diagnostics;
using System.Globalization;
using Edge.Diagnostics;
using Edge.Kernels;

namespace Edge.Cli;

static class DoctorCommand
{
    public const string Help = """
        edge doctor: what this machine and this binary run, how fast, and whether every kernel is right here.

        Usage: edge doctor [--no-measure] [--threads N]

        Options:
          --no-measure   skip the fp32 peak and copy bandwidth measurements (about 2 s natively, minutes under
                         an emulator such as qemu)
          --threads N    cores the kernels use (default: all)

        Prints the operating system, the CPU (its name from /proc/cpuinfo), the instruction sets this binary can
        use and any the CPU has that it does not (a NativeAOT binary's are fixed when it is built), the vector
        width and paths the kernels use, the threads, this machine's fp32 FMA peak on one thread and its copy
        bandwidth (what 'edge bench' measures), then a self-check: every kernel (forward and backward, the
        quantised products, decoding attention) on every vector width and instruction-set path this CPU runs,
        against a double-precision scalar reference, in a few seconds.

        Exit code 0 when every kernel agrees with the reference on every path; 1, naming the kernels that do
        not, otherwise.

        Examples:
          edge doctor
          qemu-aarch64 -L /usr/aarch64-linux-gnu ./edge doctor --no-measure     (an ARM64 build, emulated)
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        bool measure = !args.Flag("no-measure");
        int threads = args.Threads();
        args.RejectUnknown(0);

        Line("system", MachineInfo.OperatingSystem());
        Line("cpu", $"{MachineInfo.CpuModel() ?? "(not named in /proc/cpuinfo)"}, {Environment.ProcessorCount} logical cores");
        Line("binary", MachineInfo.Runtime() + (BuildTarget() is { } target ? $", built for {target}" : ""));
        Line("instruction sets", string.Join("  ", MachineInfo.InstructionSets().Select(s => $"{s.Name} {(s.Supported ? "yes" : "no")}")));
        if (MachineInfo.UnusedCpuFeatures() is { } unused) Line("note", unused);
        var paths = Simd.MachinePaths();
        Line("kernels", $"{Simd.Bits}-bit vectors, {Simd.IsaName(Simd.Isa)} code; paths: {string.Join(", ", paths.Select(p => Simd.PathName(p.Bits, p.Isa)))}");
        Line("threads", $"{threads} of {Environment.ProcessorCount}");
        if (measure)
        {
            double peak = MachinePeak.MeasureGflops();
            int used = Math.Min(threads, Environment.ProcessorCount);
            Line("fp32 peak", $"{Format(peak, "0.0")} GFLOP/s on one thread, {Format(peak * used, "0.0")} on {used} (FMA at {Simd.Bits} bits, measured now)");
            Line("copy bandwidth", $"{Format(MachinePeak.MeasureCopyBandwidth(), "0.0")} GB/s (read + written, {threads} thread{(threads == 1 ? "" : "s")}, measured now)");
        }

        Console.WriteLine();
        Console.WriteLine($"self-check: {KernelSelfCheck.Kernels.Count} kernels on {paths.Count} paths against the scalar reference");
        var clock = Stopwatch.StartNew();
        var failed = new List<KernelSelfCheck.Result>();
        var onPath = new List<KernelSelfCheck.Result>();
        KernelSelfCheck.Run(paths, done: result =>
        {
            onPath.Add(result);
            if (!result.Passed) failed.Add(result);
            if (onPath.Count < KernelSelfCheck.Kernels.Count) return;
            int bad = onPath.Count(r => !r.Passed);
            var seconds = onPath.Sum(r => r.Elapsed.TotalSeconds);
            Console.WriteLine($"  {result.Path,-22} {(bad == 0 ? $"{onPath.Count} ok" : Terminal.Bold($"{bad} FAILED") + $", {onPath.Count - bad} ok")}  {Format(seconds, "0.00")} s");
            foreach (var r in onPath.Where(r => !r.Passed)) Console.WriteLine($"    {r.Kernel}: {r.Mismatch}");
            onPath.Clear();
        });
        int total = KernelSelfCheck.Kernels.Count * paths.Count;
        if (failed.Count > 0)
        {
            var names = failed.Select(r => $"{r.Kernel} ({r.Path})");
            throw new EdgeException($"self-check failed: {failed.Count} of {total}: {string.Join(", ", names)}");
        }
        Console.WriteLine($"self-check passed: every kernel agrees with the reference on every path ({total} checks, {Format(clock.Elapsed.TotalSeconds, "0.0")} s)");
        return 0;
    }

    static void Line(string label, string value) => Console.WriteLine($"{Terminal.Bold(label.PadRight(17))}{value}");

    static string Format(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>The instruction set a NativeAOT build was compiled for (the CLI project records it), or null.</summary>
    static string? BuildTarget()
    {
        if (System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported) return null; // JIT: chosen at start-up
        var value = (System.Reflection.Assembly.GetEntryAssembly() ?? typeof(DoctorCommand).Assembly).GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .OfType<System.Reflection.AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "Edge.InstructionSet")?.Value;
        return string.IsNullOrEmpty(value) ? "the runtime's default instruction set" : value;
    }
}
