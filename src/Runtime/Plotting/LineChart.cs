namespace Edge.Plotting;

/// <summary>Which y axis a series is measured on.</summary>
public enum YAxis { Left, Right }

/// <summary>A named line of (x, y) points.</summary>
public sealed record Series(string Name, IReadOnlyList<(double X, double Y)> Points, YAxis Axis = YAxis.Left, bool Dashed = false, Rgb? Color = null);

/// <summary>
/// Lines against a shared x axis, with ticks, labels and a legend; the left y axis can be logarithmic and a
/// second (right) y axis carries series on another scale (a learning rate beside losses).
/// </summary>
public sealed class LineChart
{
    public List<Series> Series { get; } = [];
    public string Title { get; set; } = "";
    public string XLabel { get; set; } = "";
    public string YLabel { get; set; } = "";
    public string RightLabel { get; set; } = "";
    public bool LogY { get; set; }
    public int Width { get; set; } = 900;
    public int Height { get; set; } = 560;

    public void Add(Series series) => Series.Add(series);

    public string ToSvg()
    {
        var svg = new SvgSurface(Width, Height, Rgb.White);
        Render(svg);
        return svg.ToString();
    }

    public Canvas ToCanvas()
    {
        var canvas = new Canvas(Width, Height, Rgb.White);
        Render(new CanvasSurface(canvas));
        return canvas;
    }

    /// <summary>Writes an .svg or .png file (by extension), crash-safely.</summary>
    public void Save(string path)
    {
        if (Charts.IsSvgPath(path)) Charts.WriteText(path, ToSvg());
        else PngWriter.Write(path, ToCanvas());
    }

    sealed class Scale(double min, double max, double from, double to, bool log)
    {
        public double Min => min;
        public double Max => max;
        public bool Log => log;
        public double Map(double v)
        {
            double a = log ? Math.Log10(min) : min, b = log ? Math.Log10(max) : max, t = log ? Math.Log10(v) : v;
            return from + (t - a) / (b - a) * (to - from);
        }
        public bool Valid(double v) => double.IsFinite(v) && (!log || v > 0);
    }

    static Scale MakeScale(IEnumerable<double> values, double from, double to, bool log, double pad)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var v in values)
            if (double.IsFinite(v) && (!log || v > 0)) { min = Math.Min(min, v); max = Math.Max(max, v); }
        if (!double.IsFinite(min)) { min = log ? 0.1 : 0; max = 1; }
        if (log)
        {
            if (max <= min) { min /= 2; max *= 2; }
            double f = Math.Pow(max / min, pad);
            return new Scale(min / f, max * f, from, to, true);
        }
        if (max <= min) { double d = min == 0 ? 1 : Math.Abs(min) * 0.1; min -= d; max += d; }
        double p = (max - min) * pad;
        return new Scale(min - p, max + p, from, to, false);
    }

    internal void Render(ISurface s)
    {
        bool right = Series.Any(x => x.Axis == YAxis.Right);
        double left = 74, rightEdge = Width - (right ? 78 : 24), top = Title.Length > 0 ? 46 : 20, bottom = Height - 48;
        var xs = MakeScale(Series.SelectMany(x => x.Points.Select(p => p.X)), left, rightEdge, false, 0.0);
        var ys = MakeScale(Series.Where(x => x.Axis == YAxis.Left).SelectMany(x => x.Points.Select(p => p.Y)), bottom, top, LogY, 0.04);
        var y2 = right ? MakeScale(Series.Where(x => x.Axis == YAxis.Right).SelectMany(x => x.Points.Select(p => p.Y)), bottom, top, false, 0.04) : null;

        if (Title.Length > 0) s.Text(Width / 2.0, 22, Title, Charts.Ink, TextAnchor.Middle, Charts.TitleScale(Title, Width));

        // Grid and ticks.
        foreach (var (t, label) in Charts.Labelled(Charts.NiceTicks(xs.Min, xs.Max, 8)))
        {
            double x = xs.Map(t);
            s.Line(x, top, x, bottom, Charts.Grid);
            s.Line(x, bottom, x, bottom + 5, Charts.Axis);
            s.Text(x, bottom + 14, label, Charts.Ink, TextAnchor.Middle);
        }
        foreach (var (t, label) in Charts.Labelled(LogY ? Charts.LogTicks(ys.Min, ys.Max) : Charts.NiceTicks(ys.Min, ys.Max, 7)))
        {
            double y = ys.Map(t);
            s.Line(left, y, rightEdge, y, Charts.Grid);
            s.Line(left - 4, y, left, y, Charts.Axis);
            s.Text(left - 9, y, label, Charts.Ink, TextAnchor.End);
        }
        if (y2 is not null)
            foreach (var (t, label) in Charts.Labelled(Charts.NiceTicks(y2.Min, y2.Max, 7)))
            {
                double y = y2.Map(t);
                s.Line(rightEdge, y, rightEdge + 4, y, Charts.Axis);
                s.Text(rightEdge + 9, y, label, Charts.Ink);
            }
        s.StrokeRect(left, top, rightEdge - left, bottom - top, Charts.Axis);

        // Axis labels: x centred below, y labels above their axes (no rotated text in the bitmap font).
        if (XLabel.Length > 0) s.Text((left + rightEdge) / 2, Height - 14, XLabel, Charts.Ink, TextAnchor.Middle);
        if (YLabel.Length > 0) s.Text(left, top - 10, YLabel + (LogY ? " (log)" : ""), Charts.Ink, TextAnchor.Middle);
        if (right && RightLabel.Length > 0) s.Text(rightEdge, top - 10, RightLabel, Charts.Ink, TextAnchor.Middle);

        // Lines.
        for (int i = 0; i < Series.Count; i++)
        {
            var series = Series[i];
            var scale = series.Axis == YAxis.Right ? y2! : ys;
            var color = series.Color ?? Charts.Palette[i % Charts.Palette.Length];
            var points = series.Points.Where(p => double.IsFinite(p.X) && scale.Valid(p.Y)).Select(p => (xs.Map(p.X), scale.Map(p.Y))).ToList();
            s.Polyline(points, color, 2, series.Dashed, series.Name);
        }

        // Legend: top right inside the plot, on a white box.
        if (Series.Count > 0)
        {
            int rowHeight = 16;
            double textWidth = Series.Max(x => Canvas.TextWidth(x.Name + (x.Axis == YAxis.Right && RightLabel.Length == 0 ? " (right)" : "")));
            double boxWidth = textWidth + 46, boxHeight = Series.Count * rowHeight + 10;
            double bx = rightEdge - boxWidth - 10, by = top + 10;
            s.FillRect(bx, by, boxWidth, boxHeight, Rgb.White);
            s.StrokeRect(bx, by, boxWidth, boxHeight, Charts.Grid);
            for (int i = 0; i < Series.Count; i++)
            {
                var series = Series[i];
                var color = series.Color ?? Charts.Palette[i % Charts.Palette.Length];
                double y = by + 5 + rowHeight * (i + 0.5);
                s.Line(bx + 8, y, bx + 34, y, color, 2, series.Dashed);
                s.Text(bx + 40, y, series.Name + (series.Axis == YAxis.Right && RightLabel.Length == 0 ? " (right)" : ""), Charts.Ink);
            }
        }
    }
}
