using System.Globalization;
using System.Text;
using Edge.Data;
using Edge.Generation;
using Edge.Models;
using Edge.Text;
using Edge.Training;

namespace Edge.Cli;

static class TrainCommand
{
    const string Help = """
        edge train: train a model, print train/val loss as it goes, keep the best-val checkpoint.

        Usage: edge train MODEL [options]

        Options (defaults come from the model's declared training recipe; see 'edge models'):
          --data FILE            UTF-8 training text (default: the built-in corpus)
          --layout text|lines    running text (90/10 split) or one example per line (80/10/10, '.' marker)
          --steps N              optimisation steps
          --batch B              examples per step
          --lr X                 learning rate
          --optimizer sgd|adamw
          --decay-step N         multiply the rate by --decay-factor from step N on (0: never)
          --decay-factor F
          --weight-decay W       decay on matrices only
          --eval-interval N      evaluate on the validation split every N steps
          --seed S               initialisation and batch order (default 1337)
          --split-seed S         shuffle of line data before the split (default 42)
          --out DIR              where the checkpoint and log go (default models/MODEL)
          --sample N             characters (text) or names (lines) to print at the end (default 300 / 10)
          --quiet                no progress bar

        Writes DIR/model.safetensors (the best validation loss so far) and DIR/log.csv.

        Examples:
          edge train char-mlp
          edge train names-mlp --data ../shared/data/names.txt
          edge train bigram-counts --data ../shared/data/names.txt
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        var info = Resolve(args.Positionals);
        var r = info.Recipe;
        var dataPath = args.String("data");
        // The built-in corpus is small (13 KB): a long run only memorises it, so its defaults are short.
        if (dataPath is null) r = r with { Steps = Math.Min(r.Steps, 600), EvalInterval = Math.Min(r.EvalInterval, 100) };
        var layout = args.Choice("layout", info.Data, ("text", DataLayout.Text), ("lines", DataLayout.Lines));
        int steps = args.Int("steps", r.Steps, min: 1, max: 100_000_000);
        int batch = args.Int("batch", r.Batch, min: 1, max: 65_536);
        double lr = args.Double("lr", r.LearningRate, min: 0, max: 1e4);
        var optimizer = args.Choice("optimizer", r.Optimizer, ("sgd", OptimizerKind.Sgd), ("adamw", OptimizerKind.AdamW));
        int decayStep = args.Int("decay-step", r.DecayStep, min: 0);
        double decayFactor = args.Double("decay-factor", r.DecayFactor, min: 0, max: 1e4);
        double weightDecay = args.Double("weight-decay", r.WeightDecay, min: 0, max: 1e4);
        int evalInterval = args.Int("eval-interval", Math.Min(r.EvalInterval, steps), min: 1);
        ulong seed = args.ULong("seed", 1337);
        ulong splitSeed = args.ULong("split-seed", 42);
        string outDir = args.String("out") ?? Path.Combine("models", info.Name);
        int sample = args.Int("sample", layout == DataLayout.Lines ? 10 : 300, min: 0, max: 1_000_000);
        bool quiet = args.Flag("quiet");
        args.RejectUnknown(1);
        if (lr <= 0) throw new UsageException("option --lr: the learning rate must be positive");

        string text = dataPath is null ? BuiltinCorpus.Text : TextCorpus.Read(dataPath);
        string dataName = dataPath ?? BuiltinCorpus.Name;
        var tokenizer = TrainingData.BuildTokenizer(text, layout);
        var splits = TrainingData.Split(text, tokenizer, info, layout, splitSeed);
        if (File.Exists(outDir)) throw new EdgeException($"--out {outDir}: is a file, expected a folder");
        Directory.CreateDirectory(outDir);
        string checkpointPath = Path.Combine(outDir, "model.safetensors");
        string logPath = Path.Combine(outDir, "log.csv");

        using var model = info.Create(tokenizer.VocabSize, batch);
        model.Initialize(seed);
        var options = new TrainOptions
        {
            Steps = steps, Batch = batch, Optimizer = optimizer, WeightDecay = weightDecay,
            Schedule = LearningRateSchedule.Step(lr, decayStep, decayFactor), EvalInterval = evalInterval, Seed = seed,
        };
        Console.WriteLine($"{info.Name}: {model.ParameterCount:N0} parameters, vocabulary {tokenizer.VocabSize}, " +
                          $"data {dataName} ({splits.Train.Count:N0} train / {splits.Val.Count:N0} val examples, {layout.ToString().ToLowerInvariant()})");
        if (!model.FitsByCounting)
            Console.WriteLine($"{optimizer.ToString().ToLowerInvariant()} lr {lr:G4}{(decayStep > 0 ? $" (x{decayFactor:G3} from step {decayStep})" : "")}, batch {batch}, {steps:N0} steps, seed {seed}");

        var log = new StringBuilder("step,train_loss,val_loss,val_perplexity,lr,seconds\n");
        var progress = new ProgressBar(steps, "steps", quiet || model.FitsByCounting);
        EvalResult best = default;
        using var trainer = new Trainer(model, splits, options);
        var final = trainer.Run(
            onStep: (step, loss) => progress.Report(step, $"loss {loss:0.0000}"),
            onEval: (e, improved) =>
            {
                progress.Clear();
                Console.WriteLine(model.FitsByCounting
                    ? $"fitted by counting: train {e.TrainLoss:0.0000}  val {e.ValLoss:0.0000}  ppl {e.ValPerplexity:0.00}"
                    : $"step {e.Step,8:N0}  train {e.TrainLoss:0.0000}  val {e.ValLoss:0.0000}  ppl {e.ValPerplexity,7:0.00}  lr {e.LearningRate:0.0e+00}  {e.Seconds,6:0.0}s{(improved ? "  *" : "")}");
                log.Append(CultureInfo.InvariantCulture, $"{e.Step},{e.TrainLoss:R},{e.ValLoss:R},{e.ValPerplexity:R},{e.LearningRate:R},{e.Seconds:R}\n");
                if (improved)
                {
                    best = e;
                    Checkpoint.Save(checkpointPath, model, tokenizer, new Dictionary<string, string>
                    {
                        [Checkpoint.StepKey] = e.Step.ToString(CultureInfo.InvariantCulture),
                        [Checkpoint.ValLossKey] = e.ValLoss.ToString("R", CultureInfo.InvariantCulture),
                        ["edge.seed"] = seed.ToString(CultureInfo.InvariantCulture),
                        ["edge.data"] = Path.GetFileName(dataName),
                        ["edge.data_layout"] = layout.ToString().ToLowerInvariant(),
                    });
                }
                AtomicFile.WriteAllText(logPath, log.ToString());
            });
        progress.Clear();
        Console.WriteLine($"saved {checkpointPath} ({(model.FitsByCounting ? "fitted by counting" : $"best val at step {best.Step:N0}")}), log {logPath}, {final.Seconds:0.0}s");

        // The saved (best) checkpoint on every example of the held-out splits, not the sample used during training.
        var loaded = Checkpoint.Load(checkpointPath, ModelCatalog.All, maxBatch: 256);
        using var savedModel = loaded.Model;
        double fullVal = Trainer.Evaluate(savedModel, splits.Val, 256);
        Console.Write($"best checkpoint: val {fullVal:0.0000} (ppl {Math.Exp(fullVal):0.00}, all {splits.Val.Count:N0} examples)");
        if (splits.Test is { } test)
        {
            double fullTest = Trainer.Evaluate(savedModel, test, 256);
            Console.Write($", test {fullTest:0.0000} (ppl {Math.Exp(fullTest):0.00}, {test.Count:N0} examples)");
        }
        Console.WriteLine();

        if (sample > 0)
        {
            Console.WriteLine($"--- sample (seed {seed}) ---");
            Sample(loaded, layout, sample, new Sampler(tokenizer.VocabSize, seed), "", Console.Out);
            Console.WriteLine();
        }
        return 0;
    }

    /// <summary>Names for line data (each ends at the marker), or a stream of characters for running text.</summary>
    public static void Sample(Checkpoint.Loaded loaded, DataLayout layout, int count, Sampler sampler, string prompt, TextWriter output)
    {
        var generator = new TextGenerator(loaded.Model, loaded.Tokenizer);
        var promptIds = loaded.Tokenizer.Encode(prompt);
        if (layout == DataLayout.Lines && loaded.Tokenizer.MarkerId is int marker)
        {
            for (int i = 0; i < count; i++)
            {
                output.Write(prompt);
                generator.Generate(promptIds, maxTokens: 64, sampler, output, stopToken: marker);
                output.WriteLine();
            }
        }
        else
        {
            output.Write(prompt);
            generator.Generate(promptIds, count, sampler, output);
        }
        output.Flush();
    }

    static ModelInfo Resolve(IReadOnlyList<string> positionals)
    {
        string known = string.Join(", ", ModelCatalog.All.Select(m => m.Name));
        if (positionals.Count == 0) throw new UsageException($"which model? (edge train MODEL; models: {known})");
        return ModelCatalog.Find(positionals[0])
            ?? throw new UsageException($"unknown model '{positionals[0]}' (models: {known})");
    }
}
