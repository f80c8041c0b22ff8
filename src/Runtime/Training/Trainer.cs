using System.Diagnostics;
using Edge.Data;
using Edge.Kernels;

namespace Edge.Training;

/// <summary>Everything a training run needs besides the model and the data; the CLI's options map onto it.</summary>
public sealed record TrainOptions
{
    public int Steps { get; init; } = 1000;
    public int Batch { get; init; } = 32;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;
    public required LearningRateSchedule Schedule { get; init; }
    public double WeightDecay { get; init; }
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Scale the gradients down when their global L2 norm exceeds this (0 = off).</summary>
    public double GradClip { get; init; }
    /// <summary>Micro-batches whose gradients are averaged into one optimiser step.</summary>
    public int Accumulate { get; init; } = 1;
    /// <summary>Evaluate on the validation split every this many steps (and after the last step).</summary>
    public int EvalInterval { get; init; } = 500;
    /// <summary>Evaluations use at most this many validation examples, evenly spread over the split (`edge eval` scores every one).</summary>
    public int EvalExamples { get; init; } = 16384;
    public ulong Seed { get; init; } = 1337;
}

/// <summary>The position of a run: step, the batch and dropout random streams, optimiser steps, best validation loss.</summary>
public sealed record TrainingState(int Step, (ulong, ulong, ulong, ulong) BatchRng, (ulong, ulong, ulong, ulong) DropoutRng, int OptimizerSteps, double BestVal);

/// <summary>One evaluation: the mean training loss since the previous one and the validation loss.</summary>
public readonly record struct EvalResult(int Step, double TrainLoss, double ValLoss, double LearningRate, double Seconds)
{
    public double ValPerplexity => Math.Exp(ValLoss);
}

/// <summary>
/// The training loop: draw a batch, zero the gradients, forward, backward, optimiser step; evaluate every
/// N steps. Deterministic for a given seed (one thread, seeded batches, seeded initialisation). After the
/// first step nothing here allocates.
/// </summary>
public sealed class Trainer : IDisposable
{
    readonly LanguageModel _model;
    readonly DataSplits _data;
    readonly TrainOptions _options;
    readonly Optimizer _optimizer;
    readonly int[] _inputs, _targets;
    Rng _batchRng;

    public Trainer(LanguageModel model, DataSplits data, TrainOptions options)
    {
        if (options.Batch > model.MaxBatch)
            throw new ArgumentException($"batch {options.Batch} exceeds the model's largest batch {model.MaxBatch}");
        CheckExampleShape(model, data.Train);
        _model = model;
        _data = data;
        _options = options;
        _optimizer = options.Optimizer == OptimizerKind.Sgd
            ? new SgdOptimizer()
            : new AdamWOptimizer { Beta2 = (float)options.Beta2 };
        _optimizer.WeightDecay = (float)options.WeightDecay;
        _inputs = new int[options.Batch * model.InputLength];
        _targets = new int[options.Batch * model.TargetLength];
        _batchRng = new Rng(options.Seed ^ 0x5EED_BA7C_0000_0001UL);
        if (!model.FitsByCounting) model.EnableTraining();
    }

    public int Step { get; private set; }
    double _best = double.PositiveInfinity;

    public Optimizer Optimizer => _optimizer;

    /// <summary>Everything besides weights and optimiser moments that a resumed run needs to continue exactly.</summary>
    public TrainingState State => new(Step, _batchRng.State, _model.DropoutState, _optimizer.StepCount, _best);

    /// <summary>Continues from a saved state: the next step, batch and dropout draw are the ones the original run would have made.</summary>
    public void Restore(TrainingState state)
    {
        Step = state.Step;
        _batchRng = Rng.FromState(state.BatchRng);
        _model.DropoutState = state.DropoutRng;
        _best = state.BestVal;
    }

    /// <summary>The gradient norm of the last step, before clipping.</summary>
    public double LastGradientNorm { get; private set; }

    /// <summary>One optimisation step on <see cref="TrainOptions.Accumulate"/> random training batches; returns their mean loss.</summary>
    public float TrainStep()
    {
        int batch = _options.Batch, micro = _options.Accumulate;
        _model.ZeroGradients();
        double loss = 0;
        for (int k = 0; k < micro; k++)
        {
            _data.Train.FillRandom(ref _batchRng, batch, _inputs, _targets);
            float microLoss = _model.Forward(_inputs, _targets, batch, training: true);
            if (!float.IsFinite(microLoss))
                throw new EdgeException($"training diverged: the loss is {microLoss} at step {Step + 1}; lower the learning rate or set --grad-clip");
            _model.Backward();
            loss += microLoss;
        }
        var grads = _model.Gradients;
        if (micro > 1) VectorMath.Scale(1f / micro, grads);
        LastGradientNorm = ClipByGlobalNorm(grads, _options.GradClip, Step + 1, _model.Parameters);
        _optimizer.LearningRate = (float)_options.Schedule.At(Step);
        _model.Step(_optimizer);
        Step++;
        return (float)(loss / micro);
    }

    /// <summary>
    /// Global-norm clipping, as both trainers (full and adapter) do it: returns the gradients' L2 norm and scales them
    /// down to <paramref name="maxNorm"/> when it is larger (0: no clipping). A NaN or Inf norm stops the run, naming
    /// the step and, when <paramref name="parameters"/> describes the gradients' layout, the tensor and element.
    /// </summary>
    internal static double ClipByGlobalNorm(Span<float> gradients, double maxNorm, int step, IReadOnlyList<ParameterInfo>? parameters)
    {
        double norm = Math.Sqrt(GradientNorm.SumOfSquares(gradients));
        if (!double.IsFinite(norm))
            throw new EdgeException($"training diverged: {(parameters is null ? $"the gradient norm is {norm}" : DescribeNonFinite(parameters, gradients, "gradient"))} " +
                $"at step {step} (the loss was finite); lower the learning rate or set --grad-clip");
        if (maxNorm > 0 && norm > maxNorm)
            VectorMath.Scale((float)(maxNorm / norm), gradients);
        return norm;
    }

    /// <summary>
    /// Where the first NaN or Inf in <paramref name="values"/> (laid out as <paramref name="parameters"/>) is: "the
    /// gradient of 'h.1.mlp.c_fc.weight' holds NaN at element 17", or the norm's overflow when every value is finite.
    /// </summary>
    internal static string DescribeNonFinite(IReadOnlyList<ParameterInfo> parameters, ReadOnlySpan<float> values, string what)
    {
        foreach (var p in parameters)
        {
            var slice = values.Slice(p.Offset, p.Length);
            for (int i = 0; i < slice.Length; i++)
                if (!float.IsFinite(slice[i]))
                    return $"the {what} of '{p.Name}' holds {slice[i]} at element {i}";
        }
        return $"the {what} norm overflows";
    }

    /// <summary>Mean loss over a split: every example, or <paramref name="maxExamples"/> of them at an even stride.</summary>
    public double Evaluate(ExampleSet set, int maxExamples = int.MaxValue) => Evaluate(_model, set, _options.Batch, maxExamples);

    /// <summary>How many examples (sequence models: windows) <see cref="Evaluate(LanguageModel, ExampleSet, int, int, Action{int})"/> scores.</summary>
    public static int EvaluationCount(LanguageModel model, ExampleSet set, int maxExamples = int.MaxValue)
    {
        // Sequence models score every position of a window, so windows a full context apart cover the split once.
        int available = model.IsSequenceModel ? Math.Max(1, set.Count / model.InputLength) : set.Count;
        return Math.Min(available, maxExamples);
    }

    /// <param name="progress">Told the examples scored so far after every batch (a progress bar).</param>
    public static double Evaluate(LanguageModel model, ExampleSet set, int batch, int maxExamples = int.MaxValue, Action<int>? progress = null)
    {
        CheckExampleShape(model, set);
        batch = Math.Min(batch, model.MaxBatch);
        int count = EvaluationCount(model, set, maxExamples);
        double stride = (double)set.Count / count;
        var inputs = new int[batch * model.InputLength];
        var targets = new int[batch * model.TargetLength];
        double total = 0;
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            set.FillSpread(start, n, stride, inputs, targets);
            total += (double)model.Forward(inputs, targets, n) * n;
            progress?.Invoke(start + n);
        }
        return total / count;
    }

    /// <summary>
    /// The loss of each of <paramref name="batches"/> batches of <paramref name="batch"/> examples drawn uniformly at
    /// random from <paramref name="set"/> (with replacement; nanoGPT's get_batch), seeded: the spread of these losses
    /// says how far an estimate from a few batches (nanoGPT's eval_iters) can fall from the whole split's loss.
    /// </summary>
    public static double[] RandomBatchLosses(LanguageModel model, ExampleSet set, int batch, int batches, ulong seed, Action<int>? progress = null)
    {
        if (batch < 1 || batch > model.MaxBatch) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"the batch must be 1 to {model.MaxBatch}");
        CheckExampleShape(model, set);
        var rng = new Rng(seed);
        var inputs = new int[batch * model.InputLength];
        var targets = new int[batch * model.TargetLength];
        var losses = new double[batches];
        for (int r = 0; r < batches; r++)
        {
            set.FillRandom(ref rng, batch, inputs, targets);
            losses[r] = model.Forward(inputs, targets, batch);
            progress?.Invoke(r + 1);
        }
        return losses;
    }

    /// <summary>The set's rows must be the model's: the batch buffers are sized from the model, filled by the set.</summary>
    static void CheckExampleShape(LanguageModel model, ExampleSet set)
    {
        if (set.InputLength != model.InputLength || set.TargetLength != model.TargetLength)
            throw new ArgumentException($"examples of {set.InputLength} inputs and {set.TargetLength} targets do not fit {model.Name} " +
                $"({model.InputLength} inputs, {model.TargetLength} targets)", nameof(set));
    }

    /// <summary>
    /// Runs all steps (or fits a counting model in one pass), calling <paramref name="onStep"/> after every
    /// step with its loss and <paramref name="onEval"/> after every evaluation, with whether the validation
    /// loss is the best so far (the moment to save a checkpoint).
    /// </summary>
    /// <remarks>
    /// <paramref name="cancel"/> (Ctrl-C) stops after the current step with one last evaluation, so the caller
    /// can save a checkpoint that <see cref="Restore"/> continues from exactly.
    /// </remarks>
    public EvalResult Run(Action<int, float>? onStep = null, Action<EvalResult, bool>? onEval = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        EvalResult last = default;

        if (_model.FitsByCounting)
        {
            _model.FitCounts(_data.Train);
            double train = Evaluate(_data.Train, _options.EvalExamples), val = Evaluate(_data.Val, _options.EvalExamples);
            last = new EvalResult(0, train, val, 0, clock.Elapsed.TotalSeconds);
            onEval?.Invoke(last, true);
            return last;
        }

        double sinceEval = 0;
        int stepsSinceEval = 0;
        while (Step < _options.Steps)
        {
            float loss = TrainStep();
            sinceEval += loss;
            stepsSinceEval++;
            onStep?.Invoke(Step, loss);
            bool final = Step == _options.Steps || cancel.IsCancellationRequested;
            if (Step % _options.EvalInterval == 0 || final)
            {
                double val = Evaluate(_data.Val, _options.EvalExamples);
                last = new EvalResult(Step, sinceEval / stepsSinceEval, val, _options.Schedule.At(Step - 1), clock.Elapsed.TotalSeconds);
                bool improved = val < _best;
                if (improved) _best = val;
                onEval?.Invoke(last, improved);
                if (cancel.IsCancellationRequested) break;
                sinceEval = 0;
                stepsSinceEval = 0;
            }
        }
        return last;
    }

    public void Dispose() => _optimizer.Dispose();
}
