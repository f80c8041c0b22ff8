using Edge.Diagnostics;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

/// <summary>The self-check `edge doctor` runs on a device, run here in-process on this machine's paths.</summary>
[Collection(SimdWidthCollection.Name)]
public class KernelSelfCheckTests
{
    [Fact]
    public void EveryKernel_PassesOnEveryPathThisMachineRuns()
    {
        var results = KernelSelfCheck.Run();
        var failures = results.Where(r => !r.Passed).Select(r => $"{r.Kernel} on {r.Path}: {r.Mismatch}").ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal(KernelSelfCheck.Kernels.Count * Simd.MachinePaths().Count, results.Count);
        Assert.Equal(Simd.MachineBits, Simd.Bits); // the forced paths are undone
        Assert.Equal(Simd.MachineIsa, Simd.Isa);
    }

    [Theory, MemberData(nameof(Widths.All), MemberType = typeof(Widths))]
    public void EveryKernel_PassesOnEmulatedWidthsToo(int bits)
    {
        // The widths this machine lacks run emulated (Vector512 on AVX2): the same checks hold there.
        var failures = KernelSelfCheck.Run([(bits, SimdIsa.Portable)]).Where(r => !r.Passed).Select(r => $"{r.Kernel}: {r.Mismatch}");
        Assert.Empty(failures);
    }

    [Fact]
    public void AFailingKernel_IsNamedWithItsPathAndMismatch_AndTheOthersStillRun()
    {
        KernelSelfCheck.Kernel[] kernels =
        [
            new("broken", () => Compare.Close([1.0], [1.5f], "y", 1e-5, 1e-5)),
            new("throws", () => throw new InvalidOperationException("bad lane")),
            KernelSelfCheck.Kernels[0],
        ];
        var results = KernelSelfCheck.Run([(0, SimdIsa.Portable)], kernels);
        Assert.Equal(["broken", "throws", KernelSelfCheck.Kernels[0].Name], results.Select(r => r.Kernel));
        Assert.Equal("y[0]: expected 1, got 1.5 (|diff| 0.5)", results[0].Mismatch);
        Assert.Equal("threw InvalidOperationException: bad lane", results[1].Mismatch);
        Assert.True(results[2].Passed);
        Assert.All(results, r => Assert.Equal("scalar", r.Path));
    }

    [Fact]
    public void MachinePaths_AreBestFirst_EndInScalar_AndForceRefusesAnUnsupportedIsa()
    {
        var paths = Simd.MachinePaths();
        Assert.Equal((0, SimdIsa.Portable), paths[^1]);
        Assert.Equal(Simd.MachineBits, paths[0].Bits);
        // What the kernels run by default is among them (as itself where its instruction set has code at that width).
        Assert.Contains((Simd.MachineBits, Simd.RunsAt(Simd.MachineIsa, Simd.MachineBits) ? Simd.MachineIsa : SimdIsa.Portable), paths);
        var missing = Simd.MachineIsa is SimdIsa.AdvSimd or SimdIsa.AdvSimdDp ? SimdIsa.Avx2 : SimdIsa.AdvSimd;
        Assert.Throws<ArgumentOutOfRangeException>(() => Simd.Force(128, missing));
    }
}
