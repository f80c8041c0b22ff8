namespace Edge.Cli;

/// <summary>The sub-commands of `edge` and the top-level help.</summary>
static class Commands
{
    public const string Usage = """
        edge: train and run small language models on the CPU.

        Usage: edge COMMAND [options]      (edge COMMAND --help for its options)

        Commands:
          models     list the declared models with their parameter counts
          train      train a model and write a checkpoint (built-in corpus unless --data)
          generate   sample text (or names) from a checkpoint
          chat       an interactive prompt over a checkpoint (also reads piped input)
          eval       loss and perplexity of a checkpoint on a text file
          bench      time training steps and generated tokens against this machine's peak
          tokenize   show the token ids and pieces of a text (GPT-2 BPE or a checkpoint's characters)
          plot       draw loss curves, token embeddings or attention maps as SVG or PNG
          inspect    list a checkpoint's (or any safetensors file's) tensors and metadata
          lora       train a LoRA adapter on a frozen base, describe adapters, merge one into its base

        Example:
          edge train char-mlp --steps 2000
          edge generate --model models/char-mlp/model.safetensors --tokens 300
          edge lora train --base models/baby-gpt/model.safetensors --data ../shared/data/names.txt --out adapters/names
        """;

    public static int Run(string[] argv)
    {
        if (argv.Length == 0 || argv[0] is "--help" or "-h" or "help")
        {
            Console.WriteLine(Usage);
            return argv.Length == 0 ? 2 : 0;
        }
        var rest = argv.AsSpan(1);
        return argv[0] switch
        {
            "models" => ModelsCommand.Run(Args.Parse("models", rest)),
            "train" => TrainCommand.Run(Args.Parse("train", rest, "quiet", "resume")),
            "generate" => GenerateCommand.Run(Args.Parse("generate", rest)),
            "eval" => EvalCommand.Run(Args.Parse("eval", rest)),
            "chat" => ChatCommand.Run(Args.Parse("chat", rest)),
            "bench" => BenchCommand.Run(Args.Parse("bench", rest, "json")),
            "tokenize" => TokenizeCommand.Run(Args.Parse("tokenize", rest)),
            "plot" => PlotCommand.Run(Args.Parse("plot", rest, "log-y")),
            "inspect" => InspectCommand.Run(Args.Parse("inspect", rest)),
            "lora" => LoraCommand.Run(rest.ToArray()),
            _ => throw new UsageException($"unknown command '{argv[0]}' (commands: models, train, generate, chat, eval, bench, tokenize, plot, inspect, lora; see 'edge --help')"),
        };
    }

    /// <summary>Prints a command's help and returns true when --help was given.</summary>
    public static bool ShowHelp(Args args, string help)
    {
        if (!args.Help) return false;
        Console.WriteLine(help);
        return true;
    }
}
