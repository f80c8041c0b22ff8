using System.Globalization;
using System.Text;
using System.Xml.Linq;
using Edge.Tests.Support;
using Xunit;

namespace Edge.Tests.Cli;

/// <summary>
/// `edge plot` reads every log an `edge` command writes. The writers of log.csv in src/: `edge train`
/// (TrainCommand: running text, line data, a model fitted by counting, a resumed run) and `edge lora train`
/// (LoraCommand: text, JSONL pairs, a resumed run). edge-gpu runs edge's TrainCommand, so its logs are these.
/// </summary>
public class PlotEveryLogCliTests
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    static void AssertOk(EdgeProcess.Result r) => Assert.True(r.ExitCode == 0, r.ToString());

    /// <summary>Plots <paramref name="folder"/>'s log to SVG and checks each series has one point per measured row.</summary>
    static void AssertPlots(string dir, string folder, int rows, bool lr = true)
    {
        var lines = File.ReadAllLines(Path.Combine(dir, folder, "log.csv"));
        Assert.Equal("step,train_loss,val_loss,val_perplexity,lr,seconds", lines[0]);
        Assert.True(lines.Length - 1 == rows, $"{folder}/log.csv:\n{string.Join('\n', lines)}");
        foreach (var row in lines[1..])
            foreach (var cell in row.Split(','))
                Assert.True(double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v), $"{folder}: '{row}'");

        string svg = folder + ".svg", png = folder + ".png";
        var r = EdgeProcess.Run(dir, "plot", Path.Combine(folder, "log.csv"), "--out", svg);
        AssertOk(r);
        Assert.Equal("", r.Stderr);
        var series = XDocument.Load(Path.Combine(dir, svg)).Descendants(Svg + "polyline")
            .ToDictionary(l => l.Element(Svg + "title")!.Value, l => l.Attribute("points")!.Value.Split(' ').Length);
        Assert.Equal(rows, series[$"{folder} train"]);
        Assert.Equal(rows, series[$"{folder} val"]);
        Assert.Equal(lr, series.ContainsKey("lr"));
        AssertOk(EdgeProcess.Run(dir, "plot", folder, "--out", png, "--log-y"));
        Plotting.PngCheck.AssertDrawn(Path.Combine(dir, png));
    }

    [Fact]
    public void Plot_ReadsTheLogsOfTrain_TextLinesCountingAndResumed()
    {
        using var d = new TempDir();
        string dir = d.Path;
        var names = new StringBuilder();
        string[] syllables = ["an", "na", "el", "la", "mi", "ro", "sa", "ka", "li", "ne"];
        var rng = new Rng(7);
        for (int i = 0; i < 400; i++) names.Append(syllables[rng.NextInt(10)]).Append(syllables[rng.NextInt(10)]).Append('\n');
        File.WriteAllText(Path.Combine(dir, "names.txt"), names.ToString());

        // Running text (the built-in corpus), an evaluation every 10 steps.
        AssertOk(EdgeProcess.Run(dir, "train", "char-mlp", "--steps", "30", "--eval-interval", "10", "--eval-iters", "2", "--out", "text", "--sample", "0", "--quiet"));
        AssertPlots(dir, "text", 3);
        // Line data (one name a line).
        AssertOk(EdgeProcess.Run(dir, "train", "bigram", "--data", "names.txt", "--steps", "20", "--eval-interval", "10", "--out", "lines", "--sample", "0", "--quiet"));
        AssertPlots(dir, "lines", 2);
        // A model fitted by counting: one row, no learning rate.
        AssertOk(EdgeProcess.Run(dir, "train", "bigram-counts", "--data", "names.txt", "--out", "counts", "--sample", "0", "--quiet"));
        AssertPlots(dir, "counts", 1, lr: false);
        // A run stopped at step 20 of 40 (by a shorter --steps), then resumed: the log goes on from its last row.
        string[] resumable = ["train", "char-mlp", "--eval-interval", "10", "--eval-iters", "2", "--min-lr", "1e-3", "--out", "resumed", "--sample", "0", "--quiet"];
        AssertOk(EdgeProcess.Run(dir, [.. resumable, "--steps", "20"]));
        AssertOk(EdgeProcess.Run(dir, [.. resumable, "--steps", "40", "--resume"]));
        AssertPlots(dir, "resumed", 4);
    }

    [Fact]
    public void Plot_ReadsTheLogsOfLoraTrain_TextJsonlAndResumed()
    {
        using var d = new TempDir();
        string dir = d.Path;
        AssertOk(EdgeProcess.Run(dir, "train", "baby-gpt", "--steps", "4", "--eval-interval", "4", "--eval-iters", "1", "--out", "base", "--sample", "0", "--quiet"));
        File.WriteAllText(Path.Combine(dir, "words.txt"), TrainedAdapter.Corpus(2000, 1));
        var pairs = new StringBuilder();
        for (int i = 0; i < 30; i++) pairs.Append(CultureInfo.InvariantCulture, $"{{\"question\": \"count to {i}\", \"answer\": \"{i} and done.\"}}\n");
        File.WriteAllText(Path.Combine(dir, "pairs.jsonl"), pairs.ToString());
        string[] lora = ["lora", "train", "--base", "base/model.safetensors", "--rank", "2", "--eval-interval", "5", "--eval-iters", "1", "--quiet"];

        // Each adapter log starts with the base alone at step 0, then one row per evaluation.
        AssertOk(EdgeProcess.Run(dir, [.. lora, "--data", "words.txt", "--steps", "10", "--out", "lora-text"]));
        AssertPlots(dir, "lora-text", 3);
        AssertOk(EdgeProcess.Run(dir, [.. lora, "--data", "pairs.jsonl", "--steps", "10", "--out", "lora-jsonl"]));
        AssertPlots(dir, "lora-jsonl", 3);
        AssertOk(EdgeProcess.Run(dir, [.. lora, "--data", "pairs.jsonl", "--steps", "5", "--out", "lora-resumed"]));
        AssertOk(EdgeProcess.Run(dir, [.. lora, "--data", "pairs.jsonl", "--steps", "10", "--out", "lora-resumed", "--resume"]));
        AssertPlots(dir, "lora-resumed", 3);
    }
}
