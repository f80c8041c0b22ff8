using Edge.Tests.Kernels;
using System.Text;
using Edge.Data;
using Edge.Generation;
using Edge.Kernels;
using Edge.Lora;
using Edge.Tests.Models;
using Edge.Text;
using Edge.Training;
using Xunit;

namespace Edge.Tests.Lora;

/// <summary>Training adapters on a frozen base: each lowers the loss on its own corpus, and switching changes what is generated.</summary>
public class LoraTrainingTests
{
    /// <summary>
    /// Words of 3 to 8 letters that walk the alphabet a..h upwards (+1) or downwards (-1) from a random letter. A base
    /// trained on both directions cannot tell them apart at the start of a word; an adapter for one can.
    /// </summary>
    static string Corpus(int direction, int chars, ulong seed)
    {
        var rng = new Rng(seed);
        var sb = new StringBuilder();
        while (sb.Length < chars)
        {
            int dir = direction != 0 ? direction : (rng.NextInt(2) == 0 ? 1 : -1);
            int c = rng.NextInt(8), n = 3 + rng.NextInt(6);
            for (int i = 0; i < n; i++, c = (c + dir + 8) % 8) sb.Append((char)('a' + c));
            sb.Append(' ');
        }
        return sb.ToString();
    }

    static readonly CharTokenizer Tokenizer = CharTokenizer.FromText("abcdefgh ");

    /// <summary>test-gpt2-tiny trained briefly on words of both directions.</summary>
    static TinyGpt2 TrainBase()
    {
        var model = new TinyGpt2(Tokenizer.VocabSize);
        model.Initialize(1);
        var splits = DataSplits.FromText(Tokenizer.Encode(Corpus(0, 8000, 1)), model.InputLength, sequenceTargets: true);
        using var context = model.CreateTrainingContext(16);
        using var trainer = new Trainer(context, splits.Train, splits.Val, new TrainOptions
        {
            Steps = 150, Batch = 16, LearningRate = 1e-2, Schedule = ScheduleKind.Cosine, Warmup = 10, MinLearningRate = 1e-3, GradClip = 1, EvalInterval = 1000,
        });
        trainer.Run();
        return model;
    }

    static TrainOptions AdapterOptions(int steps, int batch, double lr = 1e-3, int warmup = 20, double clip = 1.0) => new()
    {
        Steps = steps, Batch = batch, LearningRate = lr, Schedule = ScheduleKind.Cosine, Warmup = AdapterTraining.Warmup(steps, warmup),
        GradClip = clip, EvalInterval = 1000, EvalExamples = 1024,
    };

    static LoraAdapter TrainAdapter(LanguageModel model, LoraData data, ulong seed)
    {
        var adapter = LoraAdapter.Create(model.Layout, new LoraConfig(4, 8, 0.0, ["attn.c_attn", "mlp.c_fc"]), seed);
        using var context = model.CreateTrainingContext(16, frozenWeights: true);
        using var trainer = AdapterTraining.Create(context, adapter, data, AdapterOptions(150, 16, lr: 1e-2, warmup: 10));
        trainer.Run();
        return adapter;
    }

    [Fact]
    public void EachAdapter_LowersTheLossOnItsOwnCorpus_AndSwitchingChangesGeneration()
    {
        // A base that is not trainable and not writable: mapped read-only from a checkpoint, as `edge lora train` loads it.
        using var dir = new Edge.Tests.Support.TempDir();
        using (var trained = TrainBase()) Checkpoint.Save(dir.File("base.safetensors"), trained, Tokenizer);
        var loaded = Checkpoint.Load(dir.File("base.safetensors"), Edge.Generated.ModelRegistry.All, mapWeights: true);
        using var model = loaded.Model;
        Assert.True(model.WeightsAreMapped);

        var up = LoraData.FromText(Corpus(+1, 6000, 2), Tokenizer, model.InputLength);
        var down = LoraData.FromText(Corpus(-1, 6000, 3), Tokenizer, model.InputLength);
        using var scoring = model.CreateInferenceContext(16);
        double Loss(LoraData d) => Trainer.Evaluate(scoring, d.Val, 16, 1000);
        double baseUp = Loss(up), baseDown = Loss(down);

        using var upAdapter = TrainAdapter(model, up, 11);
        using var downAdapter = TrainAdapter(model, down, 12);
        var set = new AdapterSet(model.Layout, [upAdapter, downAdapter]);
        scoring.Adapters = set;
        using var decoding = model.CreateDecodingContext();
        decoding.Adapters = set;

        set.ActivateOnly(0);
        double upOnUp = Loss(up), upOnDown = Loss(down);
        var upText = Generate(decoding);
        set.ActivateOnly(1);
        double downOnDown = Loss(down), downOnUp = Loss(up);
        var downText = Generate(decoding);
        set.DeactivateAll();

        string report = $"base up {baseUp:0.000} down {baseDown:0.000}; up adapter {upOnUp:0.000}/{upOnDown:0.000}; down adapter {downOnUp:0.000}/{downOnDown:0.000}";
        Assert.True(upOnUp < baseUp - 0.05, report);
        Assert.True(downOnDown < baseDown - 0.05, report);
        Assert.True(upOnUp < downOnUp && downOnDown < upOnDown, report);
        // Greedy from "b": the upward adapter continues "cd...", the downward one "ah...".
        Assert.StartsWith("cd", upText);
        Assert.StartsWith("ah", downText);
        Assert.Equal(Loss(up), baseUp);       // all off: the base again
    }

    static string Generate(ModelContext context)
    {
        var generator = new TextGenerator(context, Tokenizer);
        var output = new StringWriter();
        generator.Generate(Tokenizer.Encode(" b"), 6, new Sampler(Tokenizer.VocabSize, 1, temperature: 0f), output);
        return output.ToString();
    }

    [Fact]
    public void TrainingStep_AllocatesNothingAfterWarmUp_AndNeverWritesTheBase()
    {
        using var model = new TinyGpt(Tokenizer.VocabSize);
        model.Initialize(2);
        var weights = model.Weights.ToArray();
        var data = LoraData.FromText(Corpus(0, 3000, 5), Tokenizer, model.InputLength);
        using var adapter = LoraAdapter.Create(model.Layout, new LoraConfig(2, 4, 0.1, LoraConfig.ValidTargets), 3);
        using var context = model.CreateTrainingContext(4, frozenWeights: true);
        using var trainer = AdapterTraining.Create(context, adapter, data, AdapterOptions(1000, 4, clip: 0.5) with { Dropout = 0.1 });
        Expect.AllocatesNothing(() => trainer.TrainStep(), "an adapter training step", warmUp: 3, calls: 50);
        Assert.True(weights.AsSpan().SequenceEqual(model.Weights));
        Assert.False(context.HasWeightGradients);
    }

    [Fact]
    public void InstructionPairs_AnswerOnlyLoss_ScoresOnlyTheAnswers()
    {
        var tokenizer = CharTokenizer.FromText("### Question:\nAnswer\n abcdefghijklmnopqrstuvwxyz?.");
        var pairs = LoraData.ParseJsonl("""
            {"instruction": "say hi", "response": "hi."}
            {"question": "abc?", "answer": "def."}

            {"instruction": "x", "input": "y", "output": "z."}
            """, "pairs.jsonl");
        Assert.Equal(3, pairs.Count);
        Assert.Equal("x\n\ny", pairs[2].Question);
        Assert.Equal(4, pairs[2].Line);
        var data = LoraData.FromPairs(pairs, tokenizer, 64, LoraData.DefaultTemplate, answerOnly: true, splitSeed: 1);
        var all = LoraData.FromPairs(pairs, tokenizer, 64, LoraData.DefaultTemplate, answerOnly: false, splitSeed: 1);
        var inputs = new int[data.Length];
        var targets = new int[data.Length];
        var full = new int[data.Length];
        for (int i = 0; i < data.Train.Count; i++)
        {
            data.Train.Fill(i, inputs, targets);
            all.Train.Fill(i, inputs, full);
            string scored = tokenizer.Decode(targets.Where(t => t >= 0).ToArray());
            string text = tokenizer.Decode(inputs);
            // The scored targets are the answer and the end-of-text token (the start token: '\n' here).
            Assert.Contains(scored.TrimEnd('\n'), new[] { "hi.", "def.", "z." });
            Assert.StartsWith("### Question:\n", text);
            Assert.True(full.Count(t => t >= 0) > targets.Count(t => t >= 0));
        }
    }

    [Fact]
    public void MalformedJsonl_IsReportedWithLineNumbers()
    {
        var e = Assert.Throws<EdgeException>(() => LoraData.ParseJsonl("{\"instruction\": \"a\", \"response\": \"b\"}\nnot json\n{\"instruction\": \"a\"}\n[1]\n", "d.jsonl"));
        Assert.Equal("d.jsonl: 3 malformed JSONL lines: line 2 (not valid JSON), line 3 (no \"response\", \"answer\", \"output\" or \"completion\" string), line 4 (not a JSON object)", e.Message);
    }

    [Fact]
    public void WarmUp_Shrinks_ForShortRuns()
    {
        Assert.Equal(20, AdapterTraining.Warmup(1000, 20));
        Assert.Equal(5, AdapterTraining.Warmup(50, 20));
        var schedule = AdapterOptions(50, 4, lr: 1e-3, warmup: 20).LearningRates;
        Assert.Equal(1e-3, schedule.At(4), 9);      // the peak is reached within the short run
    }

    [Fact]
    public void IgnoredTargets_AreNotScored()
    {
        var logits = new float[] { 1, 2, 3, 0, 0, 5 };
        var probs = new float[6];
        float both = SoftmaxCrossEntropy.Forward(logits, [2, 2], probs, 2, 3);
        float first = SoftmaxCrossEntropy.Forward(logits, [2, SoftmaxCrossEntropy.IgnoredTarget], probs, 2, 3);
        float alone = SoftmaxCrossEntropy.Forward(logits.AsSpan(0, 3), [2], probs, 1, 3);
        Assert.Equal(alone, first);
        Assert.NotEqual(both, first);
        var d = new float[6];
        SoftmaxCrossEntropy.Backward(probs, [2, SoftmaxCrossEntropy.IgnoredTarget], d, 2, 3, 0.5f);
        Assert.Equal([0f, 0f, 0f], d[3..]);
        Assert.Equal(probs[2] - 1f, d[2], 6);       // 0.5 rescaled by 2 rows / 1 counted: the mean over counted rows
    }
}
