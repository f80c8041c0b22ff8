using Edge.Training;
using ILGPU;
using ILGPU.Runtime;

namespace Edge.Gpu;

/// <summary>
/// A training run's engine on a device: the passes in a <see cref="DeviceContext"/>, and the weights' gradients, their
/// norm, clipping and the optimiser step (AdamW or SGD, as the CPU's: decay only on tensors marked Decay, the learning rate
/// from the host's schedule) on the device, with the moments resident there. <see cref="Synchronize"/> copies the weights
/// and moments to the host for a checkpoint; <see cref="RestoreOptimizer"/> uploads a resumed run's moments.
/// </summary>
public sealed class DeviceTraining : TrainingEngine
{
    readonly DeviceContext _context;
    readonly DeviceKernels _k;
    readonly Accelerator _acc;
    readonly TrainOptions _options;
    readonly int _length;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _partials;
    readonly float[] _hostPartials;
    MemoryBuffer1D<float, Stride1D.Dense>? _m, _v;
    float[] _hostM = [], _hostV = [], _hostGradients = [];
    int _steps;

    readonly bool _ownsContext;

    /// <param name="context">A training context of a device model.</param>
    /// <param name="ownsContext">Dispose the context with this engine.</param>
    public DeviceTraining(DeviceContext context, TrainOptions options, bool ownsContext = false)
    {
        _ownsContext = ownsContext;
        if (context.Kind != ContextKind.Training) throw new ArgumentException("a trainer needs a training context", nameof(context));
        _context = context;
        _k = context.DeviceModel.Device.Kernels;
        _acc = context.DeviceModel.Device.Accelerator;
        _options = options;
        _length = context.Model.Layout.WeightLength;
        _partials = _acc.Allocate1D<float>(_k.SumGroups);
        _hostPartials = new float[_k.SumGroups];
    }

    public override IModelContext Context => _context;
    public override IReadOnlyList<ParameterInfo> Tensors => _context.Model.Parameters;
    public override int OptimizerSteps => _steps;
    ArrayView<float> Gradients => _context.WeightGradients.SubView(0, _length);

    public override void ZeroGradients() => _context.WeightGradients.MemSetToZero();

    public override void ScaleGradients(float factor) => _k.Scale(Gradients, factor, _length);

    public override double GradientSumOfSquares()
    {
        _k.SumOfSquares(Gradients, _partials.View, _length);
        _partials.View.CopyToCPU(_hostPartials);
        double total = 0;
        foreach (var p in _hostPartials) total += p;
        return total;
    }

    public override ReadOnlySpan<float> GradientsOnHost()
    {
        if (_hostGradients.Length != _length) _hostGradients = new float[_length];
        Gradients.CopyToCPU(_hostGradients);
        return _hostGradients;
    }

    public override void Update(float learningRate)
    {
        _steps++;
        var w = _context.DeviceModel.Weights;
        var g = _context.WeightGradients;
        float wd = (float)_options.WeightDecay;
        if (_options.Optimizer == OptimizerKind.Sgd)
        {
            foreach (var p in Tensors)
                _k.Sgd(w.SubView(p.Offset, p.Length), g.SubView(p.Offset, p.Length), p.Length, 1f - learningRate * (p.Decay ? wd : 0f), learningRate);
            return;
        }
        EnsureMoments();
        // The constants Edge.Kernels.AdamW computes on the host, in the same precision.
        const float beta1 = 0.9f, eps = 1e-8f;
        float beta2 = (float)_options.Beta2;
        float stepSize = (float)(learningRate / (1 - Math.Pow(beta1, _steps)));
        float invSqrtBc2 = (float)(1 / Math.Sqrt(1 - Math.Pow(beta2, _steps)));
        foreach (var p in Tensors)
            _k.AdamW(w.SubView(p.Offset, p.Length), g.SubView(p.Offset, p.Length), _m!.View.SubView(p.Offset, p.Length), _v!.View.SubView(p.Offset, p.Length),
                p.Length, 1f - learningRate * (p.Decay ? wd : 0f), beta1, beta2, stepSize, invSqrtBc2, eps);
    }

    void EnsureMoments()
    {
        if (_m is not null) return;
        _m = _acc.Allocate1D<float>(Math.Max(1, _length));
        _v = _acc.Allocate1D<float>(Math.Max(1, _length));
        _m.MemSetToZero();
        _v.MemSetToZero();
    }

    public override void RestoreOptimizer(int steps, ReadOnlySpan<float> firstMoments, ReadOnlySpan<float> secondMoments)
    {
        _steps = steps;
        if (firstMoments.IsEmpty || _options.Optimizer == OptimizerKind.Sgd) return;
        if (firstMoments.Length != _length || secondMoments.Length != _length)
            throw new EdgeException($"optimiser moments of {firstMoments.Length:N0} values do not match the model's {_length:N0} weights");
        EnsureMoments();
        _m!.View.SubView(0, _length).CopyFromCPU(firstMoments.ToArray());
        _v!.View.SubView(0, _length).CopyFromCPU(secondMoments.ToArray());
    }

    public override ReadOnlySpan<float> FirstMoments => _hostM;
    public override ReadOnlySpan<float> SecondMoments => _hostV;

    /// <summary>The device's weights into the host model, and AdamW's moments into host copies (for the checkpoint writer).</summary>
    public override void Synchronize()
    {
        _context.DeviceModel.Download();
        if (_m is null) return;
        if (_hostM.Length != _length)
        {
            _hostM = new float[_length];
            _hostV = new float[_length];
        }
        _m.View.SubView(0, _length).CopyToCPU(_hostM);
        _v!.View.SubView(0, _length).CopyToCPU(_hostV);
    }

    public override void Dispose()
    {
        _partials.Dispose();
        _m?.Dispose();
        _v?.Dispose();
        if (_ownsContext) _context.Dispose();
    }
}
