using Edge.Data;
using Edge.Lora;
using Edge.Training;
using Xunit;

namespace Edge.Gpu.Tests;

/// <summary>
/// Whole models on the device against the generated CPU code: logits, the loss and every weight gradient, training steps
/// through the one <see cref="Trainer"/>, decoding, and LoRA adapters. The models are the tiny declarations of
/// TestModels.cs plus the baby GPT and the small Llama at short lengths.
/// </summary>
[Collection(DeviceCollection.Name)]
public class ModelTests
{
    const int V = 11;

    static ModelInfo Info(string name) => Edge.Generated.ModelRegistry.All.Concat(Edge.Models.ModelCatalog.All).First(m => m.Name == name);

    /// <summary>A model with its initial weights plus noise, so that no product is trivially zero.</summary>
    static LanguageModel Build(string name, int seed = 5)
    {
        var model = Info(name).Create(V);
        model.Initialize((ulong)seed);
        var rng = new Rng((ulong)seed + 1);
        var w = model.Weights;
        for (int i = 0; i < w.Length; i++) w[i] += rng.NextGaussian() * 0.1f;
        return model;
    }

    static int Length(LanguageModel model, int wanted) => model.IsSequenceModel ? Math.Min(wanted, model.InputLength) : model.InputLength;

    static int[] Tokens(int n, int seed)
    {
        var rng = new Rng((ulong)seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextInt(V)).ToArray();
    }

    public static TheoryData<string, string> EveryModel() => new()
    {
        { "gpu-test-mlp", "fast" }, { "gpu-test-bigram", "fast" }, { "gpu-test-gpt", "fast" }, { "gpu-test-gpt-exact", "fast" },
        { "gpu-test-llama", "fast" }, { "gpu-test-llama-mqa", "fast" }, { "baby-gpt", "fast" }, { "small-llama", "fast" },
        { "gpu-test-gpt", "grouped" }, { "gpu-test-llama", "grouped" },
    };

    [Theory, MemberData(nameof(EveryModel))]
    public void Logits_EqualTheCpu(string name, string device)
    {
        const int B = 2;
        using var model = Build(name);
        int T = Length(model, 6);
        var tokens = Tokens(B * T, 3);
        using var cpu = model.CreateInferenceContext(B);
        var expected = cpu.Logits(tokens, B, T).ToArray();
        using var onDevice = new DeviceModel(Devices.Get(device), model);
        using var context = onDevice.CreateInferenceContext(B);
        Near.Equal(expected, context.Logits(tokens, B, T), what: name);
    }

    [Theory, MemberData(nameof(EveryModel))]
    public void LossAndEveryWeightGradient_EqualTheCpu(string name, string device)
    {
        const int B = 2;
        using var model = Build(name);
        int T = Length(model, 5);
        var tokens = Tokens(B * T, 4);
        var targets = Tokens(B * (model.IsSequenceModel ? T : 1), 9);
        targets[1] = global::Edge.Kernels.SoftmaxCrossEntropy.IgnoredTarget;       // an unscored position changes the mean and the scale

        using var cpu = model.CreateTrainingContext(B);
        cpu.DropoutRate = 0;
        cpu.ZeroWeightGradients();
        float expectedLoss = cpu.Forward(tokens, targets, B, T, training: true);
        cpu.Backward();
        var expected = cpu.WeightGradients.ToArray();

        using var onDevice = new DeviceModel(Devices.Get(device), model);
        using var context = onDevice.CreateTrainingContext(B);
        context.DropoutRate = 0;
        using var engine = new DeviceTraining(context, new TrainOptions());
        engine.ZeroGradients();
        float loss = context.Forward(tokens, targets, B, T, training: true);
        context.Backward();
        Assert.Equal(expectedLoss, loss, 1e-4f * (1 + Math.Abs(expectedLoss)));
        Assert.True(expected.Any(g => Math.Abs(g) > 1e-3), "the CPU's gradients are all near zero: the comparison would prove nothing");
        foreach (var p in model.Parameters)
            Near.Equal(expected.AsSpan(p.Offset, p.Length), engine.GradientsOnHost().Slice(p.Offset, p.Length), what: $"{name}: d{p.Name}");
    }

    public static TheoryData<string, OptimizerKind, int> TrainedModels() => new()
    {
        { "baby-gpt", OptimizerKind.AdamW, 1 },
        { "gpu-test-llama", OptimizerKind.AdamW, 2 },
        { "gpu-test-mlp", OptimizerKind.Sgd, 1 },
    };

    /// <summary>The same Trainer, batches, schedule, clipping and decay on both: every step's loss and the final weights agree.</summary>
    [Theory, MemberData(nameof(TrainedModels))]
    public void TrainingSteps_EqualTheCpu(string name, OptimizerKind optimizer, int accumulate)
    {
        const int Steps = 4;
        using var cpuModel = Build(name, seed: 7);
        using var deviceModel = Build(name, seed: 7);
        int T = Length(cpuModel, 8);
        var stream = Tokens(400, 21);
        var train = ExampleSet.FromStream(stream[..300], T, cpuModel.IsSequenceModel);
        var val = ExampleSet.FromStream(stream[300..], T, cpuModel.IsSequenceModel);
        var options = TrainOptions.FromRecipe(cpuModel.Info.Recipe) with
        {
            Steps = Steps, Batch = 3, Optimizer = optimizer, LearningRate = 3e-3, Schedule = ScheduleKind.Cosine, Warmup = 2,
            MinLearningRate = 1e-4, WeightDecay = 0.1, GradClip = 0.5, Accumulate = accumulate, Dropout = 0, EvalInterval = 2, EvalExamples = 6,
        };

        using var cpuContext = cpuModel.CreateTrainingContext(options.Batch);
        using var cpuTrainer = new Trainer(cpuContext, train, val, options);
        using var onDevice = new DeviceModel(Devices.Fast, deviceModel);
        using var context = onDevice.CreateTrainingContext(options.Batch);
        using var deviceTrainer = new Trainer(new DeviceTraining(context, options), train, val, options);
        for (int step = 0; step < Steps; step++)
        {
            float expected = cpuTrainer.TrainStep(), actual = deviceTrainer.TrainStep();
            Assert.Equal(expected, actual, 1e-4f * (1 + Math.Abs(expected)));
            Assert.Equal(cpuTrainer.LastGradientNorm, deviceTrainer.LastGradientNorm, 1e-3 * (1 + cpuTrainer.LastGradientNorm));
        }
        Assert.Equal(cpuTrainer.Evaluate(val, 6), deviceTrainer.Evaluate(val, 6), 1e-4);
        deviceTrainer.Engine.Synchronize();
        Near.Equal(cpuModel.Weights, deviceModel.Weights, 2e-4, $"{name}: weights after {Steps} steps");
        Assert.Equal(cpuTrainer.State.OptimizerSteps, deviceTrainer.State.OptimizerSteps);
        if (optimizer == OptimizerKind.AdamW)
        {
            Near.Equal(cpuTrainer.Engine.FirstMoments, deviceTrainer.Engine.FirstMoments, 2e-4, "first moments");
            Near.Equal(cpuTrainer.Engine.SecondMoments, deviceTrainer.Engine.SecondMoments, 2e-4, "second moments");
        }
    }

    public static TheoryData<string> DecodingModels() => new() { "gpu-test-gpt", "gpu-test-llama", "gpu-test-llama-mqa", "baby-gpt" };

    /// <summary>A prefill, then one token at a time, then an append: each step's logits are the full forward's at that position.</summary>
    [Theory, MemberData(nameof(DecodingModels))]
    public void Decoding_EqualsTheFullForward(string name)
    {
        using var model = Build(name);
        int T = Math.Min(8, model.InputLength);
        var tokens = Tokens(T, 12);
        using var onDevice = new DeviceModel(Devices.Fast, model);
        using var full = onDevice.CreateInferenceContext(1);
        var all = full.Logits(tokens, 1, T).ToArray();
        using var cpu = model.CreateDecodingContext();
        using var decoder = onDevice.CreateDecodingContext();

        var logits = decoder.Prefill(tokens.AsSpan(0, 3)).ToArray();
        Near.Equal(all.AsSpan(2 * V, V), logits, what: "prefill");
        Near.Equal(cpu.Prefill(tokens.AsSpan(0, 3)), logits, what: "prefill against the CPU's decoding");
        for (int t = 3; t < T - 2; t++)
        {
            logits = decoder.DecodeStep(tokens[t]).ToArray();
            Near.Equal(all.AsSpan(t * V, V), logits, what: $"step at {t}");
            Near.Equal(cpu.DecodeStep(tokens[t]), logits, what: $"step at {t} against the CPU's decoding");
        }
        logits = decoder.Append(tokens.AsSpan(T - 2, 2)).ToArray();
        Near.Equal(all.AsSpan((T - 1) * V, V), logits, what: "append");
        Assert.Equal(T, decoder.CachedPositions);
    }

    static LoraAdapter Adapter(LanguageModel model, string targets, int seed)
    {
        var config = new LoraConfig(Rank: 3, Alpha: 6, Dropout: 0, Targets: targets.Split(','));
        var adapter = LoraAdapter.Create(model.Layout, config, (ulong)seed);
        var rng = new Rng((ulong)seed + 5);
        foreach (ref float w in adapter.Weights) w += rng.NextGaussian() * 0.3f;  // B starts at zero: give it values
        return adapter;
    }

    /// <summary>Two adapters at different scales (one switched off, then on): logits, decoding and the input gradients through them.</summary>
    [Theory]
    [InlineData("gpu-test-gpt", "attn.c_attn,mlp.c_fc", "attn.c_proj")]
    [InlineData("gpu-test-llama", "self_attn.q_proj,self_attn.v_proj", "mlp.down_proj")]
    public void LoraAdapters_OnTheDevice_EqualTheCpu(string name, string first, string second)
    {
        const int B = 2;
        using var model = Build(name);
        using var a = Adapter(model, first, 1);
        using var b = Adapter(model, second, 2);
        var set = new AdapterSet(model.Layout, [a, b]);
        set.Activate(0, 0.7f);
        int T = Length(model, 6);
        var tokens = Tokens(B * T, 5);
        var targets = Tokens(B * T, 6);
        using var onDevice = new DeviceModel(Devices.Fast, model);

        using var cpu = model.CreateInferenceContext(B);
        using var context = onDevice.CreateInferenceContext(B);
        cpu.Adapters = set;
        context.Adapters = set;
        var bare = new float[B * T * V];
        context.Adapters = null;
        context.Logits(tokens, B, T).CopyTo(bare);
        context.Adapters = set;
        var adapted = context.Logits(tokens, B, T).ToArray();
        Near.Equal(cpu.Logits(tokens, B, T), adapted, what: "one adapter");
        Assert.True(bare.Zip(adapted).Max(p => Math.Abs(p.First - p.Second)) > 1e-3, "the adapter changed nothing: the test would prove nothing");
        set.Activate(1, -0.4f);
        Near.Equal(cpu.Logits(tokens, B, T), context.Logits(tokens, B, T), what: "two adapters");

        using var cpuDecoder = model.CreateDecodingContext();
        using var decoder = onDevice.CreateDecodingContext();
        cpuDecoder.Adapters = set;
        decoder.Adapters = set;
        Near.Equal(cpuDecoder.Prefill(tokens.AsSpan(0, 3)), decoder.Prefill(tokens.AsSpan(0, 3)), what: "adapted prefill");
        Near.Equal(cpuDecoder.DecodeStep(tokens[3]), decoder.DecodeStep(tokens[3]), what: "adapted step");

        // The base's gradients with the adapters on: their share of each dx reaches every weight below them.
        using var cpuTraining = model.CreateTrainingContext(B);
        cpuTraining.Adapters = set;
        cpuTraining.DropoutRate = 0;
        cpuTraining.ZeroWeightGradients();
        cpuTraining.Forward(tokens, targets, B, T, training: true);
        cpuTraining.Backward();
        using var training = onDevice.CreateTrainingContext(B);
        training.Adapters = set;
        training.DropoutRate = 0;
        using var engine = new DeviceTraining(training, new TrainOptions());
        engine.ZeroGradients();
        training.Forward(tokens, targets, B, T, training: true);
        training.Backward();
        Near.Equal(cpuTraining.WeightGradients, engine.GradientsOnHost(), what: "weight gradients through the adapters");
    }

    /// <summary>Dropout on the device: its own random stream (not the CPU's), reproducible from the seed, and dropping about p.</summary>
    [Fact]
    public void Dropout_IsReproducible_AndDropsAboutTheRate()
    {
        const int B = 3;
        using var model = Build("gpu-test-gpt");
        int T = model.InputLength;
        var tokens = Tokens(B * T, 1);
        var targets = Tokens(B * T, 2);
        using var onDevice = new DeviceModel(Devices.Fast, model);
        using var context = onDevice.CreateTrainingContext(B);
        context.DropoutRate = 0;
        float clean = context.Forward(tokens, targets, B, T, training: true);
        context.DropoutRate = 0.25f;
        context.SeedDropout(11);
        float first = context.Forward(tokens, targets, B, T, training: true);
        context.SeedDropout(11);
        float again = context.Forward(tokens, targets, B, T, training: true);
        float next = context.Forward(tokens, targets, B, T, training: true);
        Assert.Equal(first, again);
        Assert.NotEqual(first, next);
        Assert.NotEqual(clean, first);
        Assert.Equal(clean, context.Forward(tokens, targets, B, T, training: false));
    }
}
