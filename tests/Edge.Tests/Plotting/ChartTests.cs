using System.Xml.Linq;
using Edge.Plotting;
using Edge.Tests.Support;
using Xunit;

namespace Edge.Tests.Plotting;

public class ChartTests
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    static LineChart SampleChart(bool logY)
    {
        var chart = new LineChart { Title = "loss <&> \"test\"", XLabel = "step", YLabel = "loss", RightLabel = "lr", LogY = logY };
        chart.Add(new Series("run train", [(0, 4.2), (100, 3.1), (200, 2.5), (300, 2.2)], Dashed: true));
        chart.Add(new Series("run val", [(0, 4.3), (100, 3.3), (200, 2.8)]));
        chart.Add(new Series("lr", [(0, 0.001), (100, 0.0008), (200, 0.0004), (300, 0.0001), (400, 0.0001)], YAxis.Right));
        return chart;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LineChart_Svg_IsWellFormed_WithOnePolylinePerSeries(bool logY)
    {
        var doc = XDocument.Parse(SampleChart(logY).ToSvg());
        var lines = doc.Descendants(Svg + "polyline").ToList();
        Assert.Equal(3, lines.Count);
        Assert.Equal(["run train", "run val", "lr"], lines.Select(l => l.Element(Svg + "title")!.Value));
        Assert.Equal([4, 3, 5], lines.Select(l => l.Attribute("points")!.Value.Split(' ').Length));
        Assert.Contains(doc.Descendants(Svg + "text"), t => t.Value == "loss <&> \"test\"");
        Assert.Contains(doc.Descendants(Svg + "text"), t => t.Value == "step");
    }

    [Fact]
    public void LineChart_LogScale_SkipsNonPositiveValues()
    {
        var chart = new LineChart { LogY = true };
        chart.Add(new Series("a", [(0, 1.0), (1, 0.0), (2, -1), (3, double.NaN), (4, 0.1)]));
        var line = Assert.Single(XDocument.Parse(chart.ToSvg()).Descendants(Svg + "polyline"));
        Assert.Equal(2, line.Attribute("points")!.Value.Split(' ').Length);
    }

    [Fact]
    public void LineChart_Png_IsValid_AndDrawn()
    {
        using var dir = new TempDir();
        var path = dir.File("loss.png");
        var chart = SampleChart(false);
        chart.Save(path);
        var image = PngCheck.AssertDrawn(path);
        Assert.Equal((chart.Width, chart.Height, 2), (image.Width, image.Height, image.ColorType));
    }

    [Fact]
    public void Save_RefusesOtherExtensions()
    {
        using var dir = new TempDir();
        Assert.Throws<ArgumentException>(() => SampleChart(false).Save(dir.File("loss.jpg")));
    }

    [Fact]
    public void ScatterChart_SvgAndPng()
    {
        var chart = new ScatterChart { Title = "embeddings" };
        chart.Add(0, 0, "a");
        chart.Add(1, 2, "\u2423");
        chart.Add(-1, 0.5, "\\n");
        chart.Add(0.3, -2, "<");
        var doc = XDocument.Parse(chart.ToSvg());
        // One dot per point, then one per colour group in the legend (vowels, other: in the legend's order).
        Assert.Equal(["a", "\u2423", "\\n", "<", "vowels", "other"], doc.Descendants(Svg + "circle").Select(c => c.Element(Svg + "title")!.Value));
        using var dir = new TempDir();
        chart.Save(dir.File("e.png"));
        PngCheck.AssertDrawn(dir.File("e.png"));
    }

    [Fact]
    public void HeatMap_SvgHasACellPerEntry_AndPngIsValid()
    {
        var m = new float[3, 3] { { 1, 0, 0 }, { 0.5f, 0.5f, 0 }, { 0.2f, 0.3f, 0.5f } };
        var map = new HeatMap(m, ["a", "b", "\u2423"]) { Title = "attention" };
        var doc = XDocument.Parse(map.ToSvg());
        var cells = doc.Descendants(Svg + "rect").Where(r => r.Element(Svg + "title") is not null).ToList();
        Assert.Equal(9, cells.Count);
        Assert.Contains(cells, c => c.Element(Svg + "title")!.Value == "b -> a: 0.5");
        Assert.Equal(HeatMap.ColorOf(1).Hex, cells[0].Attribute("fill")!.Value);
        using var dir = new TempDir();
        map.Save(dir.File("a.png"));
        var image = PngCheck.AssertDrawn(dir.File("a.png"));
        Assert.Equal((map.Width, map.Height), (image.Width, image.Height));
        Assert.Throws<ArgumentException>(() => new HeatMap(new float[2, 3], ["a", "b"]));
    }

    [Fact]
    public void NiceTicks_AreRoundAndInRange()
    {
        Assert.Equal([0, 50, 100, 150, 200], Charts.NiceTicks(0, 200, 4));
        var t = Charts.NiceTicks(1.37, 4.21, 6);
        Assert.All(t, v => Assert.InRange(v, 1.37, 4.21));
        var log = Charts.LogTicks(1e-4, 0.1);
        foreach (var p in new[] { 1e-4, 1e-3, 1e-2, 1e-1 }) Assert.Contains(log, v => Math.Abs(v / p - 1) < 1e-9);
        Assert.Equal("0.0008", Charts.Format(0.0008));
        Assert.Equal("20k", Charts.Format(20000));
    }
}
