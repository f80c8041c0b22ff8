using Edge.Data;
using Edge.Tests.Models;
using Edge.Tests.Support;
using Edge.Text;
using Edge.Training;
using Xunit;

namespace Edge.Tests.Training;

public class ResumeTests
{
    const string Text = "the keeper lit the lamp; the baker baked the bread; the sea rose and the bell rang over the bay. ";

    /// <summary>The tiny GPT of the test models on a short repeated text, split 90/10.</summary>
    static (ModelInfo Info, CharTokenizer Tokenizer, DataSplits Splits) TinyData()
    {
        var text = string.Concat(Enumerable.Repeat(Text, 12));
        var tokenizer = TrainingData.BuildTokenizer(text, DataLayout.Text);
        return (TinyGpt.Descriptor, tokenizer, TrainingData.Split(text, tokenizer, TinyGpt.Descriptor, DataLayout.Text, splitSeed: 42));
    }

    [Fact]
    public void StopAndResume_ReproducesTheUninterruptedLossCurve()
    {
        var (info, tokenizer, splits) = TinyData();
        var options = new TrainOptions
        {
            Steps = 30, Batch = 4, Optimizer = OptimizerKind.AdamW, WeightDecay = 0.1, GradClip = 1.0, Accumulate = 2,
            Schedule = LearningRateSchedule.Cosine(3e-3, warmup: 5, totalSteps: 30, minRate: 3e-4), EvalInterval = 10, Seed = 9,
        };

        List<float> uninterrupted;
        using (var model = info.Create(tokenizer.VocabSize, 4))
        {
            model.Initialize(9);
            using var trainer = new Trainer(model, splits, options);
            uninterrupted = Enumerable.Range(0, 30).Select(_ => trainer.TrainStep()).ToList();
        }

        using var dir = new TempDir();
        var path = dir.File("last.safetensors");
        var firstHalf = new List<float>();
        using (var model = info.Create(tokenizer.VocabSize, 4))
        {
            model.Initialize(9);
            using var trainer = new Trainer(model, splits, options);
            for (int i = 0; i < 13; i++) firstHalf.Add(trainer.TrainStep());
            Checkpoint.SaveForResume(path, model, tokenizer, trainer);
        }

        var resumed = Checkpoint.LoadForResume(path, [info], maxBatch: 4);
        using (resumed.Checkpoint.Model)
        {
            Assert.Equal(13, resumed.State.Step);
            using var trainer = new Trainer(resumed.Checkpoint.Model, splits, options);
            trainer.Restore(resumed.State);
            trainer.Optimizer.Restore(resumed.Checkpoint.Model, resumed.State.OptimizerSteps, resumed.FirstMoments, resumed.SecondMoments);
            var secondHalf = Enumerable.Range(0, 17).Select(_ => trainer.TrainStep()).ToList();
            Assert.Equal(uninterrupted, firstHalf.Concat(secondHalf).ToList());
        }
    }

    [Fact]
    public void TransformerTrainingStep_AllocatesNothingAfterWarmUp()
    {
        var (info, tokenizer, splits) = TinyData();
        using var model = info.Create(tokenizer.VocabSize, 4);
        model.Initialize(1);
        using var trainer = new Trainer(model, splits, new TrainOptions
        {
            Steps = 1000, Batch = 4, GradClip = 1.0, Accumulate = 2, Schedule = LearningRateSchedule.Cosine(1e-3, 10, 1000, 1e-4),
        });
        for (int i = 0; i < 3; i++) trainer.TrainStep();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 50; i++) trainer.TrainStep();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void GradientClipping_BoundsTheUpdate()
    {
        var (info, tokenizer, splits) = TinyData();
        using var model = info.Create(tokenizer.VocabSize, 4);
        model.Initialize(1);
        using var trainer = new Trainer(model, splits, new TrainOptions
        {
            Steps = 10, Batch = 4, Optimizer = OptimizerKind.Sgd, GradClip = 1e-3, Schedule = LearningRateSchedule.Step(1.0, 0, 1),
        });
        var before = model.Weights.ToArray();
        trainer.TrainStep();
        Assert.True(trainer.LastGradientNorm > 1e-3, "the test needs a gradient larger than the clip");
        // With SGD at rate 1, the update is exactly the clipped gradient: its norm is the clip threshold.
        var after = model.Weights.ToArray();
        double norm = Math.Sqrt(before.Zip(after, (a, b) => (double)(a - b) * (a - b)).Sum());
        Assert.Equal(1e-3, norm, 6);
    }
}

public class CheckpointTests
{
    [Fact]
    public void MappedLoad_UsesTheFileAsTheWeights_AndGivesTheSameLogits()
    {
        using var dir = new TempDir();
        var path = dir.File("model.safetensors");
        var tokenizer = CharTokenizer.FromText("abcdefgh\n");
        using var model = new TinyGpt(tokenizer.VocabSize, 1);
        model.Initialize(3);
        Checkpoint.Save(path, model, tokenizer);
        var tokens = new[] { 1, 2, 3, 4 };
        var expected = model.Logits(tokens, 1, 4).ToArray();

        var copied = Checkpoint.Load(path, [TinyGpt.Descriptor]);
        var mapped = Checkpoint.Load(path, [TinyGpt.Descriptor], mapWeights: true);
        using (copied.Model)
        using (mapped.Model)
        {
            Assert.False(copied.Model.WeightsAreMapped);
            Assert.True(mapped.Model.WeightsAreMapped);
            Assert.Equal(expected, copied.Model.Logits(tokens, 1, 4).ToArray());
            Assert.Equal(expected, mapped.Model.Logits(tokens, 1, 4).ToArray());
            // Read-only: anything that would write the weights is refused instead of faulting.
            Assert.Throws<InvalidOperationException>(() => mapped.Model.EnableTraining());
            Assert.Throws<InvalidOperationException>(() => mapped.Model.Initialize(1));
        }
    }

    [Fact]
    public void Load_RefusesAWrongShape_NamingTheTensor()
    {
        using var dir = new TempDir();
        var path = dir.File("model.safetensors");
        var small = CharTokenizer.FromText("abc");
        using var model = new TinyGpt(small.VocabSize, 1);
        model.Initialize(1);
        Checkpoint.Save(path, model, small);
        var e = Assert.Throws<EdgeException>(() => Checkpoint.Load(path, [TinyGptUntied.Descriptor with { Name = "test-gpt" }]));
        Assert.Contains("tensor 'wte.weight' has shape [3, 8], the model needs [3, 12]", e.Message);
    }
}

public class LargeBatchLoadTests
{
    [Fact]
    public void Load_WithABatchTooLargeForTheArena_UsesTheLargestThatFits()
    {
        using var dir = new TempDir();
        var path = dir.File("model.safetensors");
        var tokenizer = CharTokenizer.FromText("abcdefghijklmnopqrstuvwxyz \n");
        using (var model = Edge.Models.ShakespeareGpt.Descriptor.Create(tokenizer.VocabSize, 1))
        {
            model.Initialize(1);
            Checkpoint.Save(path, model, tokenizer);
        }
        // Batch 256 at context 256 would need 6 x 256 x 6 x 256 x 256 floats of attention maps alone.
        var loaded = Checkpoint.Load(path, [Edge.Models.ShakespeareGpt.Descriptor], maxBatch: 256);
        using (loaded.Model)
        {
            Assert.InRange(loaded.Model.MaxBatch, 1, 128);
            Assert.Equal(loaded.Model.MaxBatch, Edge.Models.ShakespeareGpt.Descriptor.FittingBatch(tokenizer.VocabSize, 256));
        }
    }
}
