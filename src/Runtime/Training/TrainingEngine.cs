using Edge.Kernels;

namespace Edge.Training;

/// <summary>
/// Where a training run computes: its passes (a context) and the arithmetic on the gradients and values of the parameters
/// it trains (zero, scale, norm, optimiser update). <see cref="Trainer"/> owns the loop (batches, the learning-rate schedule,
/// accumulation, clipping, evaluation, the run's state) and calls these; <see cref="HostTraining"/> runs them with the CPU
/// kernels, a device backend (src/Gpu) on its device with the gradients and optimiser moments resident there.
/// </summary>
public abstract class TrainingEngine : IDisposable
{
    /// <summary>The context the passes run in (a training context).</summary>
    public abstract IModelContext Context { get; }
    /// <summary>The tensors trained, as laid out in the gradients and the optimiser's moments.</summary>
    public abstract IReadOnlyList<ParameterInfo> Tensors { get; }
    /// <summary>Optimiser updates taken so far (AdamW's bias correction; checkpoints store it).</summary>
    public abstract int OptimizerSteps { get; }

    public abstract void ZeroGradients();
    /// <summary>Multiplies every gradient (the mean over accumulated batches, clipping).</summary>
    public abstract void ScaleGradients(float factor);
    /// <summary>The sum of the squares of every gradient, accumulated in double.</summary>
    public abstract double GradientSumOfSquares();
    /// <summary>The gradients, on the host, laid out as <see cref="Tensors"/> (to name a non-finite value in an error).</summary>
    public abstract ReadOnlySpan<float> GradientsOnHost();
    /// <summary>One optimiser update of every tensor at <paramref name="learningRate"/>.</summary>
    public abstract void Update(float learningRate);
    /// <summary>Restores the optimiser's step count and moments (empty spans: none, as for SGD).</summary>
    public abstract void RestoreOptimizer(int steps, ReadOnlySpan<float> firstMoments, ReadOnlySpan<float> secondMoments);
    /// <summary>AdamW's moments on the host (empty before the first step and for SGD), valid after <see cref="Synchronize"/>.</summary>
    public abstract ReadOnlySpan<float> FirstMoments { get; }
    public abstract ReadOnlySpan<float> SecondMoments { get; }

    /// <summary>Brings the trained values (the model's weights, or an adapter's) and the moments to the host, before a checkpoint is written.</summary>
    public virtual void Synchronize() { }

    public abstract void Dispose();
}

/// <summary>Training with the CPU kernels: a training context, a parameter set (the model's weights or an adapter) and an optimiser.</summary>
public sealed class HostTraining : TrainingEngine
{
    readonly ModelContext _context;
    readonly IParameterSet _parameters;

    readonly bool _ownsContext;

    /// <param name="parameters">What to optimise: null for the model's weights.</param>
    /// <param name="ownsContext">Dispose the context with this engine (an engine a host created for one run).</param>
    public HostTraining(ModelContext context, TrainOptions options, IParameterSet? parameters = null, bool ownsContext = false)
    {
        _ownsContext = ownsContext;
        if (context.Kind != ContextKind.Training) throw new ArgumentException("a trainer needs a training context", nameof(context));
        _context = context;
        _parameters = parameters ?? (context.Model.FitsByCounting ? null! : new ModelWeights(context));
        Optimizer = options.Optimizer == OptimizerKind.Sgd ? new SgdOptimizer() : new AdamWOptimizer { Beta2 = (float)options.Beta2 };
        Optimizer.WeightDecay = (float)options.WeightDecay;
    }

    public Optimizer Optimizer { get; }
    public override IModelContext Context => _context;
    public override IReadOnlyList<ParameterInfo> Tensors => _parameters.Tensors;
    public override int OptimizerSteps => Optimizer.StepCount;
    public override void ZeroGradients() => _parameters.ZeroGradients();
    public override void ScaleGradients(float factor) => VectorMath.Scale(factor, _parameters.Gradients);
    public override double GradientSumOfSquares() => GradientNorm.SumOfSquares(_parameters.Gradients);
    public override ReadOnlySpan<float> GradientsOnHost() => _parameters.Gradients;

    public override void Update(float learningRate)
    {
        Optimizer.LearningRate = learningRate;
        Optimizer.Step(_parameters);
    }

    public override void RestoreOptimizer(int steps, ReadOnlySpan<float> firstMoments, ReadOnlySpan<float> secondMoments) =>
        Optimizer.Restore(_parameters.Values.Length, steps, firstMoments, secondMoments);

    public override ReadOnlySpan<float> FirstMoments => Optimizer is AdamWOptimizer adam ? adam.FirstMoments : default;
    public override ReadOnlySpan<float> SecondMoments => Optimizer is AdamWOptimizer adam ? adam.SecondMoments : default;

    public override void Dispose()
    {
        Optimizer.Dispose();
        if (_ownsContext) _context.Dispose();
    }
}
