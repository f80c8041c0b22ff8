using Edge.Cli;
using Xunit;

namespace Edge.Tests.Cli;

/// <summary>The pure parts of the terminal output: the loss chart, the progress bar's line, colour and help styling.</summary>
public class TerminalOutputTests
{
    /// <summary>(row, column) of every braille cell with dots in the plot rows (above the axis).</summary>
    static List<(int Row, int Column)> Dots(string[] lines)
    {
        var dots = new List<(int, int)>();
        for (int r = 0; r < lines.Length - 2; r++)
            for (int c = 0; c < lines[r].Length; c++)
                if (lines[r][c] is > '\u2800' and <= '\u28ff') dots.Add((r, c));
        return dots;
    }

    static List<(double X, double Y)> Line(Func<double, double> f, int n = 101) =>
        Enumerable.Range(0, n).Select(i => ((double)i, f(i))).ToList();

    static LossChart.Curve Curve(string name, List<(double X, double Y)> points) => new(name, points, Terminal.Cyan);

    [Theory]
    [InlineData(60, 10)]
    [InlineData(100, 12)]
    [InlineData(30, 5)]
    public void Chart_HasExactlyTheHeight_AndNoLineWiderThanTheWidth(int width, int height)
    {
        var lines = LossChart.Render([Curve("train", Line(x => 3 - x / 50))], 0, 100, width, height);
        Assert.Equal(height, lines.Length);
        Assert.All(lines, l => Assert.True(l.Length <= width, $"{l.Length} > {width}: '{l}'"));
        Assert.Equal(lines.Length - 2, lines.Count(l => l.Contains('┤') || l.Contains('│')));
        Assert.Contains('└', lines[^2]);
    }

    [Fact]
    public void Chart_FallingSeries_DrawsAFallingCurve()
    {
        var dots = Dots(LossChart.Render([Curve("train", Line(x => 3 - x / 50))], 0, 100, 60, 10));
        Assert.NotEmpty(dots);
        int left = dots.Min(d => d.Column), right = dots.Max(d => d.Column);
        Assert.Equal(0, dots.Where(d => d.Column == left).Min(d => d.Row));   // starts at the top
        Assert.Equal(7, dots.Where(d => d.Column == right).Max(d => d.Row));  // ends on the bottom plot row
        // Row never goes up from one column to the next.
        var topByColumn = dots.GroupBy(d => d.Column).OrderBy(g => g.Key).Select(g => g.Min(d => d.Row)).ToList();
        Assert.Equal(topByColumn.Order().ToList(), topByColumn);
        Assert.True(right - left > 40, "the curve spans the width");
    }

    [Fact]
    public void Chart_RisingSeries_DrawsARisingCurve()
    {
        var dots = Dots(LossChart.Render([Curve("val", Line(x => 1 + x * x / 5000))], 0, 100, 60, 10));
        int left = dots.Min(d => d.Column), right = dots.Max(d => d.Column);
        Assert.True(dots.Where(d => d.Column == left).Max(d => d.Row) > dots.Where(d => d.Column == right).Min(d => d.Row));
        Assert.Equal(0, dots.Where(d => d.Column == right).Min(d => d.Row));
    }

    [Fact]
    public void Chart_AxisLabels_ShowTheMinAndMaxOfYAndTheXRange()
    {
        var lines = LossChart.Render([Curve("train", Line(x => 4.2 - x / 50)), Curve("val", [(50, 2.5), (100, 2.3)])], 0, 600, 80, 12);
        Assert.StartsWith("4.2000 ┤", lines[0]);
        Assert.StartsWith("2.2000 ┤", lines[^3]);
        Assert.Matches(@"^\s+0\s.*⣀ train  ⣀ val\s+600$", lines[^1]);
        Assert.Contains("┤", lines[5]); // the middle row is labelled too
    }

    [Fact]
    public void Chart_WithoutPoints_OrWithNaN_StillDrawsTheAxes()
    {
        var empty = LossChart.Render([Curve("train", []), Curve("val", [])], 0, 600, 50, 8);
        Assert.Equal(8, empty.Length);
        Assert.Empty(Dots(empty));
        var nan = LossChart.Render([Curve("train", [(0, double.NaN), (10, 2.0), (20, double.PositiveInfinity), (30, 1.5)])], 0, 30, 50, 8);
        Assert.StartsWith("2.0000 ┤", nan[0]);
        Assert.StartsWith("1.5000 ┤", nan[^3]);
        Assert.NotEmpty(Dots(nan));
    }

    [Fact]
    public void Chart_FlatSeries_SitsInTheMiddle()
    {
        var dots = Dots(LossChart.Render([Curve("train", Line(_ => 2.0))], 0, 100, 60, 10));
        Assert.All(dots, d => Assert.InRange(d.Row, 3, 4));
    }

    [Fact]
    public void Chart_Colour_OnlyWhenAsked()
    {
        var curves = new[] { Curve("train", Line(x => 3 - x / 50)) };
        Assert.DoesNotContain(LossChart.Render(curves, 0, 100, 60, 10), l => l.Contains('\u001b'));
        Assert.Contains(LossChart.Render(curves, 0, 100, 60, 10, colour: true), l => l.Contains("\u001b[36m"));
    }

    [Fact]
    public void LossHistory_AveragesTrainLoss_AndKeepsEveryEvaluation()
    {
        var history = new LossHistory(0, 100_000);
        for (int step = 1; step <= 100_000; step++) history.AddTrain(step, 4.0 - 3.0 * step / 100_000);
        history.AddVal(50_000, 3.0);
        history.AddVal(100_000, 1.5);
        var lines = history.Render(70, 10, colour: false);
        Assert.Matches(@"^3\.9\d{3} ┤", lines[0]); // the mean of the first column's steps
        Assert.Matches(@"^1\.\d{4} ┤", lines[^3]);
        Assert.EndsWith("100,000", lines[^1]);
        Assert.NotEmpty(Dots(lines));
    }

    [Fact]
    public void ProgressLine_ShowsCountRateEtaAndStatus()
    {
        var line = ProgressBar.Line(150, 600, "steps", 10, "loss 2.1234", 100);
        Assert.Matches(@"^\[#+\.+\] 150/600 steps  15\.0/s  ETA 30s  loss 2\.1234$", line);
        Assert.StartsWith("[" + new string('#', 6) + new string('.', 19) + "]", line); // a quarter of 25 columns
        Assert.Contains("in 40s", ProgressBar.Line(600, 600, "steps", 40, null, 100));
        Assert.Contains("ETA --", ProgressBar.Line(0, 600, "steps", 0, null, 100));
        Assert.Contains("1,500/20,000 names  150/s", ProgressBar.Line(1500, 20000, "names", 10, null, 100));
    }

    [Fact]
    public void ProgressLine_Bytes_AreMegabytes_AndAResumedRunCountsItsRateFromItsStart()
    {
        Assert.Contains("5.0/20.0 MB  2.5 MB/s  ETA 6s", ProgressBar.Line(5_000_000, 20_000_000, "bytes", 2, null, 100));
        Assert.Contains("1,100/2,000 steps  10.0/s  ETA 1m30s", ProgressBar.Line(1100, 2000, "steps", 10, null, 100, start: 1000));
    }

    [Fact]
    public void ProgressLine_FitsTheWidth_AndWithoutATotalShowsStatusAndTime()
    {
        Assert.True(ProgressBar.Line(1, 3, "passes", 1, "a very long status " + new string('x', 200), 60).Length <= 60);
        Assert.Equal("learning 1,000 tokens  2m05s", ProgressBar.Line(0, 0, "", 125, "learning 1,000 tokens", 80));
        Assert.Equal("1.5h", ProgressBar.Duration(5400));
    }

    [Fact]
    public void Paint_AndHelpHeadings_OnlyWhenColourIsOn()
    {
        Assert.Equal("error", Terminal.Paint("error", Terminal.Red, enabled: false));
        Assert.Equal("\u001b[31merror\u001b[39m", Terminal.Paint("error", Terminal.Red, enabled: true));
        Assert.Equal("\u001b[1mbold\u001b[22m", Terminal.Paint("bold", "1", enabled: true));
        var help = Commands.All.Single(c => c.Name == "train").Help;
        Assert.Equal(help, Terminal.Help(help, colour: false));
        var styled = Terminal.Help(help, colour: true);
        Assert.Contains("\u001b[1mUsage:\u001b[22m edge train", styled);
        Assert.Contains("\u001b[1mExamples:\u001b[22m", styled);
        Assert.Contains("\u001b[1medge train:\u001b[22m", styled);
    }
}
