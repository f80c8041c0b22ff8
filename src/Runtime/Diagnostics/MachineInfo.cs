using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Edge.Diagnostics;

/// <summary>
/// What `edge doctor` says about the machine: the OS, the CPU as /proc/cpuinfo names it, the features the CPU lists
/// and the instruction sets this process can use. The two differ when a NativeAOT binary was built for an older
/// instruction set than the CPU has (its instruction set is fixed at compile time), which is worth saying.
/// </summary>
public static class MachineInfo
{
    /// <summary>"Debian GNU/Linux 12 (bookworm), kernel 6.1.0, x64" (the distribution as /etc/os-release names it).</summary>
    public static string OperatingSystem()
    {
        string? distribution = null;
        foreach (var line in ReadLines("/etc/os-release"))
            if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal)) distribution = line[12..].Trim('"');
        var kernel = System.OperatingSystem.IsLinux() ? $", kernel {Environment.OSVersion.Version.ToString(3)}" : "";
        return $"{distribution ?? RuntimeInformation.OSDescription}{kernel}, {RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}";
    }

    /// <summary>The CPU's name from /proc/cpuinfo (x86's "model name"; on ARM boards "Model" or "Hardware", else the part number), or null.</summary>
    public static string? CpuModel()
    {
        var fields = CpuInfo();
        foreach (var key in new[] { "model name", "Model", "Hardware", "cpu model" })
            if (fields.TryGetValue(key, out var name) && name.Length > 0) return name;
        if (fields.TryGetValue("CPU implementer", out var implementer) && fields.TryGetValue("CPU part", out var part))
            return $"ARM implementer {implementer}, part {part}";
        return null;
    }

    /// <summary>The feature flags /proc/cpuinfo lists for the first CPU (x86 "flags", ARM "Features"), lower case.</summary>
    public static IReadOnlySet<string> CpuFlags()
    {
        var fields = CpuInfo();
        var flags = fields.GetValueOrDefault("flags") ?? fields.GetValueOrDefault("Features") ?? "";
        return flags.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(f => f.ToLowerInvariant()).ToHashSet();
    }

    /// <summary>The instruction sets .NET reports for this process, each with whether it may be used.</summary>
    public static IReadOnlyList<(string Name, bool Supported)> InstructionSets() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 =>
        [
            ("SSE4.2", Sse42.IsSupported), ("AVX", Avx.IsSupported), ("AVX2", Avx2.IsSupported), ("FMA", Fma.IsSupported),
            ("BMI2", Bmi2.IsSupported), ("AVX-VNNI", AvxVnni.IsSupported), ("AVX-512F", Avx512F.IsSupported),
        ],
        Architecture.Arm64 =>
        [
            ("AdvSimd", AdvSimd.Arm64.IsSupported), ("Dp", Dp.IsSupported), ("Rdm", Rdm.IsSupported),
            ("Crc32", Crc32.Arm64.IsSupported), ("Aes", System.Runtime.Intrinsics.Arm.Aes.IsSupported), ("Sha256", Sha256.IsSupported),
        ],
        _ => [],
    };

    /// <summary>
    /// A line when the CPU lists features this process cannot use because of how the binary was built (a NativeAOT
    /// build for an older instruction set), or null.
    /// </summary>
    public static string? UnusedCpuFeatures()
    {
        var flags = CpuFlags();
        bool x64 = RuntimeInformation.ProcessArchitecture == Architecture.X64;
        if (x64 && new[] { "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl" }.All(flags.Contains) && !Avx512F.IsSupported)
            return "the CPU has AVX-512, which this binary does not use: the x86-64-v4 build runs the 512-bit kernels here";
        if (x64 && flags.Contains("avx2") && flags.Contains("fma") && !Avx2.IsSupported)
            return "the CPU has AVX2 and FMA, which this binary does not use: the x86-64-v3 build runs the 256-bit kernels here";
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64 && flags.Contains("asimddp") && !Dp.IsSupported)
            return "the CPU has the dot-product extension (asimddp), which this binary does not use";
        return null;
    }

    /// <summary>"NativeAOT" or "JIT", and the .NET runtime.</summary>
    public static string Runtime() =>
        $"{(RuntimeFeature.IsDynamicCodeSupported ? "JIT" : "NativeAOT")}, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.RuntimeIdentifier}";

    static Dictionary<string, string> CpuInfo()
    {
        // The first value of each field: the first processor's (ARM boards list "Hardware" and "Model" once, after every processor).
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in ReadLines("/proc/cpuinfo"))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0) continue;
            fields.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
        }
        return fields;
    }

    static IEnumerable<string> ReadLines(string path)
    {
        try { return File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
