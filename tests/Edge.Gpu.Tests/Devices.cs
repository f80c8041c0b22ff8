using Xunit;

namespace Edge.Gpu.Tests;

/// <summary>Every test class is in this one collection: the shared devices run one launch stream at a time.</summary>
[CollectionDefinition(Name)]
public sealed class DeviceCollection
{
    public const string Name = "device";
}

/// <summary>
/// The devices the tests share (one ILGPU context each, for the whole run): ILGPU's CPU accelerator with one-thread groups
/// (fast: how whole models run here) and with 4 x 4 product tiles and 8-thread row groups (the shared-memory tiles and the
/// group reductions a GPU runs, on small shapes). With EDGE_GPU_TEST_DEVICE=cuda both are the first CUDA device.
/// </summary>
static class Devices
{
    static readonly Lazy<GpuDevice> _fast = new(() => Cuda ?? GpuDevice.Cpu());
    static readonly Lazy<GpuDevice> _grouped = new(() => Cuda ?? GpuDevice.Cpu(tile: 4, rowGroup: 8));
    static GpuDevice? _cuda;

    static GpuDevice? Cuda => Environment.GetEnvironmentVariable("EDGE_GPU_TEST_DEVICE") == "cuda" ? _cuda ??= GpuDevice.Cuda() : null;

    public static GpuDevice Fast => _fast.Value;
    public static GpuDevice Grouped => _grouped.Value;

    public static GpuDevice Get(string name) => name == "grouped" ? Grouped : Fast;

    public static TheoryData<string> Both() => new() { "fast", "grouped" };
}

/// <summary>Comparison with the CPU's results: |a - b| / (1 + |b|) at most the tolerance (1e-4 unless said).</summary>
static class Near
{
    public static void Equal(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance = 1e-4, string what = "")
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(expected[i] - actual[i]) / (1 + Math.Abs(expected[i]));
            if (!(d <= worst)) { worst = d; at = i; }
        }
        Assert.True(worst <= tolerance, $"{what}: relative difference {worst:G3} at {at} (expected {(at >= 0 ? expected[at] : 0)}, got {(at >= 0 ? actual[at] : 0)})");
    }

    public static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Rng((ulong)seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = rng.NextGaussian() * scale;
        return x;
    }
}
