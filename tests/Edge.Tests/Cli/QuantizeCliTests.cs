using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;

namespace Edge.Tests.Cli;

/// <summary>`edge quantize` on the briefly trained base of <see cref="TrainedAdapter"/>, then eval, generate and inspect on the result.</summary>
public class QuantizeCliTests(TrainedAdapter trained) : IClassFixture<TrainedAdapter>
{
    string Dir => trained.Dir.Path;

    static double Loss(EdgeProcess.Result r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        return double.Parse(Regex.Match(r.Stdout, @"loss (\d+\.\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Quantize_WritesASmallerFile_ThatEvaluatesCloseToFp32_AndGeneratesWithAnAdapter()
    {
        Assert.True(trained.BaseTrain.ExitCode == 0, trained.BaseTrain.ToString());
        var q = EdgeProcess.Run(Dir, "quantize", "--in", "base/model.safetensors", "--out", "base/q8.safetensors", "--type", "q8", "--quiet");
        Assert.True(q.ExitCode == 0, q.ToString());
        Assert.Matches(@"baby-gpt \([\d,]+ parameters\) -> q8_0", q.Stdout);
        Assert.Matches(@"before +3\.\d MB \(fp32 weights\)", q.Stdout);
        Assert.Matches(@"after +0\.9 MB \(3\.\d\dx smaller\): 17 tensors quantised", q.Stdout);
        Assert.Matches(@"worst block error [\d.e-]+ in \S+ \(\d+\.\d% of that block's largest weight\)", q.Stdout);

        File.WriteAllText(trained.Dir.File("val.txt"), TrainedAdapter.Corpus(400, 9));
        double fp32 = Loss(EdgeProcess.Run(Dir, "eval", "--model", "base/model.safetensors", "--data", "val.txt", "--quiet"));
        double q8 = Loss(EdgeProcess.Run(Dir, "eval", "--model", "base/q8.safetensors", "--data", "val.txt", "--quiet"));
        Assert.True(Math.Abs(q8 - fp32) <= 0.01 * fp32, $"q8 loss {q8} against fp32 {fp32}");

        // The adapter trained on the fp32 base applies to its quantised copy.
        var g = EdgeProcess.Run(Dir, "generate", "--model", "base/q8.safetensors", "--adapter", "adapter", "--tokens", "40", "--seed", "2");
        Assert.True(g.ExitCode == 0, g.ToString());
        Assert.True(g.Stdout.Trim().Length > 10, g.ToString());

        var i = EdgeProcess.Run(Dir, "inspect", "base/q8.safetensors");
        Assert.True(i.ExitCode == 0, i.ToString());
        Assert.Matches(@"h\.0\.attn\.c_attn\.weight +q8_0 +\[128, 384\] +49,152", i.Stdout);
        Assert.Contains("edge.quant ", i.Stdout);
    }

    [Theory]
    [InlineData(2, "option --type: expected q8, q4 or q4m, got 'q3'", "--in", "base/model.safetensors", "--out", "x.safetensors", "--type", "q3")]
    [InlineData(2, "--type q8|q4|q4m is required", "--in", "base/model.safetensors", "--out", "x.safetensors")]
    [InlineData(1, "missing.safetensors: file not found", "--in", "missing.safetensors", "--out", "x.safetensors", "--type", "q4")]
    public void BadInput_IsOneLine_WithTheDocumentedExitCode_AndWritesNothing(int exitCode, string message, params string[] args)
    {
        var r = EdgeProcess.Run(Dir, ["quantize", .. args]);
        Assert.True(r.ExitCode == exitCode, r.ToString());
        var line = Assert.Single(r.ErrorLines);
        Assert.Contains(message, line);
        Assert.False(File.Exists(trained.Dir.File("x.safetensors")));
    }

    [Fact]
    public void Eval_SplitVal_ScoresTheLastTenthOfRunningText()
    {
        Assert.True(trained.BaseTrain.ExitCode == 0, trained.BaseTrain.ToString());
        var text = TrainedAdapter.Corpus(2000, 11);
        File.WriteAllText(trained.Dir.File("split.txt"), text);
        var all = EdgeProcess.Run(Dir, "eval", "--model", "base/model.safetensors", "--data", "split.txt", "--quiet");
        var val = EdgeProcess.Run(Dir, "eval", "--model", "base/model.safetensors", "--data", "split.txt", "--split", "val", "--quiet");
        Assert.True(val.ExitCode == 0, val.ToString());
        Assert.Contains("split.txt (val split): ", val.Stdout);
        long Positions(EdgeProcess.Result r) => long.Parse(Regex.Match(r.Stdout, @": ([\d,]+) positions").Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        Assert.InRange(Positions(val), Positions(all) / 10 - 70, Positions(all) / 10 + 70); // the last 10%, less one context
        var bad = EdgeProcess.Run(Dir, "eval", "--model", "base/model.safetensors", "--data", "split.txt", "--split", "dev");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("option --split: expected one of train, val, test, got 'dev'", bad.Stderr);
    }
}
