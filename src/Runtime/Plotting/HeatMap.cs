namespace Edge.Plotting;

/// <summary>
/// A square matrix of values in [0, 1] (attention probabilities: row = query position, column = key position)
/// as coloured cells, with a token label for every row and column and a colour bar.
/// </summary>
public sealed class HeatMap
{
    public HeatMap(float[,] values, IReadOnlyList<string> labels)
    {
        int n = values.GetLength(0);
        if (values.GetLength(1) != n) throw new ArgumentException($"values: expected a square matrix, got {n} x {values.GetLength(1)}");
        if (labels.Count != n) throw new ArgumentException($"labels: expected {n}, got {labels.Count}");
        if (n == 0) throw new ArgumentException("values: the matrix is empty");
        Values = values;
        Labels = labels;
    }

    public float[,] Values { get; }
    public IReadOnlyList<string> Labels { get; }
    public string Title { get; set; } = "";
    public string RowLabel { get; set; } = "query";
    public string ColumnLabel { get; set; } = "key";

    static readonly Rgb Low = new(255, 255, 255), Mid = new(86, 156, 214), High = new(8, 29, 88);

    /// <summary>White through blue to navy.</summary>
    public static Rgb ColorOf(double v) => v < 0.5 ? Rgb.Mix(Low, Mid, v * 2) : Rgb.Mix(Mid, High, (v - 0.5) * 2);

    int N => Values.GetLength(0);
    int Cell => Math.Clamp(640 / N, 8, 28);
    int LabelScale => Cell >= 20 ? 2 : 1;
    int LabelWidth => Labels.Max(l => Canvas.TextWidth(l, LabelScale)) + 10;
    double Left => 24 + LabelWidth;
    double Top => (Title.Length > 0 ? 46 : 20) + 16 + LabelWidth;
    public int Width => (int)Math.Max(Math.Max(Left + N * Cell + 90, Canvas.TextWidth(Caption) + 2 * Left), Canvas.TextWidth(Title) + 40);
    public int Height => (int)(Top + Math.Max(60, N * Cell) + 40);
    string Caption => $"rows: {RowLabel}, columns: {ColumnLabel}";

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

    internal void Render(ISurface s)
    {
        int n = N, cell = Cell, scale = LabelScale;
        double left = Left, top = Top;
        if (Title.Length > 0) s.Text(Width / 2.0, 22, Title, Charts.Ink, TextAnchor.Middle, Charts.TitleScale(Title, Width));
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
            {
                double v = Values[r, c];
                s.FillRect(left + c * cell, top + r * cell, cell, cell, ColorOf(v), $"{Labels[r]} -> {Labels[c]}: {v:0.###}");
            }
        s.StrokeRect(left, top, n * cell, n * cell, Charts.Axis);

        // Row labels at the left; column labels above, written top to bottom one character a line
        // (there is no rotated text in the bitmap font), aligned at the bottom just above the cells.
        for (int i = 0; i < n; i++)
        {
            double mid = i * cell + cell / 2.0;
            s.Text(left - 6, top + mid, Labels[i], Charts.Ink, TextAnchor.End, scale);
            var label = Labels[i];
            double lineHeight = (Canvas.CharHeight + 2) * scale;
            for (int k = 0; k < label.Length; k++)
                s.Text(left + mid, top - 6 - (label.Length - k - 0.5) * lineHeight, label[k].ToString(), Charts.Ink, TextAnchor.Middle, scale);
        }
        s.Text(left, top + Math.Max(60, n * cell) + 20, Caption, Charts.Axis);

        // Colour bar.
        double bx = left + n * cell + 24, bh = Math.Max(60, n * cell);
        for (int k = 0; k < 50; k++)
            s.FillRect(bx, top + bh * k / 50, 14, bh / 50 + 1, ColorOf(1 - (k + 0.5) / 50));
        s.StrokeRect(bx, top, 14, bh, Charts.Axis);
        s.Text(bx + 20, top + 3, "1", Charts.Ink);
        s.Text(bx + 20, top + bh / 2, "0.5", Charts.Ink);
        s.Text(bx + 20, top + bh - 3, "0", Charts.Ink);
    }
}
