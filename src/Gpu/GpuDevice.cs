using System.Runtime.InteropServices;
using System.Runtime.Loader;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Edge.Gpu;

/// <summary>
/// One ILGPU accelerator and the kernels compiled for it: a CUDA GPU (<c>cuda</c>), or ILGPU's CPU accelerator (<c>cpu</c>),
/// which runs the same kernels as a multi-threaded simulator: the tests' device, a check of correctness, not a speed path.
/// Launch shapes depend on the device: on a GPU the matrix products use 16 x 16-thread tiles and row kernels 256 threads; on the
/// CPU accelerator every thread of a group is an OS thread and a barrier a thread switch, so by default its groups have one
/// thread (the same code, whose cooperative loops then run in one thread); tests also run small groups there.
/// </summary>
public sealed class GpuDevice : IDisposable
{
    readonly Context _context;

    GpuDevice(Context context, Accelerator accelerator, int tile, int rowGroup)
    {
        _context = context;
        Accelerator = accelerator;
        Tile = tile;
        RowGroup = rowGroup;
        Kernels = new DeviceKernels(this);
    }

    internal Accelerator Accelerator { get; }
    internal DeviceKernels Kernels { get; }

    /// <summary>Threads along each side of a product's group (its square in all); each group computes a (4 tile)-square block.</summary>
    public int Tile { get; }
    /// <summary>Threads per group of the row kernels (norms, softmax, attention rows): a power of two.</summary>
    public int RowGroup { get; }

    public bool IsCpu => Accelerator.AcceleratorType == AcceleratorType.CPU;
    public string Name => IsCpu ? $"ILGPU CPU accelerator ({Environment.ProcessorCount} cores, a simulator)" : Accelerator.Name;
    /// <summary>The device's memory in bytes (the host's for the CPU accelerator).</summary>
    public long MemoryBytes => IsCpu ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : Accelerator.MemorySize;

    /// <summary>One line for a host to print: the device and its memory.</summary>
    public string Describe() => $"device {Name}, {MemoryBytes / (1024.0 * 1024 * 1024):0.0} GiB";

    /// <summary>Opens a device by the name a command line gives: "cpu" or "cuda" (the first CUDA GPU).</summary>
    public static GpuDevice Open(string kind) => kind switch
    {
        "cpu" => Cpu(),
        "cuda" => Cuda(),
        _ => throw new EdgeException($"unknown device '{kind}' (devices: cpu, cuda)"),
    };

    /// <summary>
    /// ILGPU's CPU accelerator. Groups of <paramref name="tile"/>^2 threads for the products and <paramref name="rowGroup"/>
    /// for the row kernels (1 and 1: fast; more exercises the shared-memory paths a GPU takes).
    /// </summary>
    public static GpuDevice Cpu(int tile = 1, int rowGroup = 1)
    {
        if (tile < 1 || rowGroup < 1 || (rowGroup & (rowGroup - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(rowGroup), "the tile must be positive and the row group a power of two");
        int threads = Math.Max(tile * tile, rowGroup);
        // A CPU device whose groups hold the largest group we launch: warps of up to 4 threads.
        int warp = Math.Min(4, threads), warps = (threads + warp - 1) / warp;
        var device = new CPUDevice(Math.Max(2, warp), Math.Max(1, warps), Math.Max(1, Environment.ProcessorCount));
        var context = Context.Create(b => b.CPU(device).EnableAlgorithms());
        try
        {
            return new GpuDevice(context, device.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel), tile, rowGroup);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The first CUDA device; a one-line EdgeException when there is no driver or no device.</summary>
    public static GpuDevice Cuda()
    {
        CudaLibrary.Register();
        Context? context = null;
        try
        {
            context = Context.Create(b => b.Cuda().EnableAlgorithms());
            var devices = context.GetCudaDevices();
            if (devices.Count == 0)
                throw new EdgeException("no CUDA device: the NVIDIA driver (libcuda.so.1) was not found or reports no GPU; run with --device cpu");
            return new GpuDevice(context, devices[0].CreateAccelerator(context), tile: 16, rowGroup: 256);
        }
        catch (EdgeException)
        {
            context?.Dispose();
            throw;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or CudaException or NotSupportedException
                                      or InvalidOperationException or EntryPointNotFoundException)
        {
            context?.Dispose();
            throw new EdgeException($"CUDA is not usable here ({Inner(e).Message.TrimEnd('.')}); run with --device cpu", e);
        }
    }

    static Exception Inner(Exception e) => e is TypeInitializationException { InnerException: { } inner } ? inner : e;

    internal void Synchronize() => Accelerator.Synchronize();

    public void Dispose()
    {
        Kernels.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
    }
}

/// <summary>
/// ILGPU binds the CUDA driver as "cuda", which .NET looks up as libcuda.so; a machine with only the driver has
/// libcuda.so.1 (the unversioned name comes with the development files). This resolver tries the versioned name when
/// the default lookup fails.
/// </summary>
static class CudaLibrary
{
    static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, name) =>
            name is "cuda" or "libcuda" or "libcuda.so" && NativeLibrary.TryLoad("libcuda.so.1", out var handle) ? handle : IntPtr.Zero;
    }
}
