using Edge.Data;
using Edge.Training;

namespace Edge.Cli;

static class EvalCommand
{
    public const string Help = """
        edge eval: the loss (mean negative log-likelihood, nats per token) and perplexity of a checkpoint on a file.

        Usage: edge eval --model FILE|DIR --data FILE [options]

        Options:
          --model FILE|DIR         a checkpoint written by 'edge train', or a Hugging Face GPT-2-family folder
          --data FILE              UTF-8 text to score
          --layout text|lines      running text or one example per line (default: the layout the model was trained with)
          --adapter DIR[:SCALE]    score with a LoRA adapter switched on, optionally scaled (repeatable)
          --split train|val|test   score only that part of the file, split as 'edge train' splits it (text: first
                                   90% train, last 10% val; lines: shuffled with --split-seed, 80/10/10)
          --split-seed S           the shuffle of line data (default 42, as 'edge train')
          --random-batches N       instead of scoring every example, score N batches drawn at random (nanoGPT's
                                   estimate_loss) and print their mean and how much one batch's loss varies
          --batch B                examples in a random batch (default: the model's training recipe)
          --seed S                 the random draw (default 1337)
          --threads N              cores the kernels use (default: all; results do not depend on it)
          --quiet                  no progress bar

        Without --split every example of the file is scored.

        Example:
          edge eval --model models/names-mlp/model.safetensors --data ../shared/data/names.txt
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        var modelPath = args.String("model") ?? throw new UsageException("--model FILE is required");
        var dataPath = args.String("data") ?? throw new UsageException("--data FILE is required");
        var layoutOption = args.String("layout");
        bool quiet = args.Flag("quiet");
        var adapterSpecs = args.Strings("adapter");
        var split = args.Choice<string?>("split", null, ("train", "train"), ("val", "val"), ("test", "test"));
        ulong splitSeed = args.ULong("split-seed", 42);
        int randomBatches = args.Int("random-batches", 0, min: 1, max: 10_000_000);
        int? batchOption = args.String("batch") is null ? null : args.Int("batch", 1, min: 1, max: 4096);
        ulong seed = args.ULong("seed", 1337);
        if (randomBatches == 0 && (batchOption is not null || args.String("seed") is not null))
            throw new UsageException("--batch and --seed go with --random-batches N");
        args.Threads();
        args.RejectUnknown(0);

        var loaded = Checkpoint.LoadAny(modelPath, Catalog.All, mapWeights: true);
        using var model = loaded.Model;
        var adapters = adapterSpecs.Count > 0 ? AdapterOptions.Load(adapterSpecs, model) : null;
        var layout = layoutOption is null
            ? (loaded.Metadata.TryGetValue("edge.data_layout", out var l) && l == "lines" ? DataLayout.Lines : loaded.Info.Data)
            : layoutOption switch { "text" => DataLayout.Text, "lines" => DataLayout.Lines, _ => throw new UsageException($"option --layout: expected text or lines, got '{layoutOption}'") };
        var text = TextCorpus.Read(dataPath);
        ExampleSet examples;
        try
        {
            if (split is null) examples = TrainingData.All(text, loaded.Tokenizer, loaded.Info, layout);
            else
            {
                if (loaded.Tokenizer is not Edge.Text.CharTokenizer chars)
                    throw new UsageException("--split needs a character-level checkpoint (the splits 'edge train' makes); score a file of the part instead");
                var splits = TrainingData.Split(text, chars, loaded.Info, layout, splitSeed);
                examples = split switch
                {
                    "train" => splits.Train,
                    "val" => splits.Val,
                    _ => splits.Test ?? throw new EdgeException("running text has no test split (first 90% train, last 10% val)"),
                };
            }
        }
        catch (EdgeException e) { throw new EdgeException($"{dataPath}: {e.Message}"); }
        string what = $"{Path.GetFileName(dataPath)}{(split is null ? "" : $" ({split} split)")}";
        if (randomBatches > 0)
        {
            int batch = batchOption ?? loaded.Info.Recipe.Batch;
            using var context = Backend.Current.CreateInference(model, batch);
            context.Adapters = adapters;
            var losses = RandomBatches(context, examples, batch, randomBatches, seed, quiet);
            double mean = losses.Average();
            double sd = losses.Length > 1 ? Math.Sqrt(losses.Sum(l => (l - mean) * (l - mean)) / (losses.Length - 1)) : 0;
            string shape = loaded.Info.SequenceTargets ? $"{batch} x {model.InputLength}" : $"{batch}";
            Console.WriteLine($"{what}: {randomBatches:N0} random batches of {shape}  loss {Terminal.Bold($"{mean:0.0000}")}  perplexity {Math.Exp(mean):0.00}  " +
                $"sd of one batch {sd:0.0000} (of a mean of k batches: that / sqrt(k))");
            return 0;
        }
        using var scoring = Scoring.CreateContext(model, 256);
        scoring.Adapters = adapters;
        double loss = Scoring.Evaluate(scoring, examples, quiet);
        Console.WriteLine($"{what}: {examples.Count:N0} {(loaded.Info.SequenceTargets ? "positions" : "examples")}  loss {Terminal.Bold($"{loss:0.0000}")}  perplexity {Math.Exp(loss):0.00}");
        return 0;
    }

    static double[] RandomBatches(IModelContext context, ExampleSet examples, int batch, int batches, ulong seed, bool quiet)
    {
        using var bar = new ProgressBar(batches, "batches", quiet);
        return Trainer.RandomBatchLosses(context, examples, batch, batches, seed, progress: done => bar.Report(done));
    }
}
