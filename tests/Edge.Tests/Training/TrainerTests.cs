using Edge.Tests.Kernels;
using Edge.Data;
using Edge.Generation;
using Edge.Models;
using Edge.Text;
using Edge.Training;
using Xunit;

namespace Edge.Tests.Training;

public class TrainerTests
{
    const string Text = """
        KEEPER:
        The lamp is lit and the sea is loud tonight.
        BAKER:
        Then bring the bread in before the rain comes.
        KEEPER:
        The bread is in, the boats are out, the bell is ringing.
        """;

    static (CharTokenizer, DataSplits) Data(ModelInfo info)
    {
        var text = string.Concat(Enumerable.Repeat(Text, 8));
        var tokenizer = TrainingData.BuildTokenizer(text, DataLayout.Text);
        return (tokenizer, TrainingData.Split(text, tokenizer, info, DataLayout.Text, splitSeed: 42));
    }

    static TrainOptions Options(int steps, ulong seed) => new()
    {
        Steps = steps, Batch = 8, EvalInterval = 10, Seed = seed, Optimizer = OptimizerKind.AdamW,
        LearningRate = 3e-3, Schedule = ScheduleKind.Step, DecayStep = 20, DecayFactor = 0.5,
    };

    static List<float> Curve(ulong seed, out string sample)
    {
        var info = CharMlp.Descriptor;
        var (tokenizer, splits) = Data(info);
        using var model = info.Create(tokenizer.VocabSize);
        model.Initialize(seed);
        var losses = new List<float>();
        using (var context = model.CreateTrainingContext(8))
        using (var trainer = new Trainer(context, splits.Train, splits.Val, Options(30, seed)))
            trainer.Run(onStep: (_, loss) => losses.Add(loss));
        var writer = new StringWriter();
        using var inference = model.CreateInferenceContext();
        new TextGenerator(inference, tokenizer).Generate(tokenizer.Encode("KEEPER:\n"), 60, new Sampler(tokenizer.VocabSize, seed), writer);
        sample = writer.ToString();
        return losses;
    }

    [Fact]
    public void SameSeed_GivesSameLossCurveAndSamples()
    {
        var a = Curve(5, out var sampleA);
        var b = Curve(5, out var sampleB);
        var c = Curve(6, out var sampleC);
        Assert.Equal(a, b);
        Assert.Equal(sampleA, sampleB);
        Assert.Equal(60, sampleA.Length);
        Assert.NotEqual(a, c);
        Assert.NotEqual(sampleA, sampleC);
    }

    [Fact]
    public void Training_LowersTheLoss()
    {
        var losses = Curve(1, out _);
        Assert.True(losses.Skip(25).Average() < losses.Take(5).Average() - 0.5,
            $"loss went from {losses.Take(5).Average():0.00} to {losses.Skip(25).Average():0.00}");
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.Sgd)]
    public void TrainingStep_AllocatesNothingAfterWarmUp(OptimizerKind optimizer)
    {
        var info = CharMlp.Descriptor;
        var (tokenizer, splits) = Data(info);
        using var model = info.Create(tokenizer.VocabSize);
        model.Initialize(1);
        using var context = model.CreateTrainingContext(8);
        using var trainer = new Trainer(context, splits.Train, splits.Val, Options(1000, 1) with { Optimizer = optimizer });
        Expect.AllocatesNothing(() => trainer.TrainStep(), $"a {optimizer} training step", warmUp: 3, calls: 100);
    }

    [Fact]
    public void SampledToken_AllocatesNothingAfterWarmUp()
    {
        var info = NamesMlp.Descriptor;
        using var model = info.Create(27);
        model.Initialize(1);
        var tokenizer = CharTokenizer.FromText("abcdefghijklmnopqrstuvwxyz", new System.Text.Rune('.'));
        using var context = model.CreateInferenceContext();
        var generator = new TextGenerator(context, tokenizer);
        var sampler = new Sampler(27, 3, temperature: 0.9f, topK: 5);
        generator.Reset([]);
        Expect.AllocatesNothing(() => generator.Next(sampler), "a sampled token", warmUp: 3, calls: 200);
    }

    [Fact]
    public void StepSchedule_DropsTheRateAtTheDecayStep()
    {
        var s = LearningRateSchedule.Step(0.1, 100, 0.1);
        Assert.Equal(0.1, s.At(0));
        Assert.Equal(0.1, s.At(99));
        Assert.Equal(0.01, s.At(100), 12);
    }

    [Fact]
    public void CosineSchedule_WarmsUpThenDecaysToTheMinimum()
    {
        var s = LearningRateSchedule.Cosine(1e-3, warmup: 10, totalSteps: 110, minRate: 1e-4);
        Assert.Equal(1e-4, s.At(0), 12);
        Assert.Equal(1e-3, s.At(9), 12);
        Assert.Equal(0.55e-3, s.At(60), 12);
        Assert.Equal(1e-4, s.At(110), 12);
    }

    [Fact]
    public void ADivergingRun_StopsWithAClearMessage_NamingTheStep()
    {
        var info = CharMlp.Descriptor;
        var (tokenizer, splits) = Data(info);
        using var model = info.Create(tokenizer.VocabSize);
        model.Initialize(1);
        var options = Options(200, 1) with { Optimizer = OptimizerKind.Sgd, LearningRate = 1e9, DecayStep = 0 };
        using var context = model.CreateTrainingContext(8);
        using var trainer = new Trainer(context, splits.Train, splits.Val, options);
        var e = Assert.Throws<EdgeException>(() => trainer.Run());
        Assert.Matches(@"^training diverged: .* at step \d+", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ANonFiniteGradient_IsReportedByTensorAndElement()
    {
        using var model = new Edge.Tests.Models.TinyGpt(7);
        using var context = model.CreateTrainingContext(1);
        var p = model.Parameters.First(q => q.Name == "h.1.mlp.c_fc.weight");
        context.WeightGradients[p.Offset + 17] = float.NaN;
        Assert.Equal("the gradient of 'h.1.mlp.c_fc.weight' holds NaN at element 17",
            FiniteCheck.DescribeNonFinite(model.Parameters, context.WeightGradients, "gradient"));
        context.WeightGradients.Clear();
        Assert.Equal("the gradient norm overflows", FiniteCheck.DescribeNonFinite(model.Parameters, context.WeightGradients, "gradient"));
    }

    [Fact]
    public void RandomBatchLosses_AreSeeded_AndAverageToTheWholeSplit()
    {
        var info = Edge.Tests.Models.TinyGpt.Descriptor;
        var (tokenizer, splits) = Data(info);
        using var model = info.Create(tokenizer.VocabSize);
        model.Initialize(3);
        using var context = model.CreateInferenceContext(4);
        var a = Trainer.RandomBatchLosses(context, splits.Train, 4, 400, seed: 5);
        Assert.Equal(a, Trainer.RandomBatchLosses(context, splits.Train, 4, 400, seed: 5));
        Assert.NotEqual(a, Trainer.RandomBatchLosses(context, splits.Train, 4, 400, seed: 6));

        // Random windows and the whole split's evenly spaced windows estimate the same mean loss: within four
        // standard errors of the 400-batch mean (the batches' own spread gives the standard error).
        double mean = a.Average(), sd = Math.Sqrt(a.Sum(l => (l - mean) * (l - mean)) / (a.Length - 1));
        double whole = Trainer.Evaluate(context, splits.Train, batch: 4);
        Assert.True(sd > 0, "batches of random windows should not all score the same");
        Assert.True(Math.Abs(mean - whole) <= 4 * sd / Math.Sqrt(a.Length), $"random-batch mean {mean:F4}, whole split {whole:F4}, sd {sd:F4}");
        Assert.Throws<ArgumentOutOfRangeException>(() => Trainer.RandomBatchLosses(context, splits.Train, 5, 1, seed: 1));
        // Examples cut for another model's rows are refused, not written past the batch buffers.
        var (_, otherShape) = Data(CharMlp.Descriptor);
        Assert.Throws<ArgumentException>(() => Trainer.RandomBatchLosses(context, otherShape.Train, 4, 1, seed: 1));
        Assert.Throws<ArgumentException>(() => Trainer.Evaluate(context, otherShape.Train, batch: 4));
    }
}
