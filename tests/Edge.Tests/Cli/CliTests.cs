using Edge.Tests.Support;
using Xunit;

using static Edge.Tests.Cli.EdgeProcess;

namespace Edge.Tests.Cli;

/// <summary>A checkpoint trained once by the real CLI on the built-in corpus, shared by the tests that read it.</summary>
public sealed class TrainedCharModel : IDisposable
{
    public TempDir Dir { get; } = new();
    public EdgeProcess.Result Train { get; }
    public string Checkpoint => Dir.File("out/model.safetensors");

    public TrainedCharModel() =>
        Train = EdgeProcess.Run(Dir.Path, "train", "char-mlp", "--steps", "40", "--eval-interval", "20", "--out", "out", "--sample", "80", "--seed", "3");

    public void Dispose() => Dir.Dispose();
}

public class CliTests(TrainedCharModel trained) : IClassFixture<TrainedCharModel>
{
    [Fact]
    public void Train_OnBuiltInCorpus_WritesCheckpointAndLog_AndPrintsASample()
    {
        var r = trained.Train;
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("built-in corpus", r.Stdout);
        Assert.Contains("step       40", r.Stdout);
        Assert.Contains("--- sample (seed 3) ---", r.Stdout);
        Assert.True(File.Exists(trained.Checkpoint));
        var log = File.ReadAllLines(trained.Dir.File("out/log.csv"));
        Assert.Equal("step,train_loss,val_loss,val_perplexity,lr,seconds", log[0]);
        Assert.Equal(3, log.Length); // header + evaluations at steps 20 and 40
        // No temporary files left behind; the run's lock file stays (see OutputFolder).
        Assert.Equal([Edge.Files.OutputFolder.LockName], Directory.GetFiles(trained.Dir.File("out"), ".*").Select(Path.GetFileName));
    }

    [Fact]
    public void Generate_SameSeed_SameText_DifferentSeed_DifferentText()
    {
        var a = EdgeProcess.Run(trained.Dir.Path, "generate", "--model", trained.Checkpoint, "--tokens", "120", "--seed", "5", "--prompt", "KEEPER:");
        var b = EdgeProcess.Run(trained.Dir.Path, "generate", "--model", trained.Checkpoint, "--tokens", "120", "--seed", "5", "--prompt", "KEEPER:");
        var c = EdgeProcess.Run(trained.Dir.Path, "generate", "--model", trained.Checkpoint, "--tokens", "120", "--seed", "6", "--prompt", "KEEPER:");
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.StartsWith("KEEPER:", a.Stdout);
        Assert.Equal(a.Stdout, b.Stdout);
        Assert.NotEqual(a.Stdout, c.Stdout);
        Assert.Equal("KEEPER:".Length + 120 + 1, a.Stdout.Length); // prompt, 120 ASCII characters, final newline
    }

    [Fact]
    public void Generate_Greedy_IsDeterministicWithoutASeed()
    {
        var a = EdgeProcess.Run(trained.Dir.Path, "generate", "--model", trained.Checkpoint, "--tokens", "50", "--temperature", "0", "--seed", "1");
        var b = EdgeProcess.Run(trained.Dir.Path, "generate", "--model", trained.Checkpoint, "--tokens", "50", "--temperature", "0", "--seed", "2");
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.Equal(a.Stdout, b.Stdout);
    }

    [Fact]
    public void Eval_PrintsLossAndPerplexity()
    {
        var data = trained.Dir.File("eval.txt");
        File.WriteAllText(data, "KEEPER:\nThe lamp is lit and the sea is loud tonight, and the bread is in.\n");
        var r = EdgeProcess.Run(trained.Dir.Path, "eval", "--model", trained.Checkpoint, "--data", data);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"eval\.txt: \d+ examples  loss \d+\.\d{4}  perplexity \d+\.\d{2}", r.Stdout);
    }

    [Fact]
    public void Eval_RandomBatches_PrintsTheMeanAndOneBatchsSpread()
    {
        var data = trained.Dir.File("eval-random.txt");
        File.WriteAllText(data, string.Concat(Enumerable.Repeat("KEEPER:\nThe lamp is lit and the sea is loud tonight, and the bread is in.\n", 4)));
        var r = EdgeProcess.Run(trained.Dir.Path, "eval", "--model", trained.Checkpoint, "--data", data, "--random-batches", "30", "--batch", "3", "--seed", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"eval-random\.txt: 30 random batches of 3  loss \d+\.\d{4}  perplexity \d+\.\d{2}  sd of one batch \d+\.\d{4} ", r.Stdout);
        AssertOneLineError(EdgeProcess.Run(trained.Dir.Path, "eval", "--model", trained.Checkpoint, "--data", data, "--seed", "2"), 2, "--batch and --seed go with --random-batches N");
    }

    [Fact]
    public void Generate_PromptOutsideVocabulary_IsOneClearLine()
    {
        var r = EdgeProcess.Run(trained.Dir.Path, "generate", "--model", trained.Checkpoint, "--prompt", "snow \u2603");
        AssertOneLineError(r, 1, "not in the model's vocabulary");
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void Generate_FileThatIsNotACheckpoint_IsRefused()
    {
        var notModel = trained.Dir.File("notes.txt");
        File.WriteAllText(notModel, "just some notes, not weights");
        AssertOneLineError(EdgeProcess.Run(trained.Dir.Path, "generate", "--model", notModel), 1, "not a safetensors file");
        AssertOneLineError(EdgeProcess.Run(trained.Dir.Path, "generate", "--model", trained.Dir.File("missing.safetensors")), 1, "not found");
    }

    [Theory]
    [InlineData("--temperature", "-1", "out of range")]
    [InlineData("--tokens", "lots", "expected an integer")]
    [InlineData("--top-k", "-3", "out of range")]
    [InlineData("--colour", "red", "unknown option --colour")]
    public void Generate_BadOption_IsAUsageError(string option, string value, string message)
    {
        var r = EdgeProcess.Run(trained.Dir.Path, "generate", "--model", trained.Checkpoint, option, value);
        AssertOneLineError(r, 2, message);
    }

    [Fact]
    public void Train_UnknownModel_ListsTheKnownOnes()
    {
        using var dir = new TempDir();
        var r = EdgeProcess.Run(dir.Path, "train", "gpt-9");
        AssertOneLineError(r, 2, "unknown model 'gpt-9' (models: bigram, bigram-counts");
    }

    [Theory]
    [InlineData("missing", "file not found")]
    [InlineData("empty", "empty")]
    [InlineData("binary", "NUL")]
    [InlineData("short", "the data is too small")]
    [InlineData("marker", "which line data reserves to mark where each line starts and ends")]
    public void Train_BadData_IsRefused_AndWritesNothing(string kind, string message)
    {
        using var dir = new TempDir();
        var data = dir.File("data.txt");
        if (kind == "empty") File.WriteAllText(data, "");
        if (kind == "binary") File.WriteAllBytes(data, [0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00, 0x00]);
        if (kind == "short") File.WriteAllText(data, "a few words\n");
        if (kind == "marker") File.WriteAllText(data, string.Concat(Enumerable.Repeat("emma\nolivia\nava.\n", 10)));
        var r = EdgeProcess.Run(dir.Path, "train", kind == "marker" ? "names-mlp" : "char-mlp", "--data", data, "--out", "out");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains(message, r.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith($"edge: {data}: ", r.Stderr);   // the message names the file
        Assert.Single(r.ErrorLines);
        Assert.False(Directory.Exists(dir.File("out")), "no output folder for a run that never started");
    }

    [Fact]
    public void NamesMlp_TrainsOnLines_AndGeneratesOneNamePerLine()
    {
        using var dir = new TempDir();
        var names = new[] { "emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper", "evelyn", "abigail" };
        File.WriteAllLines(dir.File("names.txt"), Enumerable.Range(0, 30).SelectMany(_ => names));
        var train = EdgeProcess.Run(dir.Path, "train", "names-mlp", "--data", "names.txt", "--steps", "300", "--out", "out", "--sample", "0");
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("lines", train.Stdout);
        var r = EdgeProcess.Run(dir.Path, "generate", "--model", "out/model.safetensors", "--count", "7", "--seed", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(7, lines.Length);
        Assert.All(lines, l => Assert.Matches("^[a-z]+$", l)); // the '.' marker ends a name and is never printed
    }

    [Fact]
    public void Resume_ContinuesExactlyAsIfNeverStopped()
    {
        using var dir = new TempDir();
        string[] Common(string outDir, int steps) => ["train", "char-mlp", "--steps", steps.ToString(), "--eval-interval", "10", "--eval-iters", "4", "--out", outDir, "--sample", "0", "--seed", "4"];
        var whole = EdgeProcess.Run(dir.Path, Common("whole", 30));
        var part = EdgeProcess.Run(dir.Path, Common("split", 20));
        var rest = EdgeProcess.Run(dir.Path, [.. Common("split", 30), "--resume"]);
        Assert.True(whole.ExitCode == 0 && part.ExitCode == 0 && rest.ExitCode == 0, whole + "\n" + part + "\n" + rest);
        Assert.Contains("resuming at step 20", rest.Stdout);
        // step, train loss, val loss, perplexity, lr: equal; only the seconds differ.
        static string[] Curve(string log) => File.ReadAllLines(log).Select(l => string.Join(',', l.Split(',').Take(5))).ToArray();
        Assert.Equal(Curve(dir.File("whole/log.csv")), Curve(dir.File("split/log.csv")));
        Assert.Equal(4, File.ReadAllLines(dir.File("split/log.csv")).Length);
    }

    [Fact]
    public async Task CtrlC_DuringTraining_SavesAResumableCheckpoint_AndExits130()
    {
        using var dir = new TempDir();
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            WorkingDirectory = dir.Path, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "edge.dll"), "train", "char-mlp", "--steps", "1000000",
                     "--eval-interval", "20", "--eval-iters", "2", "--out", "run", "--sample", "0" })
            start.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.StartsWith("step", StringComparison.Ordinal)) { }
        Assert.NotNull(line); // the first evaluation happened: training is under way
        using (var kill = System.Diagnostics.Process.Start("kill", ["-INT", process.Id.ToString()])) kill.WaitForExit();
        var rest = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "edge did not stop after Ctrl-C");
        string errors = await stderr;
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}\n{rest}\n{errors}");
        var match = System.Text.RegularExpressions.Regex.Match(rest, @"interrupted at step ([\d,]+): saved run/last\.safetensors");
        Assert.True(match.Success, rest);
        int step = int.Parse(match.Groups[1].Value.Replace(",", ""));

        var resumed = EdgeProcess.Run(dir.Path, "train", "char-mlp", "--steps", (step + 10).ToString(), "--eval-interval", "20",
            "--eval-iters", "2", "--out", "run", "--sample", "0", "--resume");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains($"resuming at step {step:N0}", resumed.Stdout);
    }

    [Fact]
    public void Resume_WithNothingToResume_IsOneClearLine()
    {
        using var dir = new TempDir();
        AssertOneLineError(EdgeProcess.Run(dir.Path, "train", "char-mlp", "--resume", "--out", "nothing"), 1, "nothing to resume");
    }

    [Fact]
    public void Models_ListsEveryModelWithItsParameterCount()
    {
        using var dir = new TempDir();
        var r = EdgeProcess.Run(dir.Path, "models", "--vocab", "27");
        Assert.True(r.ExitCode == 0, r.ToString());
        // makemore part 2's MLP has 11,897 parameters with 27 characters.
        Assert.Matches(@"names-mlp\s+11,897\s+3\s+lines", r.Stdout);
        foreach (var name in new[] { "bigram ", "bigram-counts", "char-mlp" }) Assert.Contains(name, r.Stdout);
    }

    [Fact]
    public void Generate_StopSequence_EndsTheTextBeforeIt()
    {
        var free = EdgeProcess.Run(trained.Dir.Path, "generate", "--model", trained.Checkpoint, "--tokens", "300", "--seed", "7");
        Assert.True(free.ExitCode == 0, free.ToString());
        // Stop at the first "e" the model writes: everything before it, and nothing after.
        int at = free.Stdout.IndexOf('e');
        Assert.True(at > 0);
        var stopped = EdgeProcess.Run(trained.Dir.Path, "generate", "--model", trained.Checkpoint, "--tokens", "300", "--seed", "7", "--stop", "e");
        Assert.Equal(free.Stdout[..at] + "\n", stopped.Stdout);
    }

    [Fact]
    public void Chat_ReadsPipedInput_CommandsAndPrompts()
    {
        var input = "KEEPER:\ntemp 0\ntopk 3\ntemp hot\nBAKER:\nhelp\nclear\nquit\nnever reached\n";
        var r = EdgeProcess.RunWithInput(trained.Dir.Path, input, "chat", "--model", trained.Checkpoint, "--tokens", "20");
        Assert.True(r.ExitCode == 1, r.ToString());   // piped input with a failed line ("temp hot"): the rest runs, then exit 1
        Assert.Contains("(temp = 0)", r.Stdout);
        Assert.Contains("(topk = 3)", r.Stdout);
        Assert.Contains("commands: temp T, topk K, topp P, tokens N, adapter DIR[:SCALE], adapters, base, compare TEXT, clear, help, quit", r.Stdout);
        Assert.Contains("(conversation cleared)", r.Stdout);
        Assert.Contains("temp: expected a number", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void Chat_EndOfInput_ExitsCleanly()
    {
        var r = EdgeProcess.RunWithInput(trained.Dir.Path, "", "chat", "--model", trained.Checkpoint);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public void Tokenize_ShowsGpt2IdsAndPieces()
    {
        using var dir = new TempDir();
        var r = EdgeProcess.Run(dir.Path, "tokenize", "--tokenizer", Path.GetDirectoryName(TestData.File("gpt2/encoder.json"))!, "--text", "Hello world");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"15496\s+""Hello""", r.Stdout);
        Assert.Matches(@"995\s+"" world""", r.Stdout);
        Assert.Contains("2 tokens, 11 bytes", r.Stdout);
    }

    [Fact]
    public void Bench_Generate_ReportsJson_WithZeroAllocationPerToken()
    {
        using var dir = new TempDir();
        var r = EdgeProcess.Run(dir.Path, "bench", "generate", "names-mlp", "--tokens", "50", "--vocab", "27", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("\"benchmark\":\"generate\"", r.Stdout);
        Assert.Contains("\"bytes_allocated_per_token\":0,", r.Stdout);
        Assert.Matches("\"tokens_per_second\":[0-9.]+", r.Stdout);
    }


    [Fact]
    public void Bench_Tokenize_WithNoWarmPasses_ReportsTheColdPassAndPeakMemory()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("text.txt"), string.Concat(Enumerable.Repeat("the keeper lit the lamp; ", 200)) + new string('a', 5000));
        string gpt2 = Path.GetDirectoryName(TestData.File("gpt2/encoder.json"))!;
        var r = EdgeProcess.Run(dir.Path, "bench", "tokenize", gpt2, "--data", "text.txt", "--passes", "0", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches("\"tokens\":[1-9][0-9]*,\"cold_seconds\":[0-9.]+,", r.Stdout);
        Assert.Matches("\"peak_memory_mib\":[1-9][0-9]*}", r.Stdout);
        Assert.DoesNotContain("warm_mb_per_second", r.Stdout);
        var warm = EdgeProcess.Run(dir.Path, "bench", "tokenize", gpt2, "--data", "text.txt", "--passes", "2");
        Assert.True(warm.ExitCode == 0, warm.ToString());
        Assert.Contains("median of 2 passes", warm.Stdout);
        Assert.Contains("peak memory", warm.Stdout);
    }

    [Fact]
    public void TokenizeTrain_SavesAHuggingFaceVocabulary_ThatLoadsBack()
    {
        using var dir = new TempDir();
        var words = "the keeper lit lamp and slept while baker baked bread for harbour town when storm rose over grey sea".Split(' ');
        var rng = new Rng(4);
        File.WriteAllText(dir.File("corpus.txt"), string.Join(' ', Enumerable.Range(0, 3000).Select(_ => words[rng.NextInt(words.Length)])));
        var r = EdgeProcess.Run(dir.Path, "tokenize", "--train", "300", "--data", "corpus.txt", "--out", "bpe");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("trained 300 tokens", r.Stdout);
        Assert.True(File.Exists(dir.File("bpe/vocab.json")) && File.Exists(dir.File("bpe/merges.txt")));
        var t = EdgeProcess.Run(dir.Path, "tokenize", "--tokenizer", "bpe", "--text", "the keeper");
        Assert.True(t.ExitCode == 0, t.ToString());
        Assert.Contains("10 bytes", t.Stdout);
        Assert.DoesNotContain(" 10 tokens", t.Stdout); // merges learned on the corpus shorten it
    }

    [Fact]
    public void NoCommand_PrintsUsage_AndExits2()
    {
        using var dir = new TempDir();
        var r = EdgeProcess.Run(dir.Path);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("Usage: edge COMMAND", r.Stdout);
        AssertOneLineError(EdgeProcess.Run(dir.Path, "fly"), 2, "unknown command 'fly'");
    }
}
