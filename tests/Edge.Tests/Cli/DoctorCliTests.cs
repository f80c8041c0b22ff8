using System.Text.RegularExpressions;
using Edge.Kernels;
using Edge.Tests.Support;
using Xunit;

namespace Edge.Tests.Cli;

public class DoctorCliTests
{
    [Fact]
    public void Doctor_DescribesTheMachine_ChecksEveryPathItRuns_AndExitsZero()
    {
        using var dir = new TempDir();
        var r = EdgeProcess.Run(dir.Path, "doctor", "--no-measure", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var label in new[] { "system", "cpu", "binary", "instruction sets", "kernels", "threads" })
            Assert.Matches($@"(?m)^{label} +\S", r.Stdout);
        Assert.Contains("threads          1 of", r.Stdout);
        Assert.DoesNotContain("fp32 peak", r.Stdout); // --no-measure
        // One line per path, each with every kernel passing, then the verdict.
        foreach (var (bits, isa) in Simd.MachinePaths())
            Assert.Matches($@"(?m)^  {Regex.Escape(Simd.PathName(bits, isa))} +{Diagnostics.KernelSelfCheck.Kernels.Count} ok ", r.Stdout);
        Assert.Contains("self-check passed: every kernel agrees with the reference on every path", r.Stdout);
        Assert.Empty(r.Stderr);
    }
}
