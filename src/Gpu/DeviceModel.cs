using ILGPU;
using CpuKernels = global::Edge.Kernels;
using ILGPU.Runtime;

namespace Edge.Gpu;

/// <summary>
/// A model's weights resident on a device, as <see cref="LanguageModel"/> holds them on the host (one buffer in the layout's
/// order), with the op table the passes walk and the rotary tables its RoPE ops use. Contexts (<see cref="DeviceContext"/>)
/// hold everything a pass changes. The host model stays the source of the layout and of checkpoints:
/// <see cref="Download"/> copies trained weights back into it.
/// </summary>
public sealed class DeviceModel : IDisposable
{
    readonly MemoryBuffer1D<float, Stride1D.Dense> _weights;
    readonly Dictionary<(int HeadSize, double Theta), (MemoryBuffer1D<float, Stride1D.Dense> Cos, MemoryBuffer1D<float, Stride1D.Dense> Sin)> _rope = [];

    public DeviceModel(GpuDevice device, LanguageModel model)
    {
        if (model.IsQuantized)
            throw new EdgeException($"{model.Name} has quantised weights; the device backend runs fp32 weights (use the fp32 checkpoint)");
        Device = device;
        Host = model;
        Ops = model.Info.Ops();
        long bytes = 4L * model.Layout.WeightLength;
        if (bytes > device.MemoryBytes)
            throw new EdgeException($"{model.Name}'s weights need {bytes / (1024.0 * 1024):N0} MiB, more than the device's {device.MemoryBytes / (1024.0 * 1024):N0} MiB");
        _weights = device.Accelerator.Allocate1D<float>(Math.Max(1, model.Layout.WeightLength));
        Upload();
    }

    public GpuDevice Device { get; }
    /// <summary>The host model: layout, op table, and where checkpoints read the weights.</summary>
    public LanguageModel Host { get; }
    public IReadOnlyList<OpInfo> Ops { get; }
    internal ArrayView<float> Weights => _weights.View;

    /// <summary>Copies the host model's weights to the device (after the host changed them).</summary>
    public void Upload() => _weights.View.SubView(0, Host.Layout.WeightLength).CopyFromCPU(Host.Weights.ToArray());

    /// <summary>Copies the device's weights into the host model (after training on the device).</summary>
    public void Download()
    {
        if (Host.WeightsAreMapped) throw new InvalidOperationException($"the weights of {Host.Name} are a read-only mapping: train a copy");
        var host = new float[Host.Layout.WeightLength];
        _weights.View.SubView(0, host.Length).CopyToCPU(host);
        host.CopyTo(Host.Weights);
    }

    /// <summary>Parameter <paramref name="index"/>'s weights on the device.</summary>
    internal ArrayView<float> Parameter(int index)
    {
        var p = Host.Layout.Parameters[index];
        return _weights.View.SubView(p.Offset, p.Length);
    }

    /// <summary>RoPE's cos and sin [Context, hs / 2] for a head size and theta (Edge.CpuKernels.Rope.Table), uploaded once.</summary>
    internal (ArrayView<float> Cos, ArrayView<float> Sin) RopeTable(int headSize, double theta)
    {
        if (!_rope.TryGetValue((headSize, theta), out var table))
        {
            var (cos, sin) = CpuKernels.Rope.Table(Host.Info.Context, headSize, theta);
            table = (Device.Accelerator.Allocate1D(cos), Device.Accelerator.Allocate1D(sin));
            _rope[(headSize, theta)] = table;
        }
        return (table.Cos.View, table.Sin.View);
    }

    /// <summary>A context for forward passes on up to <paramref name="maxBatch"/> examples (activations share memory by lifetime).</summary>
    public DeviceContext CreateInferenceContext(int maxBatch = 1) => new(this, ContextKind.Inference, maxBatch, weightGradients: false);

    /// <summary>A context for training on up to <paramref name="maxBatch"/> examples, with the weights' gradients on the device.</summary>
    public DeviceContext CreateTrainingContext(int maxBatch) => new(this, ContextKind.Training, maxBatch, weightGradients: true);

    /// <summary>A context for generation: batch 1 and a KV cache over the context, on the device.</summary>
    public DeviceContext CreateDecodingContext()
    {
        if (!Host.IsSequenceModel) throw new InvalidOperationException($"{Host.Name} has no KV cache: it reads a fixed window (use an inference context's Logits)");
        return new(this, ContextKind.Decoding, 1, weightGradients: false);
    }

    public void Dispose()
    {
        _weights.Dispose();
        foreach (var (cos, sin) in _rope.Values)
        {
            cos.Dispose();
            sin.Dispose();
        }
    }
}
