using System.Diagnostics;
using Edge.Data;

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
    /// <summary>Evaluate on the validation split every this many steps (and after the last step).</summary>
    public int EvalInterval { get; init; } = 500;
    /// <summary>Evaluations use at most this many validation examples, evenly spread over the split (`edge eval` scores every one).</summary>
    public int EvalExamples { get; init; } = 16384;
    public ulong Seed { get; init; } = 1337;
}

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

    /// <summary>One optimisation step on a random training batch; returns its loss.</summary>
    public float TrainStep()
    {
        int batch = _options.Batch, inLen = _model.InputLength, tLen = _model.TargetLength;
        var train = _data.Train;
        for (int b = 0; b < batch; b++)
            train.Fill(_batchRng.NextInt(train.Count), _inputs.AsSpan(b * inLen, inLen), _targets.AsSpan(b * tLen, tLen));

        _model.ZeroGradients();
        float loss = _model.Forward(_inputs, _targets, batch);
        if (!float.IsFinite(loss))
            throw new EdgeException($"training diverged: the loss is {loss} at step {Step + 1}; lower the learning rate");
        _model.Backward();
        _optimizer.LearningRate = (float)_options.Schedule.At(Step);
        _model.Step(_optimizer);
        Step++;
        return loss;
    }

    /// <summary>Mean loss over a split: every example, or <paramref name="maxExamples"/> of them at an even stride.</summary>
    public double Evaluate(ExampleSet set, int maxExamples = int.MaxValue) => Evaluate(_model, set, _options.Batch, maxExamples);

    public static double Evaluate(LanguageModel model, ExampleSet set, int batch, int maxExamples = int.MaxValue)
    {
        batch = Math.Min(batch, model.MaxBatch);
        int count = Math.Min(set.Count, maxExamples);
        double stride = (double)set.Count / count;
        var inputs = new int[batch * model.InputLength];
        var targets = new int[batch * model.TargetLength];
        double total = 0;
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            for (int b = 0; b < n; b++)
                set.Fill((int)((start + b) * stride), inputs.AsSpan(b * model.InputLength, model.InputLength),
                    targets.AsSpan(b * model.TargetLength, model.TargetLength));
            total += (double)model.Forward(inputs, targets, n) * n;
        }
        return total / count;
    }

    /// <summary>
    /// Runs all steps (or fits a counting model in one pass), calling <paramref name="onStep"/> after every
    /// step with its loss and <paramref name="onEval"/> after every evaluation, with whether the validation
    /// loss is the best so far (the moment to save a checkpoint).
    /// </summary>
    public EvalResult Run(Action<int, float>? onStep = null, Action<EvalResult, bool>? onEval = null)
    {
        var clock = Stopwatch.StartNew();
        double best = double.PositiveInfinity;
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
        for (int s = 0; s < _options.Steps; s++)
        {
            float loss = TrainStep();
            sinceEval += loss;
            stepsSinceEval++;
            onStep?.Invoke(Step, loss);
            bool final = Step == _options.Steps;
            if (Step % _options.EvalInterval == 0 || final)
            {
                double val = Evaluate(_data.Val, _options.EvalExamples);
                last = new EvalResult(Step, sinceEval / stepsSinceEval, val, _options.Schedule.At(Step - 1), clock.Elapsed.TotalSeconds);
                bool improved = val < best;
                if (improved) best = val;
                onEval?.Invoke(last, improved);
                sinceEval = 0;
                stepsSinceEval = 0;
            }
        }
        return last;
    }

    public void Dispose() => _optimizer.Dispose();
}
