using System.Text.RegularExpressions;
using Edge.Cli;
using Edge.Tests.Support;
using Xunit;

using static Edge.Tests.Cli.EdgeProcess;

namespace Edge.Tests.Cli;

/// <summary>
/// Every command's help (complete, with an example, reachable three ways) and its errors (one line, no stack
/// trace, the documented exit code: 1 bad input, 2 bad command line).
/// </summary>
public class HelpAndErrorTests
{
    public static TheoryData<string> CommandNames => [.. Commands.All.Select(c => c.Name)];


    /// <summary>The options a command's source reads (args.Int("steps", ...), args.Threads() -> --threads, ...).</summary>
    static SortedSet<string> OptionsRead(string command)
    {
        var cli = Path.Combine(TestData.RepoRoot, "src", "Hosting");
        var files = Directory.GetFiles(Path.Combine(cli, "Commands"), "*.cs")
            .Where(f => string.Equals(Path.GetFileNameWithoutExtension(f), command + "Command", StringComparison.OrdinalIgnoreCase)).ToList();
        if (command is "generate" or "chat") files.Add(Path.Combine(cli, "SamplingOptions.cs"));
        var options = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var source = File.ReadAllText(file);
            foreach (Match m in Regex.Matches(source, @"args\.(?:String|Strings|Text|Int|ULong|Double|Flag|Choice)\(\s*""([a-z0-9-]+)"""))
                options.Add("--" + m.Groups[1].Value);
            if (source.Contains("args.Threads()")) options.Add("--threads");
        }
        return options;
    }

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void Help_NamesTheUsage_EveryOptionTheCommandReads_AndAnExample(string command)
    {
        var help = Commands.All.Single(c => c.Name == command).Help;
        Assert.Contains($"Usage: edge {command}", help);
        Assert.Matches(@"Examples?:\n  edge " + command, help);
        var read = OptionsRead(command);
        if (command != "inspect") Assert.NotEmpty(read); // the scan found the command's source
        Assert.All(read, option => Assert.Matches(Regex.Escape(option) + @"\b", help));
        Assert.All(help.Split('\n'), line => Assert.True(line.Length <= 120, $"help line too long: {line}"));
    }

    [Fact]
    public void EveryFlagInTheCommandTable_IsReadByItsCommand()
    {
        foreach (var command in Commands.All)
            Assert.All(command.Flags, flag => Assert.Contains("--" + flag, OptionsRead(command.Name)));
    }

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void Help_ExitsZero_WithHelpDashHAndHelpCommand_AllTheSame(string command)
    {
        using var dir = new TempDir();
        var help = EdgeProcess.Run(dir.Path, command, "--help");
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Equal("", help.Stderr);
        Assert.Equal(Commands.All.Single(c => c.Name == command).Help + "\n", help.Stdout); // plain text: not a terminal
        Assert.Equal(help.Stdout, EdgeProcess.Run(dir.Path, command, "-h").Stdout);
        var viaHelp = EdgeProcess.Run(dir.Path, "help", command);
        Assert.True(viaHelp.ExitCode == 0, viaHelp.ToString());
        Assert.Equal(help.Stdout, viaHelp.Stdout);
    }

    [Fact]
    public void TopLevelHelp_ListsEveryCommand_TheExitCodes_AndExitsZero()
    {
        using var dir = new TempDir();
        var r = EdgeProcess.Run(dir.Path, "help");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(r.Stdout, EdgeProcess.Run(dir.Path, "--help").Stdout);
        foreach (var c in Commands.All) Assert.Matches($@"\n  {c.Name} +\S", r.Stdout);
        foreach (var code in new[] { "0", "1", "2", "3", "130" }) Assert.Matches($@"\n  {code} +\S", r.Stdout);
        Assert.Contains("NO_COLOR", r.Stdout);
        AssertOneLineError(EdgeProcess.Run(dir.Path, "help", "fly"), 2, "unknown command 'fly'");
    }

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void UnknownOption_IsAUsageError_ForEveryCommand(string command)
    {
        using var dir = new TempDir();
        var r = EdgeProcess.Run(dir.Path, command, "--frobnicate", "7");
        AssertOneLineError(r, 2, "");
    }

    // A valid command line but for one unknown option: the option is named (files are not read before that).
    [Theory]
    [InlineData("unknown option --frobnicate for 'edge models'", "models", "--frobnicate", "1")]
    [InlineData("unknown option --frobnicate for 'edge train'", "train", "char-mlp", "--frobnicate", "1")]
    [InlineData("unknown option --frobnicate for 'edge generate'", "generate", "--model", "m.safetensors", "--frobnicate", "1")]
    [InlineData("unknown option --frobnicate for 'edge chat'", "chat", "--model", "m.safetensors", "--frobnicate", "1")]
    [InlineData("unknown option --frobnicate for 'edge eval'", "eval", "--model", "m.safetensors", "--data", "d.txt", "--frobnicate", "1")]
    [InlineData("unknown option --frobnicate for 'edge bench'", "bench", "train", "char-mlp", "--frobnicate", "1")]
    [InlineData("unknown option --frobnicate for 'edge tokenize'", "tokenize", "--tokenizer", "t", "--text", "hi", "--frobnicate", "1")]
    [InlineData("unknown option --frobnicate for 'edge plot'", "plot", "log.csv", "--out", "a.svg", "--frobnicate", "1")]
    [InlineData("unknown option --frobnicate for 'edge inspect'", "inspect", "m.safetensors", "--frobnicate", "1")]
    [InlineData("unknown option --frobnicate for 'edge quantize'", "quantize", "--in", "m", "--out", "q", "--type", "q8", "--frobnicate", "1")]
    [InlineData("unknown option --frobnicate for 'edge lora train'", "lora", "train", "--base", "m", "--data", "d", "--frobnicate", "1")]
    [InlineData("unknown lora command 'fly'", "lora", "fly")]
    [InlineData("unexpected argument 'extra' for 'edge models'", "models", "extra")]
    [InlineData("option --steps: expected an integer, got 'many'", "train", "char-mlp", "--steps", "many")]
    [InlineData("option --out needs a value", "train", "char-mlp", "--out")]
    [InlineData("option --layout: expected one of text, lines, got 'poem'", "train", "char-mlp", "--layout", "poem")]
    [InlineData("option --threads: 0 is out of range", "eval", "--model", "m", "--data", "d", "--threads", "0")]
    [InlineData("unknown benchmark 'fly'", "bench", "fly", "char-mlp")]
    [InlineData("option --out: 'a.jpg' must end in .svg or .png", "plot", "log.csv", "--out", "a.jpg")]
    public void BadOption_IsOneLine_NamingIt_WithExitCode2(string message, params string[] args)
    {
        using var dir = new TempDir();
        AssertOneLineError(EdgeProcess.Run(dir.Path, args), 2, message);
    }

    [Theory]
    [InlineData("which model?", "train")]
    [InlineData("--model FILE is required", "generate")]
    [InlineData("--model FILE is required", "chat")]
    [InlineData("--model FILE is required", "eval", "--data", "d.txt")]
    [InlineData("--data FILE is required", "eval", "--model", "m.safetensors")]
    [InlineData("usage: edge bench train MODEL", "bench")]
    [InlineData("usage: edge bench train MODEL", "bench", "train")]
    [InlineData("--tokenizer PATH is required", "tokenize", "--text", "hi")]
    [InlineData("--train needs --data FILE", "tokenize", "--train", "300", "--out", "bpe")]
    [InlineData("--out FILE.svg|FILE.png is required", "plot", "log.csv")]
    [InlineData("give one or more log.csv files", "plot", "--out", "a.svg")]
    [InlineData("--prompt TEXT is required", "plot", "attention", "--model", "m.safetensors", "--out", "a.svg")]
    [InlineData("give a checkpoint or safetensors file", "inspect")]
    [InlineData("--in MODEL is required", "quantize", "--out", "q.safetensors", "--type", "q8")]
    [InlineData("--out FILE is required", "quantize", "--in", "m.safetensors", "--type", "q8")]
    [InlineData("--base MODEL is required", "lora", "train", "--data", "d.txt")]
    [InlineData("--data FILE is required", "lora", "train", "--base", "m.safetensors")]
    [InlineData("give an adapter folder", "lora", "info")]
    public void MissingRequiredArgument_IsOneLine_WithExitCode2(string message, params string[] args)
    {
        using var dir = new TempDir();
        AssertOneLineError(EdgeProcess.Run(dir.Path, args), 2, message);
    }

    [Theory]
    [InlineData("missing.txt: file not found", "train", "char-mlp", "--data", "missing.txt")]
    [InlineData("missing.safetensors: file not found", "generate", "--model", "missing.safetensors")]
    [InlineData("missing.safetensors: file not found", "chat", "--model", "missing.safetensors")]
    [InlineData("missing.safetensors: file not found", "eval", "--model", "missing.safetensors", "--data", "d.txt")]
    [InlineData("missing.safetensors: file not found", "bench", "generate", "missing.safetensors")]
    [InlineData("missing.txt: file not found", "bench", "tokenize", "gpt2", "--data", "missing.txt")]
    [InlineData("missing: file not found", "tokenize", "--tokenizer", "missing", "--text", "hi")]
    [InlineData("missing.txt: file not found", "tokenize", "--train", "300", "--data", "missing.txt", "--out", "bpe")]
    [InlineData("missing.csv: file not found", "plot", "missing.csv", "--out", "a.svg")]
    [InlineData("missing.safetensors: file not found", "plot", "embeddings", "--model", "missing.safetensors", "--out", "a.png")]
    [InlineData("missing.safetensors: file not found", "inspect", "missing.safetensors")]
    public void MissingFile_IsOneLine_WithExitCode1_AndWritesNothing(string message, params string[] args)
    {
        using var dir = new TempDir();
        AssertOneLineError(EdgeProcess.Run(dir.Path, args), 1, message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Train_QuietAndNoChart_AreAccepted_AndRedirectedOutputIsPlain()
    {
        using var dir = new TempDir();
        var r = EdgeProcess.Run(dir.Path, "train", "char-mlp", "--steps", "4", "--eval-interval", "2", "--eval-iters", "1", "--sample", "0", "--no-chart", "--out", "a");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr); // no bar, no chart: stderr is not a terminal
        Assert.DoesNotContain("\u001b", r.Stdout);
        Assert.Equal(2, r.Stdout.Split('\n').Count(l => l.StartsWith("step ", StringComparison.Ordinal)));
        var quiet = EdgeProcess.Run(dir.Path, "train", "char-mlp", "--steps", "4", "--eval-interval", "2", "--eval-iters", "1", "--sample", "0", "--quiet", "--out", "b");
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.Equal(r.Stdout.Split('\n').Count(l => l.StartsWith("step ", StringComparison.Ordinal)),
            quiet.Stdout.Split('\n').Count(l => l.StartsWith("step ", StringComparison.Ordinal)));
    }
}
