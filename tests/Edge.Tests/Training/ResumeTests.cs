using Edge.Data;
using Edge.Tests.Models;
using Edge.Tests.Support;
using Edge.Text;
using Edge.Training;
using Xunit;
using Edge.Tests.Kernels;

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
            LearningRate = 3e-3, Schedule = ScheduleKind.Cosine, Warmup = 5, MinLearningRate = 3e-4, EvalInterval = 10, Seed = 9,
            Dropout = info.Recipe.Dropout,
        };

        List<float> uninterrupted;
        using (var model = info.Create(tokenizer.VocabSize))
        {
            model.Initialize(9);
            using var context = model.CreateTrainingContext(4);
            using var trainer = new Trainer(context, splits.Train, splits.Val, options);
            uninterrupted = Enumerable.Range(0, 30).Select(_ => trainer.TrainStep()).ToList();
        }

        using var dir = new TempDir();
        var path = dir.File("last.safetensors");
        var firstHalf = new List<float>();
        using (var model = info.Create(tokenizer.VocabSize))
        {
            model.Initialize(9);
            using var context = model.CreateTrainingContext(4);
            using var trainer = new Trainer(context, splits.Train, splits.Val, options);
            for (int i = 0; i < 13; i++) firstHalf.Add(trainer.TrainStep());
            Checkpoint.SaveForResume(path, model, tokenizer, trainer);
        }

        var resumed = Checkpoint.LoadForResume(path, [info]);
        using (resumed.Checkpoint.Model)
        {
            Assert.Equal(13, resumed.State.Step);
            using var context = resumed.Checkpoint.Model.CreateTrainingContext(4);
            using var trainer = new Trainer(context, splits.Train, splits.Val, options);
            trainer.Restore(resumed.State);
            trainer.Optimizer.Restore(resumed.Checkpoint.Model.Layout.WeightLength, resumed.State.OptimizerSteps, resumed.FirstMoments, resumed.SecondMoments);
            var secondHalf = Enumerable.Range(0, 17).Select(_ => trainer.TrainStep()).ToList();
            Assert.Equal(uninterrupted, firstHalf.Concat(secondHalf).ToList());
        }
    }

    [Fact]
    public void TransformerTrainingStep_AllocatesNothingAfterWarmUp()
    {
        var (info, tokenizer, splits) = TinyData();
        using var model = info.Create(tokenizer.VocabSize);
        model.Initialize(1);
        using var context = model.CreateTrainingContext(4);
        using var trainer = new Trainer(context, splits.Train, splits.Val, new TrainOptions
        {
            Steps = 1000, Batch = 4, GradClip = 1.0, Accumulate = 2, LearningRate = 1e-3, Schedule = ScheduleKind.Cosine, Warmup = 10,
            MinLearningRate = 1e-4, Dropout = info.Recipe.Dropout,
        });
        Expect.AllocatesNothing(() => trainer.TrainStep(), "a transformer training step", warmUp: 3, calls: 50);
    }

    [Fact]
    public void GradientClipping_BoundsTheUpdate()
    {
        var (info, tokenizer, splits) = TinyData();
        using var model = info.Create(tokenizer.VocabSize);
        model.Initialize(1);
        using var context = model.CreateTrainingContext(4);
        using var trainer = new Trainer(context, splits.Train, splits.Val, new TrainOptions
        {
            Steps = 10, Batch = 4, Optimizer = OptimizerKind.Sgd, GradClip = 1e-3, LearningRate = 1.0,
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
        using var model = new TinyGpt(tokenizer.VocabSize);
        model.Initialize(3);
        Checkpoint.Save(path, model, tokenizer);
        var tokens = new[] { 1, 2, 3, 4 };
        float[] expected;
        using (var context = model.CreateInferenceContext()) expected = context.Logits(tokens, 1, 4).ToArray();

        var copied = Checkpoint.Load(path, [TinyGpt.Descriptor]);
        var mapped = Checkpoint.Load(path, [TinyGpt.Descriptor], mapWeights: true);
        using (copied.Model)
        using (mapped.Model)
        {
            Assert.False(copied.Model.WeightsAreMapped);
            Assert.True(mapped.Model.WeightsAreMapped);
            using (var context = copied.Model.CreateInferenceContext()) Assert.Equal(expected, context.Logits(tokens, 1, 4).ToArray());
            using (var context = mapped.Model.CreateInferenceContext()) Assert.Equal(expected, context.Logits(tokens, 1, 4).ToArray());
            // Read-only: anything that would write the weights is refused instead of faulting.
            Assert.Throws<InvalidOperationException>(() => mapped.Model.CreateTrainingContext(1));
            Assert.Throws<InvalidOperationException>(() => mapped.Model.Initialize(1));
        }
    }

    [Fact]
    public void Load_RefusesAWrongShape_NamingTheTensor()
    {
        using var dir = new TempDir();
        var path = dir.File("model.safetensors");
        var small = CharTokenizer.FromText("abc");
        using var model = new TinyGpt(small.VocabSize);
        model.Initialize(1);
        Checkpoint.Save(path, model, small);
        var e = Assert.Throws<EdgeException>(() => Checkpoint.Load(path, [TinyGptUntied.Descriptor with { Name = "test-gpt" }]));
        Assert.Contains("tensor 'wte.weight' has shape [3, 8], test-gpt needs [3, 12]", e.Message);
    }
}

public class FittingBatchTests
{
    [Fact]
    public void FittingBatch_IsTheLargestBatchWhoseContextFitsTheBudget()
    {
        var info = Edge.Models.ShakespeareGpt.Descriptor;
        const int V = 65;
        // A training context at batch 256 and context 256 would need 6 x 256 x 6 x 256 x 256 floats of attention maps alone.
        int batch = info.FittingBatch(V, 256, ContextKind.Training, budgetBytes: 1L << 30);
        Assert.InRange(batch, 1, 128);
        Assert.True(info.ContextBytes(V, batch, ContextKind.Training) <= 1L << 30);
        Assert.True(batch == 256 || info.ContextBytes(V, 2 * batch, ContextKind.Training) > 1L << 30);
        // Inference contexts keep no attention maps and share memory by lifetime: a far larger batch fits.
        Assert.True(info.FittingBatch(V, 256, ContextKind.Inference, budgetBytes: 1L << 30) > batch);
    }
}
