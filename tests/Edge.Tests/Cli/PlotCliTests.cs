using System.Xml.Linq;
using Edge.Tests.Plotting;
using Edge.Tests.Support;
using Xunit;

using static Edge.Tests.Cli.EdgeProcess;

namespace Edge.Tests.Cli;

/// <summary>A char-mlp and a baby-gpt trained briefly by the real CLI, for the plot and inspect tests.</summary>
public sealed class PlotFixture : IDisposable
{
    public TempDir Dir { get; } = new();
    public EdgeProcess.Result TrainMlp { get; }
    public EdgeProcess.Result TrainGpt { get; }
    public string Mlp => Dir.File("out/model.safetensors");
    public string Gpt => Dir.File("gpt/model.safetensors");
    public string MlpLog => Dir.File("out/log.csv");
    public string GptLog => Dir.File("gpt/log.csv");

    public PlotFixture()
    {
        TrainMlp = EdgeProcess.Run(Dir.Path, "train", "char-mlp", "--steps", "30", "--eval-interval", "10", "--out", "out", "--sample", "0", "--quiet");
        TrainGpt = EdgeProcess.Run(Dir.Path, "train", "baby-gpt", "--steps", "4", "--eval-interval", "2", "--eval-iters", "1", "--out", "gpt", "--sample", "0", "--quiet");
    }

    public void Dispose() => Dir.Dispose();
}

public class PlotCliTests(PlotFixture f) : IClassFixture<PlotFixture>
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    static void AssertOk(EdgeProcess.Result r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
    }


    EdgeProcess.Result Edge(params string[] args) => EdgeProcess.Run(f.Dir.Path, args);

    [Fact]
    public void Fixture_Trained()
    {
        AssertOk(f.TrainMlp);
        AssertOk(f.TrainGpt);
    }

    [Fact]
    public void PlotLogs_Svg_HasTrainValAndLrLinesPerLog()
    {
        var r = Edge("plot", f.MlpLog, "gpt", "--out", "loss.svg", "--title", "two runs");
        AssertOk(r);
        var doc = XDocument.Load(f.Dir.File("loss.svg"));
        var lines = doc.Descendants(Svg + "polyline").ToList();
        var names = lines.Select(l => l.Element(Svg + "title")!.Value).ToList();
        Assert.Equal(["out train", "out val", "gpt train", "gpt val", "out lr", "gpt lr"], names);
        Assert.Equal(3, lines[0].Attribute("points")!.Value.Split(' ').Length); // steps 10, 20, 30
        Assert.Equal(2, lines[2].Attribute("points")!.Value.Split(' ').Length); // steps 2, 4
        Assert.Contains(doc.Descendants(Svg + "text"), t => t.Value == "two runs");
    }

    [Fact]
    public void PlotLogs_Png_LogY()
    {
        AssertOk(Edge("plot", f.MlpLog, "--out", "loss.png", "--log-y"));
        PngCheck.AssertDrawn(f.Dir.File("loss.png"));
    }

    [Fact]
    public void PlotEmbeddings_SvgAndPng()
    {
        AssertOk(Edge("plot", "embeddings", "--model", f.Mlp, "--out", "emb.svg"));
        var doc = XDocument.Load(f.Dir.File("emb.svg"));
        var labels = doc.Descendants(Svg + "circle").Select(c => c.Element(Svg + "title")!.Value).ToList();
        Assert.True(labels.Count > 20, string.Join(",", labels));
        Assert.Contains("\\n", labels);
        Assert.Contains("\u2423", labels);
        Assert.Contains("e", labels);
        AssertOk(Edge("plot", "embeddings", "--model", f.Mlp, "--out", "emb.png"));
        PngCheck.AssertDrawn(f.Dir.File("emb.png"));
    }

    [Fact]
    public void PlotAttention_SvgAndPng()
    {
        AssertOk(Edge("plot", "attention", "--model", f.Gpt, "--prompt", "To be, or", "--layer", "3", "--head", "2", "--out", "att.svg"));
        var doc = XDocument.Load(f.Dir.File("att.svg"));
        var cells = doc.Descendants(Svg + "rect").Where(r => r.Element(Svg + "title") is not null).Select(r => r.Element(Svg + "title")!.Value).ToList();
        Assert.Equal(81, cells.Count);
        Assert.StartsWith("T -> T: 1", cells[0]); // the first position can only attend to itself
        Assert.EndsWith(": 0", cells[1]);          // causal: nothing from the future
        AssertOk(Edge("plot", "attention", "--model", f.Gpt, "--prompt", "ROMEO:\nHello", "--out", "att.png"));
        PngCheck.AssertDrawn(f.Dir.File("att.png"));
    }

    [Fact]
    public void Plot_BadInputs_AreOneClearLine()
    {
        AssertOneLineError(Edge("plot", "missing.csv", "--out", "x.svg"), 1, "missing.csv: file not found");
        File.WriteAllText(f.Dir.File("empty.csv"), "");
        AssertOneLineError(Edge("plot", "empty.csv", "--out", "x.svg"), 1, "empty.csv: the log is empty");
        File.WriteAllText(f.Dir.File("bad.csv"), "step,train_loss,val_loss,val_perplexity,lr,seconds\n10,abc,2,3,0.1,1\n");
        AssertOneLineError(Edge("plot", "bad.csv", "--out", "x.svg"), 1, "bad.csv: line 2");
        File.WriteAllText(f.Dir.File("other.csv"), "a,b\n1,2\n");
        AssertOneLineError(Edge("plot", "other.csv", "--out", "x.svg"), 1, "other.csv: not a training log");
        AssertOneLineError(Edge("plot", f.MlpLog, "--out", "x.jpg"), 2, "must end in .svg or .png");
        AssertOneLineError(Edge("plot", f.MlpLog), 2, "--out");
        AssertOneLineError(Edge("plot", "attention", "--model", f.Mlp, "--prompt", "ab", "--out", "a.svg"), 1, "not a transformer");
        AssertOneLineError(Edge("plot", "attention", "--model", f.Gpt, "--prompt", "ab", "--layer", "4", "--out", "a.svg"), 2, "--layer: 4 is out of range");
        AssertOneLineError(Edge("plot", "attention", "--model", f.Gpt, "--prompt", "ab", "--head", "9", "--out", "a.svg"), 2, "--head: 9 is out of range");
        AssertOneLineError(Edge("plot", "attention", "--model", f.Gpt, "--prompt", new string('a', 65), "--out", "a.svg"), 1, "longer than baby-gpt's context of 64");
        Assert.False(File.Exists(f.Dir.File("x.svg")));
        Assert.False(File.Exists(f.Dir.File("a.svg")));
    }

    [Fact]
    public void Help_ForPlotAndInspect()
    {
        var plot = Edge("plot", "--help");
        AssertOk(plot);
        Assert.Contains("Usage: edge plot", plot.Stdout);
        Assert.Contains("Examples:", plot.Stdout);
        var inspect = Edge("inspect", "--help");
        AssertOk(inspect);
        Assert.Contains("Usage: edge inspect", inspect.Stdout);
        Assert.Contains("Examples:", inspect.Stdout);
        var top = Edge("--help");
        Assert.Contains("plot ", top.Stdout);
        Assert.Contains("inspect ", top.Stdout);
    }

    [Fact]
    public void Inspect_ListsEveryTensor_AndTheTrainingFacts()
    {
        var r = Edge("inspect", f.Gpt);
        AssertOk(r);
        using var file = global::Edge.Formats.SafeTensorsFile.Open(f.Gpt);
        foreach (var t in file.Tensors)
            Assert.Matches($@"(?m)^  {System.Text.RegularExpressions.Regex.Escape(t.Name)} +F32 +\[{string.Join(", ", t.Shape)}\] +[\d,]+$", r.Stdout);
        Assert.Contains("model       baby-gpt", r.Stdout);
        Assert.Matches(@"edge\.step +4\b", r.Stdout);
        Assert.Matches(@"edge\.val_loss +\d\.\d{4} \(perplexity", r.Stdout);
        Assert.Matches(@"edge\.tokenizer +character vocabulary of \d+ symbols", r.Stdout);
        Assert.DoesNotContain("\"symbols\"", r.Stdout); // not the JSON
    }

    [Fact]
    public void Inspect_ResumableCheckpoint_SummarisesTrainState()
    {
        var r = Edge("inspect", f.Dir.File("out/last.safetensors"));
        AssertOk(r);
        Assert.Contains("optimizer.exp_avg", r.Stdout);
        Assert.Matches(@"edge\.train_state +resumable: step 30", r.Stdout);
    }

    [Fact]
    public void Inspect_RefusesATextFile()
    {
        AssertOneLineError(Edge("inspect", f.MlpLog), 1, "not a safetensors file");
        AssertOneLineError(Edge("inspect", "nope.safetensors"), 1, "file not found");
        AssertOneLineError(Edge("inspect"), 2, "give a checkpoint");
    }
}
