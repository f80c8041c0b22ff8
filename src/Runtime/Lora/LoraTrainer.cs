using System.Diagnostics;
using Edge.Data;
using Edge.Kernels;
using Edge.Training;

namespace Edge.Lora;

/// <summary>The options of an adapter's training run (the LoRA hyper-parameters are the adapter's <see cref="LoraConfig"/>).</summary>
public sealed record LoraTrainOptions
{
    public int Steps { get; init; } = 200;
    public int Batch { get; init; } = 8;
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Linear warm-up steps; a run shorter than ten times this warms up for a tenth of its steps instead.</summary>
    public int Warmup { get; init; } = 20;
    public double MinLearningRate { get; init; }
    public double WeightDecay { get; init; }
    public double GradClip { get; init; } = 1.0;
    public int EvalInterval { get; init; } = 50;
    /// <summary>Evaluations use at most this many validation examples, evenly spread.</summary>
    public int EvalExamples { get; init; } = 1024;
    public ulong Seed { get; init; } = 1337;

    /// <summary>The warm-up actually used: <see cref="Warmup"/>, or a tenth of a run too short for it.</summary>
    public int EffectiveWarmup => Math.Min(Warmup, Steps / 10);

    /// <summary>Cosine from the peak rate to <see cref="MinLearningRate"/> at the last step, after the warm-up.</summary>
    public LearningRateSchedule Schedule => LearningRateSchedule.Cosine(LearningRate, EffectiveWarmup, Steps, MinLearningRate);
}

/// <summary>
/// Trains one adapter on a frozen base: draw a batch, zero the adapter's gradients, forward (with the adapter active,
/// its dropout on), backward (the base computes activation gradients only), clip, AdamW on A and B. The base has no
/// gradient or optimiser memory and may be memory-mapped read-only. After the first step nothing here allocates.
/// </summary>
public sealed class LoraTrainer
{
    readonly LanguageModel _model;
    readonly LoraAdapter _adapter;
    readonly LoraData _data;
    readonly LoraTrainOptions _options;
    readonly LearningRateSchedule _schedule;
    readonly AdapterSet _set;
    readonly int[] _inputs, _targets;
    Rng _batchRng;

    public LoraTrainer(LanguageModel model, LoraAdapter adapter, LoraData data, LoraTrainOptions options)
    {
        if (!model.IsSequenceModel) throw new EdgeException($"{model.Name} is not a transformer: LoRA targets the projections of transformer blocks");
        if (options.Batch > model.MaxBatch) throw new ArgumentException($"batch {options.Batch} exceeds the model's largest batch {model.MaxBatch}");
        if (data.Length > model.InputLength) throw new ArgumentException($"examples of {data.Length} tokens exceed the context {model.InputLength}");
        _model = model;
        _adapter = adapter;
        _data = data;
        _options = options;
        _schedule = options.Schedule;
        _set = new AdapterSet(model.Layout, [adapter]);
        _set.Activate(0);
        _inputs = new int[options.Batch * data.Length];
        _targets = new int[options.Batch * data.Length];
        _batchRng = new Rng(options.Seed ^ 0x5EED_BA7C_0000_0001UL);
        model.EnableAdapterTraining();
        adapter.EnableTraining(options.Batch * data.Length);
    }

    public int Step { get; private set; }
    public double LastGradientNorm { get; private set; }
    /// <summary>The set that holds the trained adapter, switched on.</summary>
    public AdapterSet Adapters => _set;

    /// <summary>One step on a random training batch; returns its loss.</summary>
    public float TrainStep()
    {
        int batch = _options.Batch, length = _data.Length;
        _data.Train.FillRandom(ref _batchRng, batch, _inputs, _targets);
        _adapter.ZeroGradients();
        var saved = _model.ActiveAdapters;
        _model.ActiveAdapters = _set;
        float loss;
        try
        {
            loss = _model.Forward(_inputs, _targets, batch, length, training: true);
            if (!float.IsFinite(loss))
                throw new EdgeException($"training diverged: the loss is {loss} at step {Step + 1}; lower the learning rate");
            _model.Backward();
        }
        finally { _model.ActiveAdapters = saved; }
        LastGradientNorm = Trainer.ClipByGlobalNorm(_adapter.Gradients, _options.GradClip, Step + 1, parameters: null);
        _adapter.Step((float)_schedule.At(Step), (float)_options.WeightDecay, Step + 1);
        Step++;
        return loss;
    }

    /// <summary>Mean loss over the scored targets of a split, with whatever adapters the model has active now.</summary>
    public static double Evaluate(LanguageModel model, LoraData data, ExampleSet set, int batch, int maxExamples)
    {
        batch = Math.Min(batch, model.MaxBatch);
        int length = data.Length;
        // Windows over running text overlap: ones a full length apart cover the split once. Padded examples are separate.
        int available = data.Overlapping ? Math.Max(1, set.Count / length) : set.Count;
        int count = Math.Min(available, maxExamples);
        double stride = (double)set.Count / count;
        var inputs = new int[batch * length];
        var targets = new int[batch * length];
        double total = 0;
        long scored = 0;
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            set.FillSpread(start, n, stride, inputs, targets);
            int counted = 0;
            foreach (var t in targets.AsSpan(0, n * length)) if (t != SoftmaxCrossEntropy.IgnoredTarget) counted++;
            if (counted == 0) continue;
            total += (double)model.Forward(inputs, targets, n, length) * counted;
            scored += counted;
        }
        return scored == 0 ? double.NaN : total / scored;
    }

    /// <summary>Validation loss of the base alone (adapters off) and with the trained adapter.</summary>
    public double EvaluateBase()
    {
        var saved = _model.ActiveAdapters;
        _model.ActiveAdapters = null;
        try { return Evaluate(_model, _data, _data.Val, _options.Batch, _options.EvalExamples); }
        finally { _model.ActiveAdapters = saved; }
    }

    public double EvaluateAdapter(ExampleSet set)
    {
        var saved = _model.ActiveAdapters;
        _model.ActiveAdapters = _set;
        try { return Evaluate(_model, _data, set, _options.Batch, _options.EvalExamples); }
        finally { _model.ActiveAdapters = saved; }
    }

    /// <summary>
    /// Runs all steps, calling <paramref name="onStep"/> after each and <paramref name="onEval"/> after every
    /// evaluation with whether the validation loss is the best so far (the moment to save the adapter).
    /// <paramref name="cancel"/> stops after the current step with one last evaluation.
    /// </summary>
    public EvalResult Run(Action<int, float>? onStep = null, Action<EvalResult, bool>? onEval = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        EvalResult last = default;
        double best = double.PositiveInfinity, sinceEval = 0;
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
                double val = EvaluateAdapter(_data.Val);
                last = new EvalResult(Step, sinceEval / stepsSinceEval, val, _schedule.At(Step - 1), clock.Elapsed.TotalSeconds);
                bool improved = val < best;
                if (improved) best = val;
                onEval?.Invoke(last, improved);
                if (cancel.IsCancellationRequested) break;
                sinceEval = 0;
                stepsSinceEval = 0;
            }
        }
        return last;
    }
}
