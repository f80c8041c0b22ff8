using Edge.Kernels;

namespace Edge.Training;

/// <summary>
/// An optimiser updates every tensor of a parameter set from its gradient (<see cref="Step"/>: one <see cref="Update"/>
/// per tensor, with its decay flag); state such as Adam's moments lives in buffers with the set's layout, allocated once
/// on the first step.
/// </summary>
public abstract class Optimizer : IDisposable
{
    /// <summary>The rate for the next update; the trainer sets it from the schedule before each step.</summary>
    public float LearningRate { get; set; }
    public float WeightDecay { get; set; }
    /// <summary>Updates taken so far (Adam's bias correction needs it; checkpoints store it).</summary>
    public int StepCount { get; protected set; }

    /// <summary>One update of every tensor of <paramref name="parameters"/> from its gradient.</summary>
    public void Step(IParameterSet parameters)
    {
        StepCount++;
        Prepare(parameters.Values.Length);
        var w = parameters.Values;
        var g = parameters.Gradients;
        var tensors = parameters.Tensors;
        for (int i = 0; i < tensors.Count; i++)   // not foreach: an interface's enumerator would allocate every step
        {
            var p = tensors[i];
            Update(w.Slice(p.Offset, p.Length), g.Slice(p.Offset, p.Length), p.Offset, p.Decay);
        }
    }

    /// <summary>Allocates per-value state for a set of <paramref name="length"/> values (once).</summary>
    protected virtual void Prepare(int length) { }

    /// <summary>w, g: one parameter tensor and its gradient; offset: where it starts in the weight layout.</summary>
    public abstract void Update(Span<float> w, ReadOnlySpan<float> g, int offset, bool decay);

    /// <summary>Restores the step count and any per-parameter state (a resumed run).</summary>
    public virtual void Restore(int length, int stepCount, ReadOnlySpan<float> firstMoments, ReadOnlySpan<float> secondMoments) =>
        StepCount = stepCount;

    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>Plain stochastic gradient descent, with optional (coupled) weight decay on matrices.</summary>
public sealed class SgdOptimizer : Optimizer
{
    public override void Update(Span<float> w, ReadOnlySpan<float> g, int offset, bool decay) =>
        Sgd.Update(w, g, LearningRate, decay ? WeightDecay : 0f);
}

/// <summary>AdamW (decoupled weight decay, on matrices only) with PyTorch's defaults for betas and epsilon.</summary>
public sealed class AdamWOptimizer : Optimizer
{
    NativeBuffer? _m, _v;

    public float Beta1 { get; set; } = 0.9f;
    public float Beta2 { get; set; } = 0.999f;
    public float Epsilon { get; set; } = 1e-8f;

    /// <summary>First and second moments, same layout as the weights (for checkpoints).</summary>
    public Span<float> FirstMoments => _m is null ? default : _m.Span;
    public Span<float> SecondMoments => _v is null ? default : _v.Span;

    protected override void Prepare(int length)
    {
        if (_m is null || _m.Length != length)
        {
            _m?.Dispose(); _v?.Dispose();
            _m = new NativeBuffer(length);
            _v = new NativeBuffer(length);
        }
    }

    public override void Restore(int length, int stepCount, ReadOnlySpan<float> firstMoments, ReadOnlySpan<float> secondMoments)
    {
        base.Restore(length, stepCount, firstMoments, secondMoments);
        Prepare(length);
        firstMoments.CopyTo(_m!.Span);
        secondMoments.CopyTo(_v!.Span);
    }

    public override void Update(Span<float> w, ReadOnlySpan<float> g, int offset, bool decay) =>
        AdamW.Update(w, g, _m!.Span.Slice(offset, w.Length), _v!.Span.Slice(offset, w.Length),
            LearningRate, Beta1, Beta2, Epsilon, decay ? WeightDecay : 0f, StepCount);

    public override void Dispose()
    {
        _m?.Dispose(); _v?.Dispose();
        base.Dispose();
    }
}
