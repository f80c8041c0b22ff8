using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Edge.Tests.Support;
using Xunit;

using static Edge.Tests.Cli.EdgeProcess;

namespace Edge.Tests.Cli;

/// <summary>A baby GPT trained briefly by the real CLI on the built-in corpus, and an adapter trained on it by `edge lora train`.</summary>
public sealed class TrainedAdapter : IDisposable
{
    public TempDir Dir { get; } = new();
    public EdgeProcess.Result BaseTrain { get; }
    public EdgeProcess.Result LoraTrain { get; }
    public string Base => Dir.File("base/model.safetensors");
    public string Adapter => Dir.File("adapter");

    /// <summary>Lower-case words the built-in corpus's characters cover, in a rhythm the base has not seen.</summary>
    public static string Corpus(int words, int seed)
    {
        string[] vocab = ["the", "king", "and", "a", "light", "house", "sea", "to", "of", "her", "is", "old"];
        var rng = new Rng((ulong)seed);
        var sb = new StringBuilder();
        for (int i = 0; i < words; i++)
        {
            sb.Append(vocab[rng.NextInt(vocab.Length)]);
            sb.Append(i % 6 == 5 ? ".\n" : " ");
        }
        return sb.ToString();
    }

    public TrainedAdapter()
    {
        BaseTrain = EdgeProcess.Run(Dir.Path, "train", "baby-gpt", "--steps", "30", "--eval-interval", "30", "--out", "base", "--sample", "0", "--seed", "3");
        File.WriteAllText(Dir.File("words.txt"), Corpus(3000, 1));
        LoraTrain = EdgeProcess.Run(Dir.Path, "lora", "train", "--base", "base/model.safetensors", "--data", "words.txt", "--steps", "40",
            "--eval-interval", "20", "--lr", "5e-3", "--rank", "4", "--targets", "c_attn,mlp.c_fc", "--out", "adapter", "--quiet");
    }

    public void Dispose() => Dir.Dispose();
}

public class LoraCliTests(TrainedAdapter trained) : IClassFixture<TrainedAdapter>
{
    string Dir => trained.Dir.Path;

    [Fact]
    public void LoraTrain_Resumed_EqualsTheUnbrokenRun()
    {
        Assert.True(trained.BaseTrain.ExitCode == 0, trained.BaseTrain.ToString());
        // A constant rate (--min-lr = --lr): the cosine schedule spans --steps, so a 3-step run that is then continued
        // to 6 follows another schedule than one 6-step run; interrupted runs (Ctrl-C) continue on their own schedule.
        string[] common = ["lora", "train", "--base", "base/model.safetensors", "--data", "words.txt", "--eval-interval", "3", "--rank", "2",
            "--lr", "5e-3", "--min-lr", "5e-3", "--warmup", "2", "--quiet"];
        var whole = Run(Dir, [.. common, "--steps", "6", "--out", "resume-whole"]);
        Assert.True(whole.ExitCode == 0, whole.ToString());
        var first = Run(Dir, [.. common, "--steps", "3", "--out", "resume-split"]);
        Assert.True(first.ExitCode == 0, first.ToString());
        AssertOneLineError(Run(Dir, [.. common, "--steps", "6", "--out", "resume-split"]), 1, "pass --force");
        var rest = Run(Dir, [.. common, "--steps", "6", "--out", "resume-split", "--resume"]);
        Assert.True(rest.ExitCode == 0, rest.ToString());
        Assert.Contains("resuming at step 3", rest.Stdout);
        // Same batches, dropout, moments and schedule: the same adapter, bit for bit, and the same log.
        foreach (var file in new[] { "adapter_model.safetensors", "last.safetensors" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(Dir, "resume-whole", file)), File.ReadAllBytes(Path.Combine(Dir, "resume-split", file)));
        static string[] Losses(string log) => File.ReadAllLines(log).Select(l => string.Join(',', l.Split(',').Take(4))).ToArray();
        Assert.Equal(Losses(Path.Combine(Dir, "resume-whole", "log.csv")), Losses(Path.Combine(Dir, "resume-split", "log.csv")));

        File.WriteAllText(Path.Combine(Dir, "other.txt"), TrainedAdapter.Corpus(3000, 2));
        AssertOneLineError(Run(Dir, [.. common.Select(a => a == "words.txt" ? "other.txt" : a), "--steps", "9", "--out", "resume-split", "--resume"]), 1,
            "was trained on other data");
        AssertOneLineError(Run(Dir, [.. common, "--steps", "6", "--out", "resume-split", "--resume"]), 1, "already reached step 6");
    }

    [Fact]
    public void LoraTrain_WritesAPeftFolder_AndLowersTheValidationLoss()
    {
        Assert.True(trained.BaseTrain.ExitCode == 0, trained.BaseTrain.ToString());
        var r = trained.LoraTrain;
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("lora on baby-gpt", r.Stdout);
        Assert.Contains("memory-mapped read-only", r.Stdout);
        Assert.Contains("full fine-tuning would add", r.Stdout);
        Assert.Contains("warm-up 4, shortened from 20 for a 40-step run", r.Stdout);
        var m = Regex.Match(r.Stdout, @"val (\d+\.\d+) -> (\d+\.\d+)");
        Assert.True(m.Success, r.Stdout);
        double before = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), after = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.True(after < before - 0.1, r.Stdout);
        Assert.True(File.Exists(Path.Combine(trained.Adapter, "adapter_model.safetensors")));
        Assert.True(File.Exists(Path.Combine(trained.Adapter, "adapter_config.json")));
        Assert.Equal("step,train_loss,val_loss,val_perplexity,lr,seconds", File.ReadAllLines(Path.Combine(trained.Adapter, "log.csv"))[0]);
    }

    [Fact]
    public void LoraInfo_AndInspect_DescribeTheAdapter()
    {
        var r = EdgeProcess.Run(Dir, "lora", "info", "adapter");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("rank        4, alpha 16 (scaling 4)", r.Stdout);
        Assert.Contains("targets     attn.c_attn, mlp.c_fc: 8 modules", r.Stdout);
        Assert.Contains("base        baby-gpt from base/model.safetensors", r.Stdout);
        Assert.Contains("base_model.model.transformer.h.3.mlp.c_fc.lora_B.weight", r.Stdout);
        // 4 blocks x 4 x ((128 + 384) + (128 + 512))
        Assert.Contains("parameters  18,432", r.Stdout);
        var i = EdgeProcess.Run(Dir, "inspect", "adapter");
        Assert.True(i.ExitCode == 0, i.ToString());
        Assert.Contains("rank        4", i.Stdout);
    }

    [Fact]
    public void Generate_WithAdapter_DiffersFromTheBase_AndScaleZeroIsTheBase()
    {
        string[] common = ["generate", "--model", "base/model.safetensors", "--prompt", "the ", "--tokens", "40", "--temperature", "0"];
        var bare = EdgeProcess.Run(Dir, common);
        var adapted = EdgeProcess.Run(Dir, [.. common, "--adapter", "adapter"]);
        var off = EdgeProcess.Run(Dir, [.. common, "--adapter", "adapter:0"]);
        Assert.True(bare.ExitCode == 0 && adapted.ExitCode == 0 && off.ExitCode == 0, adapted.ToString());
        Assert.NotEqual(bare.Stdout, adapted.Stdout);
        Assert.Equal(bare.Stdout, off.Stdout);
    }

    [Fact]
    public void Chat_Compare_PrintsTheBaseAndTheAdaptedAnswer()
    {
        var r = EdgeProcess.RunWithInput(Dir, "compare the king\n", "chat", "--model", "base/model.safetensors", "--adapter", "adapter", "--tokens", "20", "--temperature", "0");
        Assert.True(r.ExitCode == 0, r.ToString());
        int b = r.Stdout.IndexOf("[base]\n", StringComparison.Ordinal), a = r.Stdout.IndexOf("[adapter]\n", StringComparison.Ordinal);
        Assert.True(b >= 0 && a > b, r.Stdout);
        string baseAnswer = r.Stdout[(b + 7)..a], adapted = r.Stdout[(a + 10)..];
        Assert.NotEqual(baseAnswer.Trim(), adapted.Trim());
    }

    [Fact]
    public void Merge_WritesACheckpoint_ThatGeneratesLikeTheAdapter()
    {
        var r = EdgeProcess.Run(Dir, "lora", "merge", "--base", "base/model.safetensors", "--adapter", "adapter", "--out", "merged.safetensors");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("merged adapter (scale 1) into baby-gpt", r.Stdout);
        string[] common = ["--prompt", "the ", "--tokens", "12", "--temperature", "0"];
        var merged = EdgeProcess.Run(Dir, ["generate", "--model", "merged.safetensors", .. common]);
        var adapted = EdgeProcess.Run(Dir, ["generate", "--model", "base/model.safetensors", "--adapter", "adapter", .. common]);
        Assert.True(merged.ExitCode == 0, merged.ToString());
        Assert.Equal(adapted.Stdout, merged.Stdout);
        // The merged model is another base: the adapter's fingerprint no longer matches it.
        AssertOneLineError(EdgeProcess.Run(Dir, ["generate", "--model", "merged.safetensors", "--adapter", "adapter", .. common]), 1, "made for another base");
    }

    [Fact]
    public void BadAdapters_AreOneClearLine()
    {
        var corrupt = Path.Combine(Dir, "corrupt");
        Directory.CreateDirectory(corrupt);
        File.Copy(Path.Combine(trained.Adapter, "adapter_config.json"), Path.Combine(corrupt, "adapter_config.json"), overwrite: true);
        var bytes = File.ReadAllBytes(Path.Combine(trained.Adapter, "adapter_model.safetensors"));
        File.WriteAllBytes(Path.Combine(corrupt, "adapter_model.safetensors"), bytes[..(bytes.Length / 2)]);
        AssertOneLineError(EdgeProcess.Run(Dir, "generate", "--model", "base/model.safetensors", "--adapter", "corrupt"), 1, "adapter_model.safetensors");
        AssertOneLineError(EdgeProcess.Run(Dir, "generate", "--model", "base/model.safetensors", "--adapter", "missing"), 1, "missing");
    }

    [Fact]
    public void LoraTrain_BadInput_IsRefused_AndWritesNothing()
    {
        File.WriteAllText(Path.Combine(Dir, "bad.jsonl"), "{\"question\": \"the king\", \"answer\": \"a sea\"}\n{oops\n{\"question\": \"x\"}\n");
        AssertOneLineError(EdgeProcess.Run(Dir, "lora", "train", "--base", "base/model.safetensors", "--data", "bad.jsonl", "--out", "no1"), 1,
            "2 malformed JSONL lines: line 2 (not valid JSON), line 3");
        AssertOneLineError(EdgeProcess.Run(Dir, "lora", "train", "--base", "base/model.safetensors", "--data", "words.txt", "--targets", "attn.q_proj", "--out", "no2"), 2,
            "valid: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj");
        Assert.False(Directory.Exists(Path.Combine(Dir, "no1")));
        Assert.False(Directory.Exists(Path.Combine(Dir, "no2")));
    }

    [Fact]
    public void LoraTrain_InstructionPairs_AnswerOnly()
    {
        var sb = new StringBuilder();
        var rng = new Rng(4);
        string[] words = ["king", "sea", "light", "house", "old"];
        for (int i = 0; i < 60; i++)
        {
            string w = words[rng.NextInt(words.Length)];
            sb.Append($"{{\"question\": \"the {w}\", \"answer\": \"{w} is old.\"}}\n");
        }
        File.WriteAllText(Path.Combine(Dir, "pairs.jsonl"), sb.ToString());
        var r = EdgeProcess.Run(Dir, "lora", "train", "--base", "base/model.safetensors", "--data", "pairs.jsonl", "--template", "q: {q}\\na: {a}",
            "--answer-only", "--steps", "20", "--eval-interval", "20", "--out", "pairs-adapter", "--quiet");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("60 instruction pairs (54 train / 6 val", r.Stdout);
        Assert.Contains("loss on answers only", r.Stdout);
        Assert.True(File.Exists(Path.Combine(Dir, "pairs-adapter", "adapter_model.safetensors")));
    }
}
