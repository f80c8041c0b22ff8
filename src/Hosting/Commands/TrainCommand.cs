using System.Globalization;
using System.Text;
using Edge.Data;
using Edge.Files;
using Edge.Generation;
using Edge.Text;
using Edge.Training;

namespace Edge.Cli;

static class TrainCommand
{
    public const string Help = """
        edge train: train a model, print train/val loss as it goes, keep the best-val checkpoint.

        Usage: edge train MODEL [options]

        Options (defaults come from the model's declared training recipe; see 'edge models'):
          --data FILE            UTF-8 training text (default: the built-in corpus)
          --layout text|lines    running text (90/10 split) or one example per line (80/10/10, '.' marker)
          --vocab ascii|data     running text's characters: the data's plus printable ASCII, tab, newline and an
                                 end-of-text mark (ascii, the default: later templates and instructions always
                                 encode), or exactly the data's (data: nanoGPT's vocabulary, 65 for Tiny Shakespeare)
          --steps N              optimisation steps
          --batch B              examples per step
          --lr X                 learning rate (the peak rate for the cosine schedule)
          --optimizer sgd|adamw
          --schedule step|cosine step: x --decay-factor from --decay-step; cosine: --warmup, then down to --min-lr
          --decay-step N         multiply the rate by --decay-factor from step N on (0: never)
          --decay-factor F
          --warmup N             cosine: steps of linear warm-up
          --min-lr X             cosine: the rate at the last step
          --weight-decay W       AdamW decay on matrices and embeddings only (not biases or norms)
          --beta2 B              AdamW's second-moment decay
          --grad-clip G          scale gradients down to global norm G (0: off)
          --accumulate K         average the gradients of K batches per step
          --dropout P            dropout in training (transformers; 0 switches it off)
          --eval-interval N      evaluate on the validation split every N steps
          --eval-iters M         evaluate on M batches of examples of each split, evenly spread (default: up to 16384
                                 validation examples, and as many of the train split)
          --resume               continue the run saved in DIR/last.safetensors, exactly as if it had not stopped
          --force                start a new run in a folder that holds an earlier one, replacing its files
          --seed S               initialisation, batch order and dropout (default 1337)
          --split-seed S         shuffle of line data before the split (default 42)
          --out DIR              where the checkpoint and log go (default models/MODEL)
          --sample N             characters (text) or names (lines) to print at the end (default 300 / 10)
          --threads N            cores the kernels use (default: all; results do not depend on it)
          --quiet                no progress bar and no chart: the plain log only
          --no-chart             a progress bar but no live loss chart

        On a terminal, a progress bar (steps, rate, ETA, the last loss) and a live chart of train and val loss
        against step are drawn below the log on stderr; when stdout or stderr is redirected, the log is plain lines.

        Writes DIR/model.safetensors (the best validation loss so far), DIR/last.safetensors (the latest
        evaluation, with optimiser state, for --resume) and DIR/log.csv. A folder holding an earlier run is refused
        unless --resume or --force; a folder another edge process is writing to is refused.

        Examples:
          edge train char-mlp
          edge train names-mlp --data ../shared/data/names.txt
          edge train bigram-counts --data ../shared/data/names.txt
          edge train baby-gpt --data ../shared/data/tinyshakespeare.txt
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
        var vocabulary = args.Choice("vocab", CharVocabulary.Ascii, ("ascii", CharVocabulary.Ascii), ("data", CharVocabulary.Data));
        int steps = args.Int("steps", r.Steps, min: 1, max: 100_000_000);
        int batch = args.Int("batch", r.Batch, min: 1, max: 65_536);
        double lr = args.Double("lr", r.LearningRate, min: 0, max: 1e4);
        var optimizer = args.Choice("optimizer", r.Optimizer, ("sgd", OptimizerKind.Sgd), ("adamw", OptimizerKind.AdamW));
        var scheduleKind = args.Choice("schedule", r.Schedule, ("step", ScheduleKind.Step), ("cosine", ScheduleKind.Cosine));
        int decayStep = args.Int("decay-step", r.DecayStep, min: 0);
        double decayFactor = args.Double("decay-factor", r.DecayFactor, min: 0, max: 1e4);
        int warmup = args.Int("warmup", r.Warmup, min: 0);
        double minLr = args.Double("min-lr", r.MinLearningRate, min: 0, max: 1e4);
        double weightDecay = args.Double("weight-decay", r.WeightDecay, min: 0, max: 1e4);
        double beta2 = args.Double("beta2", r.Beta2, min: 0, max: 0.999999);
        double gradClip = args.Double("grad-clip", r.GradClip, min: 0, max: 1e6);
        int accumulate = args.Int("accumulate", 1, min: 1, max: 10_000);
        double dropout = args.Double("dropout", r.Dropout, min: 0, max: 0.95);
        int evalInterval = args.Int("eval-interval", Math.Min(r.EvalInterval, steps), min: 1);
        int evalIters = args.Int("eval-iters", 0, min: 0, max: 1_000_000);
        bool resume = args.Flag("resume");
        bool force = args.Flag("force");
        ulong seed = args.ULong("seed", 1337);
        ulong splitSeed = args.ULong("split-seed", 42);
        string outDir = args.String("out") ?? Path.Combine("models", info.Name);
        int sample = args.Int("sample", layout == DataLayout.Lines ? 10 : 300, min: 0, max: 1_000_000);
        bool quiet = args.Flag("quiet");
        bool noChart = args.Flag("no-chart");
        args.Threads();
        args.RejectUnknown(1);
        if (lr <= 0) throw new UsageException("option --lr: the learning rate must be positive");
        if (resume && force) throw new UsageException("--resume continues the run in --out and --force replaces it: give one");

        string text = dataPath is null ? BuiltinCorpus.Text : TextCorpus.Read(dataPath);
        string dataName = dataPath ?? BuiltinCorpus.Name;
        CharTokenizer tokenizer;
        DataSplits splits;
        try
        {
            tokenizer = TrainingData.BuildTokenizer(text, layout, vocabulary);
            splits = TrainingData.Split(text, tokenizer, info, layout, splitSeed);
        }
        catch (EdgeException e) { throw new EdgeException($"{dataName}: {e.Message}", e); }   // too small, the marker in the text: name the file
        using var folder = OutputFolder.Claim(outDir, "--out", [RunFiles.Model, RunFiles.Last, RunFiles.Log],
            resume ? OutputFolder.Existing.Continue : force ? OutputFolder.Existing.Replace : OutputFolder.Existing.Refuse, dataPath);
        if (force)   // a new run: nothing of the old one may be left to mix with it
            foreach (var name in new[] { RunFiles.Model, RunFiles.Last, RunFiles.Log }) File.Delete(Path.Combine(outDir, name));
        string checkpointPath = Path.Combine(outDir, RunFiles.Model);
        string lastPath = Path.Combine(outDir, RunFiles.Last);
        string logPath = Path.Combine(outDir, RunFiles.Log);

        Checkpoint.Resumable? resumed = null;
        if (resume)
        {
            if (!File.Exists(lastPath)) throw new EdgeException($"--resume: {lastPath} not found (nothing to resume in {outDir})");
            resumed = Checkpoint.LoadForResume(lastPath, Catalog.All);
            if (resumed.Checkpoint.Info.Name != info.Name)
                throw new EdgeException($"--resume: {lastPath} is a '{resumed.Checkpoint.Info.Name}' run, not '{info.Name}'");
            if (resumed.Checkpoint.Tokenizer is not CharTokenizer saved || saved.ToJson() != tokenizer.ToJson())
                throw new EdgeException($"--resume: {lastPath} was trained on data with a different vocabulary; pass the same --data");
            if (resumed.State.Step >= steps)
                throw new EdgeException($"--resume: the run already reached step {resumed.State.Step}; ask for more --steps");
        }
        using var model = resumed?.Checkpoint.Model ?? info.Create(tokenizer.VocabSize);
        if (resumed is null) model.Initialize(seed);
        var options = TrainOptions.FromRecipe(r) with
        {
            Steps = steps, Batch = batch, Optimizer = optimizer, LearningRate = lr, Schedule = scheduleKind, DecayStep = decayStep,
            DecayFactor = decayFactor, Warmup = warmup, MinLearningRate = minLr, WeightDecay = weightDecay, Beta2 = beta2,
            GradClip = gradClip, Accumulate = accumulate, Dropout = dropout, EvalInterval = evalInterval, Seed = seed,
            EvalExamples = evalIters > 0 ? evalIters * batch : 16384,
        };
        Console.WriteLine($"{Terminal.Bold(info.Name)}: {model.ParameterCount:N0} parameters, vocabulary {tokenizer.VocabSize}, " +
                          $"data {dataName} ({splits.Train.Count:N0} train / {splits.Val.Count:N0} val examples, {layout.ToString().ToLowerInvariant()})");
        if (!model.FitsByCounting)
            Console.WriteLine($"{optimizer.ToString().ToLowerInvariant()} lr {lr:G4}" +
                (scheduleKind == ScheduleKind.Cosine ? $" (warm-up {warmup}, cosine to {minLr:G3})" : decayStep > 0 && decayStep < steps ? $" (x{decayFactor:G3} from step {decayStep})" : "") +
                $", batch {batch}{(accumulate > 1 ? $" x {accumulate}" : "")}, {steps:N0} steps{(dropout > 0 ? $", dropout {dropout:G3}" : "")}{(gradClip > 0 ? $", clip {gradClip:G3}" : "")}, seed {seed}" +
                (resumed is null ? "" : $", resuming at step {resumed.State.Step:N0}"));

        var log = new StringBuilder(resumed is not null && File.Exists(logPath)
            ? TruncateLog(Edge.Files.SafeFile.ReadAllText(logPath), resumed.State.Step)
            : "step,train_loss,val_loss,val_perplexity,lr,seconds\n");
        EvalResult best = default;
        using var trainer = new Trainer(Backend.Current.CreateTraining(model, batch, options), splits.Train, splits.Val, options);
        if (resumed is not null)
        {
            trainer.Restore(resumed.State);
            trainer.RestoreOptimizer(resumed.State.OptimizerSteps, resumed.FirstMoments, resumed.SecondMoments);
            best = new EvalResult(resumed.State.Step, 0, resumed.State.BestVal, 0, 0);
        }
        int firstStep = trainer.Step;
        bool chart = ShowChart(quiet, noChart) && !model.FitsByCounting;
        var history = new LossHistory(firstStep, steps);
        using var progress = new ProgressBar(steps, "steps", quiet || model.FitsByCounting, valueName: "loss", start: firstStep)
        {
            Above = chart ? width => history.Render(Math.Min(width, ChartWidth), ChartHeight, Terminal.ErrorColour) : null,
        };
        var metadata = new Dictionary<string, string>
        {
            ["edge.seed"] = seed.ToString(CultureInfo.InvariantCulture),
            ["edge.data"] = Path.GetFileName(dataName),
            ["edge.data_layout"] = layout.ToString().ToLowerInvariant(),
        };
        using var interrupt = Interrupt.OnCtrlC();
        var final = trainer.Run(
            onStep: (step, loss) =>
            {
                if (chart) history.AddTrain(step, loss);
                progress.Report(step, loss);
            },
            onEval: (e, improved) =>
            {
                progress.Clear();
                history.AddVal(e.Step, e.ValLoss);
                Console.WriteLine(model.FitsByCounting
                    ? $"fitted by counting: train {e.TrainLoss:0.0000}  val {e.ValLoss:0.0000}  ppl {e.ValPerplexity:0.00}"
                    : $"step {e.Step,8:N0}  train {e.TrainLoss:0.0000}  val {e.ValLoss:0.0000}  ppl {e.ValPerplexity,7:0.00}  lr {e.LearningRate:0.0e+00}  {e.Seconds,6:0.0}s{(improved ? "  " + Terminal.Bold("*") : "")}");
                log.Append(CultureInfo.InvariantCulture, $"{e.Step},{e.TrainLoss:R},{e.ValLoss:R},{e.ValPerplexity:R},{e.LearningRate:R},{e.Seconds:R}\n");
                metadata[Checkpoint.StepKey] = e.Step.ToString(CultureInfo.InvariantCulture);
                metadata[Checkpoint.ValLossKey] = e.ValLoss.ToString("R", CultureInfo.InvariantCulture);
                trainer.Engine.Synchronize();   // a device's weights and moments to the host, for the files
                if (improved)
                {
                    best = e;
                    Checkpoint.Save(checkpointPath, model, tokenizer, metadata);
                }
                if (!model.FitsByCounting) Checkpoint.SaveForResume(lastPath, model, tokenizer, trainer, metadata);
                Edge.Files.SafeFile.WriteAllText(logPath, log.ToString());
            },
            interrupt.Token);
        progress.Dispose();
        if (chart && trainer.Step > firstStep) // the final chart stays above the summary
            foreach (var line in history.Render(Math.Min(Terminal.Width - 1, ChartWidth), ChartHeight, Terminal.ErrorColour))
                Console.Error.WriteLine(line);
        if (interrupt.Token.IsCancellationRequested)
        {
            Console.WriteLine($"interrupted at step {trainer.Step:N0}: saved {lastPath}; continue with the same command and --resume");
            return 130; // the conventional exit code after SIGINT
        }
        Console.WriteLine($"saved {checkpointPath} ({(model.FitsByCounting ? "fitted by counting" : $"best val at step {best.Step:N0}")}), log {logPath}, {final.Seconds:0.0}s");

        // The saved (best) checkpoint on every example of the held-out splits, not the sample used during training.
        // The training context's memory goes back before scoring starts (scoring takes an inference context of its own).
        trainer.Dispose();
        var loaded = Checkpoint.Load(checkpointPath, Catalog.All, mapWeights: true);
        using var savedModel = loaded.Model;
        using var scoring = Scoring.CreateContext(savedModel, 256);
        double fullVal = Scoring.Evaluate(scoring, splits.Val, quiet, "scoring the val split");
        Console.Write($"best checkpoint: val {fullVal:0.0000} (ppl {Math.Exp(fullVal):0.00}, the whole val split)");
        if (splits.Test is { } test)
        {
            double fullTest = Scoring.Evaluate(scoring, test, quiet, "scoring the test split");
            Console.Write($", test {fullTest:0.0000} (ppl {Math.Exp(fullTest):0.00})");
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

    /// <summary>The files a run folder holds.</summary>
    static class RunFiles
    {
        public const string Model = "model.safetensors", Last = "last.safetensors", Log = "log.csv";
    }

    const int ChartWidth = 100, ChartHeight = 12;

    /// <summary>
    /// The live chart needs both streams on a terminal (a redirected log stays plain lines), room for it and
    /// the log above it, and neither --quiet nor --no-chart.
    /// </summary>
    static bool ShowChart(bool quiet, bool noChart) =>
        !quiet && !noChart && Terminal.CanDraw && Terminal.OutIsTerminal && Terminal.Height >= ChartHeight + 8 && Terminal.Width >= 40;

    /// <summary>Names for line data (each ends at the marker), or a stream of characters for running text.</summary>
    public static void Sample(Checkpoint.Loaded loaded, DataLayout layout, int count, Sampler sampler, string prompt, TextWriter output,
        StopSequences? stops = null, CancellationToken cancel = default, ProjectionAdapters? adapters = null)
    {
        using var context = Backend.Current.CreateGeneration(loaded.Model);
        context.Adapters = adapters;
        var generator = new TextGenerator(context, loaded.Tokenizer);
        var promptIds = loaded.Tokenizer.Encode(prompt);
        if (layout == DataLayout.Lines && loaded.Marker is int marker)
        {
            for (int i = 0; i < count && !cancel.IsCancellationRequested; i++)
            {
                output.Write(prompt);
                generator.Generate(promptIds, maxTokens: 64, sampler, output, stopToken: marker, stops, cancel);
                output.WriteLine();
            }
        }
        else
        {
            output.Write(prompt);
            // An end-of-text token (GPT-2's <|endoftext|>, a character vocabulary's U+0003) ends the text.
            generator.Generate(promptIds, count, sampler, output, Edge.Lora.LoraData.StopToken(loaded.Tokenizer) ?? -1, stops, cancel);
        }
        output.Flush();
    }

    /// <summary>The log of a resumed run keeps the evaluations up to the resumed step.</summary>
    internal static string TruncateLog(string log, int step)
    {
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var kept = lines.Take(1).Concat(lines.Skip(1).Where(l =>
            int.TryParse(l.AsSpan(0, Math.Max(0, l.IndexOf(','))), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) && s <= step));
        return string.Join('\n', kept) + "\n";
    }

    static ModelInfo Resolve(IReadOnlyList<string> positionals)
    {
        string known = string.Join(", ", Catalog.All.Select(m => m.Name));
        if (positionals.Count == 0) throw new UsageException($"which model? (edge train MODEL; models: {known})");
        return Catalog.Find(positionals[0])
            ?? throw new UsageException($"unknown model '{positionals[0]}' (models: {known})");
    }
}
