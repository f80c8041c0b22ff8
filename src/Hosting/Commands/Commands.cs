namespace Edge.Cli;

/// <summary>The sub-commands of `edge` and the top-level help.</summary>
static class Commands
{
    /// <summary>
    /// A sub-command: its name, one line for `edge help`, its help text (with a "Usage: edge NAME" line and
    /// at least one example), the options that take no value, and its entry point. A new command is one line
    /// in <see cref="All"/>.
    /// </summary>
    /// <param name="Dispatch">For a command with sub-commands of its own (lora): takes the arguments after its name as they are.</param>
    public sealed record Command(string Name, string Summary, string Help, string[] Flags, Func<Args, int> Run, Func<string[], int>? Dispatch = null);

    public static readonly Command[] All =
    [
        new("models", "list the declared models with their parameter counts", ModelsCommand.Help, [], ModelsCommand.Run),
        new("train", "train a model and write a checkpoint (built-in corpus unless --data)", TrainCommand.Help, ["quiet", "no-chart", "resume", "force"], TrainCommand.Run),
        new("generate", "sample text (or names) from a checkpoint", GenerateCommand.Help, ["quiet"], GenerateCommand.Run),
        new("chat", "an interactive prompt over a checkpoint (also reads piped input)", ChatCommand.Help, [], ChatCommand.Run),
        new("eval", "loss and perplexity of a checkpoint on a text file", EvalCommand.Help, ["quiet"], EvalCommand.Run),
        new("logits", "print the logits a model gives for a prompt, as JSON (to compare with other stacks)", LogitsCommand.Help, ["last"], LogitsCommand.Run),
        new("bench", "time training steps and generated tokens against this machine's peak", BenchCommand.Help, ["json", "quiet"], BenchCommand.Run),
        new("tokenize", "show the token ids and pieces of a text, or learn a BPE vocabulary", TokenizeCommand.Help, ["quiet", "force"], TokenizeCommand.Run),
        new("plot", "draw loss curves, token embeddings or attention maps as SVG or PNG", PlotCommand.Help, ["log-y", "quiet"], PlotCommand.Run),
        new("quantize", "write a copy of a model with 8- or 4-bit block-quantised weights", QuantizeCommand.Help, ["quiet", "force"], QuantizeCommand.Run),
        new("lora", "train a LoRA adapter on a frozen base, describe adapters, merge one into its base", LoraCommand.FullHelp, [], _ => 2, LoraCommand.Run),
        new("inspect", "list a checkpoint's (or any safetensors file's) tensors and metadata", InspectCommand.Help, [], InspectCommand.Run),
        new("doctor", "this machine, this binary's instruction sets and speed, and a self-check of every kernel", DoctorCommand.Help, ["no-measure"], DoctorCommand.Run),
    ];

    public static string Usage => $"""
        edge: train and run small language models on the CPU.

        Usage: edge COMMAND [options]      (edge COMMAND --help, or edge help COMMAND, for its options)

        Commands:
        {string.Join("\n", All.Select(c => $"  {c.Name,-10} {c.Summary}"))}

        On a terminal, long jobs show a progress bar with rate and ETA on stderr, 'edge train' a live loss chart
        (--no-chart: the plain log only), and errors are red; --quiet turns the bar off, NO_COLOR=1 the colour.
        Redirected output is always plain text.

        Exit codes:
          0    done
          1    bad input: a missing, unreadable or malformed file, data that cannot be used
          2    bad command line: unknown command or option, a missing or out-of-range value
          3    internal error (EDGE_DEBUG=1 prints it in full)
          130  a training run stopped by Ctrl-C (after saving its resumable checkpoint)

        Examples:
          edge train char-mlp --steps 2000
          edge generate --model models/char-mlp/model.safetensors --tokens 300
          edge lora train --base models/baby-gpt/model.safetensors --data ../shared/data/names.txt --out adapters/names
        """;

    public static int Run(string[] argv)
    {
        if (argv.Length == 0 || argv[0] is "--help" or "-h" || (argv[0] == "help" && argv.Length == 1))
        {
            Console.WriteLine(Terminal.Help(Usage, Terminal.OutColour));
            return argv.Length == 0 ? 2 : 0;
        }
        if (argv[0] == "help")
        {
            var topic = Find(argv[1]);
            if (argv.Length > 2) throw new UsageException($"unexpected argument '{argv[2]}' for 'edge help' (edge help COMMAND)");
            Console.WriteLine(Terminal.Help(topic.Help, Terminal.OutColour));
            return 0;
        }
        var command = Find(argv[0]);
        if (command.Dispatch is { } dispatch) return dispatch(argv[1..]);
        return command.Run(Args.Parse(command.Name, argv.AsSpan(1), command.Flags, Args.OptionsIn(command.Help)));
    }

    static Command Find(string name) => All.FirstOrDefault(c => c.Name == name)
        ?? throw new UsageException($"unknown command '{name}'{Args.Suggest(name, All.Select(c => c.Name), "")} (commands: {string.Join(", ", All.Select(c => c.Name))}; see 'edge --help')");

    /// <summary>Prints a command's help and returns true when --help or -h was given.</summary>
    public static bool ShowHelp(Args args, string help)
    {
        if (!args.Help) return false;
        Console.WriteLine(Terminal.Help(help, Terminal.OutColour));
        return true;
    }
}
