using Edge.Data;
using Edge.Models;
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
        args.Threads();
        args.RejectUnknown(0);

        var loaded = Checkpoint.LoadAny(modelPath, ModelCatalog.All, maxBatch: 256, mapWeights: true);
        using var model = loaded.Model;
        if (adapterSpecs.Count > 0) model.ActiveAdapters = AdapterOptions.Load(adapterSpecs, model);
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
        double loss = Scoring.Evaluate(model, examples, batch: 256, quiet);
        Console.WriteLine($"{Path.GetFileName(dataPath)}{(split is null ? "" : $" ({split} split)")}: {examples.Count:N0} {(loaded.Info.SequenceTargets ? "positions" : "examples")}  loss {Terminal.Bold($"{loss:0.0000}")}  perplexity {Math.Exp(loss):0.00}");
        return 0;
    }
}
