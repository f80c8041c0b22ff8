namespace Edge.Plotting;

/// <summary>Labelled points (an embedding's tokens in two dimensions), with axes and ticks.</summary>
public sealed class ScatterChart
{
    public List<(double X, double Y, string Label)> Points { get; } = [];
    public string Title { get; set; } = "";
    public string XLabel { get; set; } = "";
    public string YLabel { get; set; } = "";
    public int Width { get; set; } = 800;
    public int Height { get; set; } = 800;

    public void Add(double x, double y, string label) => Points.Add((x, y, label));

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

    public void Save(string path)
    {
        if (Charts.IsSvgPath(path)) Charts.WriteText(path, ToSvg());
        else PngWriter.Write(path, ToCanvas());
    }

    static (double Min, double Max) Range(IEnumerable<double> values)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var v in values)
            if (double.IsFinite(v)) { min = Math.Min(min, v); max = Math.Max(max, v); }
        if (!double.IsFinite(min)) return (-1, 1);
        if (max <= min) { double d = min == 0 ? 1 : Math.Abs(min) * 0.1; return (min - d, max + d); }
        double p = (max - min) * 0.06;
        return (min - p, max + p);
    }

    internal void Render(ISurface s)
    {
        double left = 64, right = Width - 24, top = Title.Length > 0 ? 46 : 24, bottom = Height - 48;
        var (x0, x1) = Range(Points.Select(p => p.X));
        var (y0, y1) = Range(Points.Select(p => p.Y));
        double Mx(double v) => left + (v - x0) / (x1 - x0) * (right - left);
        double My(double v) => bottom - (v - y0) / (y1 - y0) * (bottom - top);

        if (Title.Length > 0) s.Text(Width / 2.0, 22, Title, Charts.Ink, TextAnchor.Middle, Charts.TitleScale(Title, Width));
        foreach (var (t, label) in Charts.Labelled(Charts.NiceTicks(x0, x1, 8)))
        {
            s.Line(Mx(t), top, Mx(t), bottom, Charts.Grid);
            s.Line(Mx(t), bottom, Mx(t), bottom + 5, Charts.Axis);
            s.Text(Mx(t), bottom + 14, label, Charts.Ink, TextAnchor.Middle);
        }
        foreach (var (t, label) in Charts.Labelled(Charts.NiceTicks(y0, y1, 8)))
        {
            s.Line(left, My(t), right, My(t), Charts.Grid);
            s.Line(left - 5, My(t), left, My(t), Charts.Axis);
            s.Text(left - 8, My(t), label, Charts.Ink, TextAnchor.End);
        }
        if (x0 < 0 && x1 > 0) s.Line(Mx(0), top, Mx(0), bottom, new Rgb(190, 190, 190));
        if (y0 < 0 && y1 > 0) s.Line(left, My(0), right, My(0), new Rgb(190, 190, 190));
        s.StrokeRect(left, top, right - left, bottom - top, Charts.Axis);
        if (XLabel.Length > 0) s.Text((left + right) / 2, Height - 14, XLabel, Charts.Ink, TextAnchor.Middle);
        if (YLabel.Length > 0) s.Text(left, top - 10, YLabel, Charts.Ink, TextAnchor.Middle);

        var shown = new SortedSet<int>();
        foreach (var (x, y, label) in Points)
        {
            if (!double.IsFinite(x) || !double.IsFinite(y)) continue;
            int group = Group(label);
            shown.Add(group);
            s.Dot(Mx(x), My(y), 3, Groups[group].Color, label);
            s.Text(Mx(x) + 6, My(y), label, Groups[group].Color, TextAnchor.Start, 2);
        }

        // Legend: what each colour means, top right inside the plot on a white box.
        if (shown.Count > 0)
        {
            int rowHeight = 16;
            double boxWidth = shown.Max(g => Canvas.TextWidth(Groups[g].Name)) + 32, boxHeight = shown.Count * rowHeight + 10;
            double bx = right - boxWidth - 10, by = top + 10;
            s.FillRect(bx, by, boxWidth, boxHeight, Rgb.White);
            s.StrokeRect(bx, by, boxWidth, boxHeight, Charts.Grid);
            int row = 0;
            foreach (int g in shown)
            {
                double y = by + 5 + rowHeight * (row++ + 0.5);
                s.Dot(bx + 14, y, 4, Groups[g].Color, Groups[g].Name);
                s.Text(bx + 26, y, Groups[g].Name, Charts.Ink);
            }
        }
    }

    /// <summary>The colour groups, in legend order: letters, digits, spaces and punctuation each stand out.</summary>
    static readonly (string Name, Rgb Color)[] Groups =
    [
        ("upper case", Charts.Palette[0]), ("vowels", Charts.Palette[1]), ("consonants", Charts.Palette[2]),
        ("digits", Charts.Palette[7]), ("other", Charts.Palette[3]),
    ];

    static int Group(string label)
    {
        char c = label.Length > 0 ? label[0] : ' ';
        if (label.Length == 1 && char.IsUpper(c)) return 0;
        if (label.Length == 1 && char.IsLower(c) && "aeiou".Contains(c)) return 1;
        if (label.Length == 1 && char.IsLower(c)) return 2;
        if (label.Length == 1 && char.IsDigit(c)) return 3;
        return 4;
    }
}
