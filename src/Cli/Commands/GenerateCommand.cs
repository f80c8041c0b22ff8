using Edge.Generation;
using Edge.Models;

namespace Edge.Cli;

static class GenerateCommand
{
    const string Help = """
        edge generate: sample from a trained model, streaming characters as they are produced.

        Usage: edge generate --model FILE [options]

        Options:
          --model FILE         a checkpoint written by 'edge train' (model.safetensors)
          --prompt TEXT        text to continue (every character must be in the model's vocabulary)
          --tokens N           characters to generate for running-text models (default 500)
          --count N            names to generate for line models such as names-mlp (default 10)
          --temperature T      0 = greedy (always the most likely), 1 = the model's distribution (default 1)
          --top-k K            sample only among the K most likely characters (default 0: all)
          --seed S             the same seed gives the same text (default 1337)

        Examples:
          edge generate --model models/char-mlp/model.safetensors --prompt "KEEPER:" --tokens 200
          edge generate --model models/names-mlp/model.safetensors --count 20 --temperature 0.8
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        var path = args.String("model") ?? throw new UsageException("--model FILE is required (a checkpoint written by 'edge train')");
        var prompt = args.Text("prompt") ?? "";
        int tokens = args.Int("tokens", 500, min: 0, max: 10_000_000);
        int count = args.Int("count", 10, min: 0, max: 1_000_000);
        double temperature = args.Double("temperature", 1.0, min: 0, max: 100);
        int topK = args.Int("top-k", 0, min: 0);
        ulong seed = args.ULong("seed", 1337);
        args.RejectUnknown(0);

        var loaded = Checkpoint.Load(path, ModelCatalog.All);
        using var model = loaded.Model;
        loaded.Tokenizer.Encode(prompt); // refuses characters outside the vocabulary before anything is printed
        var sampler = new Sampler(loaded.Tokenizer.VocabSize, seed, (float)temperature, topK);
        bool lines = loaded.Tokenizer.MarkerId is not null && loaded.Info.Data == DataLayout.Lines;
        TrainCommand.Sample(loaded, lines ? DataLayout.Lines : DataLayout.Text, lines ? count : tokens, sampler, prompt, Console.Out);
        if (!lines) Console.WriteLine();
        return 0;
    }
}
