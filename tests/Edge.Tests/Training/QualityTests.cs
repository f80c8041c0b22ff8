using System.Diagnostics;
using Edge.Data;
using Edge.Models;
using Edge.Tests.Support;
using Edge.Training;
using Xunit;
using Xunit.Abstractions;

namespace Edge.Tests.Training;

/// <summary>Short training runs on the shared data with stated loss thresholds. The full recipes are in the README.</summary>
public class QualityTests(ITestOutputHelper output)
{
    static (LanguageModel Model, DataSplits Splits) Prepare(ModelInfo info, string file, int batch, ulong seed = 1337)
    {
        var text = TextCorpus.Read(TestData.File(file));
        var tokenizer = TrainingData.BuildTokenizer(text, info.Data);
        var splits = TrainingData.Split(text, tokenizer, info, info.Data, splitSeed: 42);
        var model = info.Create(tokenizer.VocabSize);
        model.Initialize(seed);
        return (model, splits);
    }

    /// <summary>Trains (or fits) the model in a training context of the options' batch; the last evaluation.</summary>
    static EvalResult Run(LanguageModel model, DataSplits splits, TrainOptions options, Action<EvalResult, bool>? onEval = null)
    {
        using var context = model.CreateTrainingContext(options.Batch);
        using var trainer = new Trainer(context, splits.Train, splits.Val, options);
        return trainer.Run(onEval: onEval);
    }

    [Fact]
    public void TrainedBigram_MatchesCountingBigram_OnNames()
    {
        var (counts, splits) = Prepare(BigramCounting.Descriptor, "names.txt", 512);
        using (counts)
        {
            var countResult = Run(counts, splits, new TrainOptions { Steps = 1, Batch = 512, LearningRate = 1 });
            var info = Bigram.Descriptor;
            var (trained, _) = Prepare(info, "names.txt", 512);
            using (trained)
            {
                var result = Run(trained, splits, new TrainOptions
                {
                    Steps = 2000, Batch = 512, Optimizer = OptimizerKind.AdamW, EvalInterval = 1000,
                    LearningRate = 0.1, DecayStep = 1500, DecayFactor = 0.1,
                });
                output.WriteLine($"counting val {countResult.ValLoss:0.0000}, trained val {result.ValLoss:0.0000}");
                Assert.InRange(countResult.ValLoss, 2.40, 2.50); // makemore part 1: about 2.45
                Assert.True(Math.Abs(result.ValLoss - countResult.ValLoss) <= 0.01,
                    $"trained bigram val {result.ValLoss:0.0000} vs counting {countResult.ValLoss:0.0000}");
            }
        }
    }

    [Fact]
    public void NamesMlp_ShortRun_ReachesDevLossBelow2_35()
    {
        var info = NamesMlp.Descriptor;
        var (model, splits) = Prepare(info, "names.txt", 32);
        using (model)
        {
            var clock = Stopwatch.StartNew();
            var result = Run(model, splits, new TrainOptions
            {
                Steps = 30_000, Batch = 32, Optimizer = OptimizerKind.Sgd, EvalInterval = 30_000,
                LearningRate = 0.1, DecayStep = 20_000, DecayFactor = 0.1,
            });
            output.WriteLine($"names-mlp 30k steps: train {result.TrainLoss:0.0000} val {result.ValLoss:0.0000} in {clock.Elapsed.TotalSeconds:0.0}s");
            Assert.True(result.ValLoss < 2.35, $"dev loss {result.ValLoss:0.0000}");
        }
    }

    [Fact]
    public void CharMlp_ShortRun_BeatsUniformByFar_OnTinyShakespeare()
    {
        var info = CharMlp.Descriptor;
        var (model, splits) = Prepare(info, "tinyshakespeare.txt", 64);
        using (model)
        {
            double uniform = Math.Log(model.VocabSize);
            var clock = Stopwatch.StartNew();
            double val = 0;
            Run(model, splits, new TrainOptions
            {
                Steps = 600, Batch = 64, Optimizer = OptimizerKind.AdamW, EvalInterval = 600, EvalExamples = 8192, LearningRate = 2e-3,
            }, onEval: (e, _) => val = e.ValLoss);
            output.WriteLine($"char-mlp 600 steps: val {val:0.0000} (uniform {uniform:0.00}) in {clock.Elapsed.TotalSeconds:0.0}s");
            Assert.True(val < 2.6, $"val loss {val:0.0000}");
        }
    }
}
