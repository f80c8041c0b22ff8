using System.Diagnostics;
using System.Text.Json.Nodes;
using Edge.Files;
using Edge.Formats;
using Edge.Lora;
using Edge.Models;
using Edge.Tests.Files;
using Edge.Tests.Support;
using Xunit;
using static Edge.Tests.Cli.EdgeProcess;

namespace Edge.Tests.Cli;

/// <summary>
/// The classes of hostile input and misuse an outside tester found, each with the one-line error it must give and the
/// files it must leave alone: outputs that are devices, FIFOs or the inputs; run folders that hold an earlier run or
/// have another writer; inputs that are not regular files; a crash between a folder's files; finite weights whose
/// products overflow; checkpoints and adapters that do not match what they claim; out-of-range options.
/// </summary>
public sealed class HostileCliTests : IDisposable
{
    readonly TempDir _dir = new();
    string Dir => _dir.Path;

    public void Dispose() => _dir.Dispose();

    /// <summary>A baby GPT checkpoint with small random weights (no training: instant), on a vocabulary of letters and space.</summary>
    string SaveBabyGpt(string name = "model.safetensors", Action<LanguageModel>? edit = null)
    {
        var tokenizer = Edge.Text.CharTokenizer.FromText("the king and queen of a sea\n");
        using var model = ModelCatalog.Find("baby-gpt")!.Create(tokenizer.VocabSize);
        model.Initialize(3);
        edit?.Invoke(model);
        string path = Path.Combine(Dir, name);
        Checkpoint.Save(path, model, tokenizer);
        return path;
    }

    [Fact]
    public void Outputs_ThatAreTheInput_OrDevicesOrFifos_AreRefused_AndLeftIntact()
    {
        string model = SaveBabyGpt();
        byte[] before = File.ReadAllBytes(model);
        AssertOneLineError(Run(Dir, "quantize", "--in", "model.safetensors", "--out", "model.safetensors", "--type", "q8"), 1, "is the input");
        AssertOneLineError(Run(Dir, "quantize", "--in", "model.safetensors", "--out", "./model.safetensors", "--type", "q8"), 1, "is the input");
        AssertOneLineError(Run(Dir, "lora", "merge", "--base", "model.safetensors", "--adapter", "nowhere", "--out", "model.safetensors"), 1, "is the input");
        Assert.Equal(before, File.ReadAllBytes(model));

        AssertOneLineError(Run(Dir, "quantize", "--in", "model.safetensors", "--out", "/dev/null", "--type", "q8"), 1, "is a device");
        Assert.Equal(FileKind.Device, FileKinds.Of("/dev/null"));
        SafeFileTests.MakeFifo(Path.Combine(Dir, "pipe"));
        AssertOneLineError(Run(Dir, "quantize", "--in", "model.safetensors", "--out", "pipe", "--type", "q8"), 1, "is a named pipe");
        Assert.Equal(FileKind.Fifo, FileKinds.Of(Path.Combine(Dir, "pipe")));
        SafeFileTests.MakeFifo(Path.Combine(Dir, "pipe.svg"));
        AssertOneLineError(Run(Dir, "plot", "attention", "--model", "model.safetensors", "--prompt", "the", "--out", "pipe.svg"), 1, "is a named pipe");
    }

    [Fact]
    public void Train_RefusesDataInsideItsOutput_AnEarlierRun_AndASecondWriter()
    {
        Directory.CreateDirectory(Path.Combine(Dir, "run"));
        File.WriteAllText(Path.Combine(Dir, "run", "data.txt"), string.Concat(Enumerable.Repeat("the king and the queen\n", 400)));
        string[] quick = ["--steps", "2", "--eval-interval", "2", "--eval-iters", "1", "--sample", "0", "--quiet"];
        AssertOneLineError(Run(Dir, ["train", "char-mlp", "--data", "run/data.txt", "--out", "run", .. quick]), 1, "holds the input run/data.txt");

        File.Move(Path.Combine(Dir, "run", "data.txt"), Path.Combine(Dir, "data.txt"));
        var first = Run(Dir, ["train", "char-mlp", "--data", "data.txt", "--out", "run", .. quick]);
        Assert.True(first.ExitCode == 0, first.ToString());
        byte[] model = File.ReadAllBytes(Path.Combine(Dir, "run", "model.safetensors"));
        AssertOneLineError(Run(Dir, ["train", "char-mlp", "--data", "data.txt", "--out", "run", "--seed", "9", .. quick]), 1,
            "holds the output of an earlier run (model.safetensors, last.safetensors, log.csv); pass --force");
        Assert.Equal(model, File.ReadAllBytes(Path.Combine(Dir, "run", "model.safetensors")));
        var forced = Run(Dir, ["train", "char-mlp", "--data", "data.txt", "--out", "run", "--seed", "9", "--force", .. quick]);
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.NotEqual(model, File.ReadAllBytes(Path.Combine(Dir, "run", "model.safetensors")));

        // A second writer while the first runs: refused, and the first run's files are its own.
        using var running = Start(Dir, ["train", "char-mlp", "--data", "data.txt", "--out", "long", "--steps", "100000000", "--eval-interval", "1000000", "--quiet"]);
        try
        {
            var clock = Stopwatch.StartNew();
            Result second;
            do
            {
                Thread.Sleep(200);
                second = Run(Dir, ["train", "char-mlp", "--data", "data.txt", "--out", "long", "--force", .. quick]);
            }
            while (!second.Stderr.Contains("another edge process") && !running.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60));
            AssertOneLineError(second, 1, "--out long: another edge process is writing there");
        }
        finally
        {
            running.Kill();
            running.WaitForExit();
        }
    }

    [Fact]
    public void Inputs_ThatAreFifosOrFolders_AreRefusedAtOnce()
    {
        SaveBabyGpt();
        SafeFileTests.MakeFifo(Path.Combine(Dir, "fifo.safetensors"));
        AssertOneLineError(Run(Dir, "generate", "--model", "fifo.safetensors", "--tokens", "3"), 1, "is a named pipe (FIFO), not a regular file");

        // A Hugging Face folder whose config.json is a FIFO, then a folder named config.json.
        Directory.CreateDirectory(Path.Combine(Dir, "hf"));
        SafeFileTests.MakeFifo(Path.Combine(Dir, "hf", "config.json"));
        AssertOneLineError(Run(Dir, "generate", "--model", "hf", "--tokens", "3"), 1, "config.json: is a named pipe (FIFO)");
        Directory.CreateDirectory(Path.Combine(Dir, "hf2", "config.json"));
        AssertOneLineError(Run(Dir, "generate", "--model", "hf2", "--tokens", "3"), 1, "config.json: is a folder, not a regular file");

        // An adapter folder whose adapter_config.json is a FIFO.
        Directory.CreateDirectory(Path.Combine(Dir, "ad"));
        SafeFileTests.MakeFifo(Path.Combine(Dir, "ad", "adapter_config.json"));
        AssertOneLineError(Run(Dir, "generate", "--model", "model.safetensors", "--adapter", "ad", "--tokens", "3"), 1, "adapter_config.json: is a named pipe");
        AssertOneLineError(Run(Dir, "lora", "info", "ad"), 1, "adapter_config.json: is a named pipe");
    }

    [Fact]
    public void FiniteWeights_ThatOverflow_StopEvalAndGenerate_WithExitOne()
    {
        SaveBabyGpt("huge.safetensors", model =>
        {
            var gain = model.Layout.Find("ln_f.weight")!;
            model.Weights.Slice(gain.Offset, gain.Length).Fill(3e38f);
        });
        File.WriteAllText(Path.Combine(Dir, "text.txt"), string.Concat(Enumerable.Repeat("the king and the queen of a sea\n", 300)));
        AssertOneLineError(Run(Dir, "eval", "--model", "huge.safetensors", "--data", "text.txt", "--quiet"), 1, "logits are not finite");
        AssertOneLineError(Run(Dir, "generate", "--model", "huge.safetensors", "--tokens", "5"), 1, "logits after");
    }

    [Fact]
    public void Checkpoints_WithTensorsTheModelHasNoPlaceFor_AreRefused()
    {
        string path = SaveBabyGpt();
        using (var file = SafeTensorsFile.Open(path))
        {
            var tensors = file.Tensors.Select(t => (t.Name, t.DType, t.Shape)).ToList();
            var data = file.Tensors.Select(t => file.GetBytes(t).ToArray()).ToList();
            tensors.Add(("h.9.ln_1.weight", DType.F32, [128]));
            data.Add(new byte[512]);
            SafeTensorsWriter.Write(Path.Combine(Dir, "extra.safetensors"), tensors, i => data[i], file.Metadata);
        }
        AssertOneLineError(Run(Dir, "generate", "--model", "extra.safetensors", "--tokens", "3"), 1, "holds 1 tensor baby-gpt has no place for (h.9.ln_1.weight)");
    }

    [Fact]
    public void Adapters_WhoseConfigDisagreesWithTheirTensors_OrScalesOverflow_AreRefused()
    {
        string model = SaveBabyGpt();
        using (var loaded = Checkpoint.Load(model, ModelCatalog.All).Model)
        using (var adapter = LoraAdapter.Create(loaded.Layout, new LoraConfig(4, 8, 0, ["attn.c_attn"]), 1))
            AdapterFile.Save(Path.Combine(Dir, "ad"), adapter);
        string config = Path.Combine(Dir, "ad", AdapterFile.ConfigName);
        var json = JsonNode.Parse(File.ReadAllText(config))!;
        Assert.Equal(0, Run(Dir, "generate", "--model", "model.safetensors", "--adapter", "ad", "--tokens", "3").ExitCode);

        AssertOneLineError(Run(Dir, "generate", "--model", "model.safetensors", "--adapter", "ad:1e30", "--tokens", "3"), 2, "must be a number from -1000 to 1000");
        AssertOneLineError(Run(Dir, "generate", "--model", "model.safetensors", "--adapter", "ad:inf", "--tokens", "3"), 2, "the scale 'inf' in 'ad:inf' is not a number");

        json["target_modules"] = new JsonArray("c_attn", "c_fc");
        File.WriteAllText(config, json.ToJsonString());
        AssertOneLineError(Run(Dir, "generate", "--model", "model.safetensors", "--adapter", "ad", "--tokens", "3"), 1,
            "names target_modules attn.c_attn, mlp.c_fc, but the tensors adapt attn.c_attn");
        AssertOneLineError(Run(Dir, "lora", "info", "ad"), 1, "but the tensors adapt attn.c_attn");
        json["target_modules"] = new JsonArray();
        File.WriteAllText(config, json.ToJsonString());
        AssertOneLineError(Run(Dir, "lora", "info", "ad"), 1, "'target_modules' is missing or empty");

        json["target_modules"] = new JsonArray("c_attn");
        json["lora_alpha"] = 1e38;
        File.WriteAllText(config, json.ToJsonString());
        AssertOneLineError(Run(Dir, "generate", "--model", "model.safetensors", "--adapter", "ad", "--tokens", "3"), 1, "beyond 10,000");
        AssertOneLineError(Run(Dir, "lora", "merge", "--base", "model.safetensors", "--adapter", "ad", "--out", "merged.safetensors"), 1, "beyond 10,000");
        Assert.False(File.Exists(Path.Combine(Dir, "merged.safetensors")));
    }

    [Fact]
    public void AKillBetweenAFoldersFiles_LeavesTheOldSetWhole_AndTheNextRunCleansUp()
    {
        File.WriteAllText(Path.Combine(Dir, "a.txt"), string.Concat(Enumerable.Repeat("the king and the queen of a sea\n", 50)));
        File.WriteAllText(Path.Combine(Dir, "b.txt"), string.Concat(Enumerable.Repeat("pirates sail the seven seas, arr\n", 50)));
        Assert.Equal(0, Run(Dir, "tokenize", "--train", "270", "--data", "a.txt", "--out", "tok", "--quiet").ExitCode);
        string vocab = Path.Combine(Dir, "tok", "vocab.json"), merges = Path.Combine(Dir, "tok", "merges.txt");
        (byte[] Vocab, byte[] Merges) old = (File.ReadAllBytes(vocab), File.ReadAllBytes(merges));

        AssertOneLineError(Run(Dir, "tokenize", "--train", "270", "--data", "b.txt", "--out", "tok", "--quiet"), 1, "pass --force");
        AssertOneLineError(Run(Dir, "tokenize", "--train", "270", "--data", "tok/../a.txt", "--out", ".", "--quiet", "--force"), 1, "holds the input");

        // Killed (SIGKILL) once the new vocabulary and merges are written, just before they take the old ones' place.
        var killed = RunWithEnvironment(Dir, [("EDGE_TEST_KILL_BEFORE_COMMIT", "1")], null, "tokenize", "--train", "270", "--data", "b.txt", "--out", "tok", "--quiet", "--force");
        Assert.Equal(137, killed.ExitCode);
        Assert.Equal(old.Vocab, File.ReadAllBytes(vocab));
        Assert.Equal(old.Merges, File.ReadAllBytes(merges));
        Assert.Single(Directory.GetDirectories(Dir, ".tok.tmp-*"));   // the dead process's new set, under its temporary name

        var next = Run(Dir, "tokenize", "--train", "270", "--data", "b.txt", "--out", "tok", "--quiet", "--force");
        Assert.True(next.ExitCode == 0, next.ToString());
        Assert.NotEqual(old.Merges, File.ReadAllBytes(merges));
        Assert.Empty(Directory.GetDirectories(Dir, ".tok.tmp-*"));   // cleaned: its process is gone
    }

    [Fact]
    public void OptionsAndTexts_OutOfRange_AreOneClearLine()
    {
        SaveBabyGpt();
        AssertOneLineError(Run(Dir, "plot", "attention", "--model", "model.safetensors", "--prompt", "the", "--layer", "99", "--out", "a.svg"), 2, "--layer: 99 is out of range");
        File.WriteAllText(Path.Combine(Dir, "pairs.jsonl"), "{\"question\": \"a\\ud800b\", \"answer\": \"the\"}\n");
        AssertOneLineError(Run(Dir, "lora", "train", "--base", "model.safetensors", "--data", "pairs.jsonl", "--out", "ad", "--quiet"), 1, "unpaired UTF-16 surrogate");
        Assert.False(Directory.Exists(Path.Combine(Dir, "ad")));
        File.WriteAllText(Path.Combine(Dir, "names.txt"), "anna\nbob.\ncarl\n");
        AssertOneLineError(Run(Dir, "train", "names-mlp", "--data", "names.txt", "--steps", "1", "--out", "n"), 1, "--layout text");
        Assert.False(Directory.Exists(Path.Combine(Dir, "n")));
    }
}
