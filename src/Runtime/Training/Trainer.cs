using System.Diagnostics;
using Edge.Data;
using Edge.Kernels;

namespace Edge.Training;

/// <summary>
/// Every option of a training run, for a model's weights or for an adapter; defaults come from the model's
/// [TrainingRecipe] (<see cref="FromRecipe"/>) and the CLI binds its options onto them.
/// </summary>
public sealed record TrainOptions
{
    /// <summary>Optimiser steps in the run.</summary>
    public int Steps { get; init; } = 1000;
    /// <summary>Examples per micro-batch (windows, or sequences of the model's context).</summary>
    public int Batch { get; init; } = 32;
    /// <summary>The optimiser: SGD or AdamW.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;
    /// <summary>The base rate (the peak of the cosine schedule).</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>How the rate changes over the run (<see cref="LearningRates"/>).</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Step;
    /// <summary>Step schedule: multiply the rate by <see cref="DecayFactor"/> from this step on (0: never).</summary>
    public int DecayStep { get; init; }
    /// <summary>Step schedule: the factor applied to the rate from <see cref="DecayStep"/> on.</summary>
    public double DecayFactor { get; init; } = 0.1;
    /// <summary>Cosine schedule: steps of linear warm-up, and the rate at the last step.</summary>
    public int Warmup { get; init; }
    /// <summary>Cosine schedule: the rate at the last step.</summary>
    public double MinLearningRate { get; init; }
    /// <summary>Weight decay on matrices and embeddings (not biases or norms); decoupled for AdamW, coupled for SGD.</summary>
    public double WeightDecay { get; init; }
    /// <summary>AdamW's second-moment decay (beta1 is 0.9).</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Scale the gradients down when their global L2 norm exceeds this (0 = off).</summary>
    public double GradClip { get; init; }
    /// <summary>Micro-batches whose gradients are averaged into one optimiser step.</summary>
    public int Accumulate { get; init; } = 1;
    /// <summary>Evaluate on the validation split every this many steps (and after the last step).</summary>
    public int EvalInterval { get; init; } = 500;
    /// <summary>Evaluations use at most this many validation examples, evenly spread over the split (`edge eval` scores every one).</summary>
    public int EvalExamples { get; init; } = 16384;
    /// <summary>Dropout in training passes (the model's own layers; adapters have theirs in their config).</summary>
    public double Dropout { get; init; }
    /// <summary>Seeds the batch order and the dropout stream: a run is deterministic for a seed.</summary>
    public ulong Seed { get; init; } = 1337;

    /// <summary>The options a model's [TrainingRecipe] declares.</summary>
    public static TrainOptions FromRecipe(TrainingRecipe r) => new()
    {
        Steps = r.Steps, Batch = r.Batch, Optimizer = r.Optimizer, LearningRate = r.LearningRate, Schedule = r.Schedule,
        DecayStep = r.DecayStep, DecayFactor = r.DecayFactor, Warmup = r.Warmup, MinLearningRate = r.MinLearningRate,
        WeightDecay = r.WeightDecay, Beta2 = r.Beta2, GradClip = r.GradClip, EvalInterval = r.EvalInterval, Dropout = r.Dropout,
    };

    /// <summary>The learning rate at each step.</summary>
    public LearningRateSchedule LearningRates => Schedule == ScheduleKind.Cosine
        ? LearningRateSchedule.Cosine(LearningRate, Warmup, Steps, MinLearningRate)
        : LearningRateSchedule.Step(LearningRate, DecayStep, DecayFactor);
}

/// <summary>The position of a run: step, the batch and dropout random streams, optimiser steps, best validation loss.</summary>
public sealed record TrainingState(int Step, (ulong, ulong, ulong, ulong) BatchRng, (ulong, ulong, ulong, ulong) DropoutRng, int OptimizerSteps, double BestVal);

/// <summary>One evaluation: the loss on the train split and on the validation split, each scored on the same number of examples.</summary>
public readonly record struct EvalResult(int Step, double TrainLoss, double ValLoss, double LearningRate, double Seconds)
{
    /// <summary>exp(<see cref="ValLoss"/>): the validation perplexity.</summary>
    public double ValPerplexity => Math.Exp(ValLoss);
}

/// <summary>
/// The training loop, one for every parameter set (a model's weights, or a LoRA adapter on a frozen base): draw a batch,
/// zero the gradients, forward, backward, clip, optimiser step; evaluate every N steps. It runs in a training context
/// (the activations, gradients and dropout stream of this run) and is deterministic for a given seed. After the first
/// step nothing here allocates.
/// </summary>
public sealed class Trainer : IDisposable
{
    readonly TrainingEngine _engine;
    readonly IModelContext _context;
    readonly ExampleSet _train, _val;
    readonly TrainOptions _options;
    readonly LearningRateSchedule _schedule;
    readonly int[] _inputs, _targets;
    readonly int _length;
    Rng _batchRng;

    /// <param name="context">A training context of the model (its largest batch at least <see cref="TrainOptions.Batch"/>).</param>
    /// <param name="parameters">What to optimise: null for the model's weights; a LoRA adapter (active in the context's adapters) for adapter training.</param>
    public Trainer(ModelContext context, ExampleSet train, ExampleSet val, TrainOptions options, IParameterSet? parameters = null)
        : this(new HostTraining(context, options, parameters), train, val, options)
    {
    }

    /// <param name="engine">Where the passes and updates run (<see cref="HostTraining"/>, or a device's); the trainer disposes it.</param>
    public Trainer(TrainingEngine engine, ExampleSet train, ExampleSet val, TrainOptions options)
    {
        var context = engine.Context;
        var model = context.Model;
        if (context.Kind != ContextKind.Training) throw new ArgumentException("a trainer needs a training context", nameof(engine));
        if (options.Batch > context.MaxBatch)
            throw new ArgumentException($"batch {options.Batch} exceeds the context's largest batch {context.MaxBatch}");
        CheckExampleShape(model, train);
        CheckExampleShape(model, val);
        _engine = engine;
        _context = context;
        _train = train;
        _val = val;
        _options = options;
        _schedule = options.LearningRates;
        _length = train.InputLength;
        _inputs = new int[options.Batch * train.InputLength];
        _targets = new int[options.Batch * train.TargetLength];
        _batchRng = new Rng(options.Seed ^ 0x5EED_BA7C_0000_0001UL);
        context.DropoutRate = (float)options.Dropout;
        context.SeedDropout(options.Seed);
    }

    /// <summary>Steps taken so far (the next step's index, counting from 0).</summary>
    public int Step { get; private set; }
    double _best = double.PositiveInfinity;

    /// <summary>The CPU optimiser (a trainer on the CPU kernels); a device keeps its optimiser state on the device.</summary>
    public Optimizer Optimizer => _engine is HostTraining host ? host.Optimizer
        : throw new InvalidOperationException("this trainer's optimiser runs on a device: use RestoreOptimizer and the engine's moments");
    /// <summary>The training context the passes run in.</summary>
    public IModelContext Context => _context;
    /// <summary>Where the passes and updates run (<see cref="HostTraining"/> on the CPU, or a device's engine).</summary>
    public TrainingEngine Engine => _engine;

    /// <summary>Everything besides the values and optimiser moments that a resumed run needs to continue exactly.</summary>
    public TrainingState State => new(Step, _batchRng.State, _context.DropoutState, _engine.OptimizerSteps, _best);

    /// <summary>Restores the optimiser's step count and moments from a checkpoint (with <see cref="Restore"/>: a resumed run).</summary>
    public void RestoreOptimizer(int steps, ReadOnlySpan<float> firstMoments, ReadOnlySpan<float> secondMoments) =>
        _engine.RestoreOptimizer(steps, firstMoments, secondMoments);

    /// <summary>Continues from a saved state: the next step, batch and dropout draw are the ones the original run would have made.</summary>
    public void Restore(TrainingState state)
    {
        Step = state.Step;
        _batchRng = Rng.FromState(state.BatchRng);
        _context.DropoutState = state.DropoutRng;
        _best = state.BestVal;
    }

    /// <summary>The gradient norm of the last step, before clipping.</summary>
    public double LastGradientNorm { get; private set; }

    /// <summary>One optimisation step on <see cref="TrainOptions.Accumulate"/> random training batches; returns their mean loss.</summary>
    public float TrainStep()
    {
        int batch = _options.Batch, micro = _options.Accumulate;
        _engine.ZeroGradients();
        double loss = 0;
        for (int k = 0; k < micro; k++)
        {
            _train.FillRandom(ref _batchRng, batch, _inputs, _targets);
            float microLoss = _context.Forward(_inputs, _targets, batch, _length, training: true);
            if (!float.IsFinite(microLoss))
                throw new EdgeException($"training diverged: the loss is {microLoss} at step {Step + 1}; lower the learning rate or set --grad-clip");
            _context.Backward();
            loss += microLoss;
        }
        if (micro > 1) _engine.ScaleGradients(1f / micro);
        LastGradientNorm = ClipByGlobalNorm(_engine, _options.GradClip, Step + 1);
        _engine.Update((float)_schedule.At(Step));
        Step++;
        return (float)(loss / micro);
    }

    /// <summary>
    /// Global-norm clipping: returns the gradients' L2 norm and scales them down to <paramref name="maxNorm"/> when it is
    /// larger (0: no clipping). A NaN or Inf norm stops the run, naming the step, the tensor and the element.
    /// </summary>
    internal static double ClipByGlobalNorm(TrainingEngine engine, double maxNorm, int step)
    {
        double norm = Math.Sqrt(engine.GradientSumOfSquares());
        if (!double.IsFinite(norm))
            throw new EdgeException($"training diverged: {FiniteCheck.DescribeNonFinite(engine.Tensors, engine.GradientsOnHost(), "gradient")} " +
                $"at step {step} (the loss was finite); lower the learning rate or set --grad-clip");
        if (maxNorm > 0 && norm > maxNorm)
            engine.ScaleGradients((float)(maxNorm / norm));
        return norm;
    }

    /// <summary>Mean loss over a split with this run's context: every example, or <paramref name="maxExamples"/> of them at an even stride.</summary>
    public double Evaluate(ExampleSet set, int maxExamples = int.MaxValue) => Evaluate(_context, set, _options.Batch, maxExamples);

    /// <summary>How many examples (overlapping windows: windows a full length apart) an evaluation of <paramref name="set"/> scores.</summary>
    public static int EvaluationCount(ExampleSet set, int maxExamples = int.MaxValue)
    {
        // Sequence models score every position of a window, so windows a full length apart cover the split once.
        int available = set.OverlappingWindows ? Math.Max(1, set.Count / set.InputLength) : set.Count;
        return Math.Min(available, maxExamples);
    }

    /// <summary>
    /// The mean loss of the targets of a split (evenly spread examples), on any context that runs forward passes; the mean
    /// is over examples, or over the scored targets when some are not scored (padding, prompts).
    /// </summary>
    /// <param name="progress">Told the examples scored so far after every batch (a progress bar).</param>
    public static double Evaluate(IModelContext context, ExampleSet set, int batch, int maxExamples = int.MaxValue, Action<int>? progress = null)
    {
        CheckExampleShape(context.Model, set);
        batch = Math.Min(batch, context.MaxBatch);
        int count = EvaluationCount(set, maxExamples);
        double stride = (double)set.Count / count;
        int length = set.InputLength;
        var inputs = new int[batch * length];
        var targets = new int[batch * set.TargetLength];
        double total = 0, weight = 0;
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            set.FillSpread(start, n, stride, inputs, targets);
            double w = n;
            if (!set.ScoresEveryTarget)
            {
                int counted = 0;
                foreach (var t in targets.AsSpan(0, n * set.TargetLength)) if (t != SoftmaxCrossEntropy.IgnoredTarget) counted++;
                w = counted;
            }
            if (w > 0)
            {
                float loss = context.Forward(inputs, targets, n, length);
                if (!float.IsFinite(loss)) throw FiniteCheck.LossError(loss, $"examples {start + 1} to {start + n}");
                total += (double)loss * w;
            }
            weight += w;
            progress?.Invoke(start + n);
        }
        return weight == 0 ? double.NaN : total / weight;
    }

    /// <summary>
    /// The loss of each of <paramref name="batches"/> batches of <paramref name="batch"/> examples drawn uniformly at
    /// random from <paramref name="set"/> (with replacement; nanoGPT's get_batch), seeded: the spread of these losses
    /// says how far an estimate from a few batches (nanoGPT's eval_iters) can fall from the whole split's loss.
    /// </summary>
    public static double[] RandomBatchLosses(IModelContext context, ExampleSet set, int batch, int batches, ulong seed, Action<int>? progress = null)
    {
        if (batch < 1 || batch > context.MaxBatch) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"the batch must be 1 to {context.MaxBatch}");
        CheckExampleShape(context.Model, set);
        var rng = new Rng(seed);
        var inputs = new int[batch * set.InputLength];
        var targets = new int[batch * set.TargetLength];
        var losses = new double[batches];
        for (int r = 0; r < batches; r++)
        {
            set.FillRandom(ref rng, batch, inputs, targets);
            float loss = context.Forward(inputs, targets, batch, set.InputLength);
            losses[r] = float.IsFinite(loss) ? loss : throw FiniteCheck.LossError(loss, $"random batch {r + 1}");
            progress?.Invoke(r + 1);
        }
        return losses;
    }

    /// <summary>A set's rows must fit the model: window models read exactly their window; sequence models at most their context.</summary>
    static void CheckExampleShape(LanguageModel model, ExampleSet set)
    {
        bool fits = model.IsSequenceModel
            ? set.InputLength <= model.InputLength && set.TargetLength == set.InputLength
            : set.InputLength == model.InputLength && set.TargetLength == model.TargetLength;
        if (!fits)
            throw new ArgumentException($"examples of {set.InputLength} inputs and {set.TargetLength} targets do not fit {model.Name} " +
                $"({model.InputLength} inputs, {model.TargetLength} targets)", nameof(set));
    }

    /// <summary>
    /// Runs all steps (or fits a counting model in one pass), calling <paramref name="onStep"/> after every step with its
    /// loss and <paramref name="onEval"/> after every evaluation, with whether the validation loss is the best so far (the
    /// moment to save). <paramref name="cancel"/> (Ctrl-C) stops after the current step with one last evaluation, so the
    /// caller can save a state that <see cref="Restore"/> continues from exactly.
    /// </summary>
    public EvalResult Run(Action<int, float>? onStep = null, Action<EvalResult, bool>? onEval = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        EvalResult last = default;

        if (_context.Model.FitsByCounting)
        {
            _context.Model.FitCounts(_train);
            double train = Evaluate(_train, _options.EvalExamples), val = Evaluate(_val, _options.EvalExamples);
            last = new EvalResult(0, train, val, 0, clock.Elapsed.TotalSeconds);
            onEval?.Invoke(last, true);
            return last;
        }

        while (Step < _options.Steps)
        {
            float loss = TrainStep();
            onStep?.Invoke(Step, loss);
            bool final = Step == _options.Steps || cancel.IsCancellationRequested;
            if (Step % _options.EvalInterval == 0 || final)
            {
                // Both splits scored the same way (as nanoGPT's estimate_loss): the train figure is comparable with val,
                // not a mean of the batches' losses while the weights were still moving.
                double val = Evaluate(_val, _options.EvalExamples);
                double train = Evaluate(_train, EvaluationCount(_val, _options.EvalExamples));   // as many examples as val
                last = new EvalResult(Step, train, val, _schedule.At(Step - 1), clock.Elapsed.TotalSeconds);
                bool improved = val < _best;
                if (improved) _best = val;
                onEval?.Invoke(last, improved);
                if (cancel.IsCancellationRequested) break;
            }
        }
        return last;
    }

    bool _disposed;

    /// <summary>Disposes the engine (and with it what it owns); a second call does nothing.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _engine.Dispose();
    }
}
