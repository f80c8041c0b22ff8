using System.Globalization;
using System.Text;

namespace Edge.Plotting;

public enum TextAnchor { Start, Middle, End }

/// <summary>
/// What a chart draws on, in pixel coordinates (y down): one chart layout renders both to SVG text and to a
/// raster for PNG. Text is placed by its anchor point horizontally and its middle vertically.
/// </summary>
interface ISurface
{
    void Line(double x0, double y0, double x1, double y1, Rgb color, int width = 1, bool dashed = false);
    void Polyline(IReadOnlyList<(double X, double Y)> points, Rgb color, int width, bool dashed, string title);
    void FillRect(double x, double y, double width, double height, Rgb color, string? title = null);
    void StrokeRect(double x, double y, double width, double height, Rgb color);
    void Dot(double x, double y, int radius, Rgb color, string? title = null);
    void Text(double x, double y, string text, Rgb color, TextAnchor anchor = TextAnchor.Start, int scale = 1);
}

/// <summary>Builds an SVG document (plain XML text).</summary>
sealed class SvgSurface : ISurface
{
    readonly StringBuilder _svg = new();

    public SvgSurface(int width, int height, Rgb background)
    {
        _svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"monospace\">\n");
        _svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"{background.Hex}\"/>\n");
    }

    static string N(double v) => Math.Round(v, 2).ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>Text safe inside XML: markup characters escaped, characters XML cannot hold replaced by '?'.</summary>
    public static string Escape(string s)
    {
        var b = new StringBuilder(s.Length);
        foreach (char c in s)
            b.Append(c switch
            {
                '<' => "&lt;", '>' => "&gt;", '&' => "&amp;", '"' => "&quot;", '\'' => "&apos;",
                _ when c < ' ' && c is not ('\t' or '\n' or '\r') => "?",
                _ when char.IsSurrogate(c) || c is '\uFFFE' or '\uFFFF' => "?",
                _ => c.ToString(),
            });
        return b.ToString();
    }

    public void Line(double x0, double y0, double x1, double y1, Rgb color, int width = 1, bool dashed = false) =>
        _svg.Append($"<line x1=\"{N(x0)}\" y1=\"{N(y0)}\" x2=\"{N(x1)}\" y2=\"{N(y1)}\" stroke=\"{color.Hex}\" stroke-width=\"{width}\"{(dashed ? " stroke-dasharray=\"6 4\"" : "")}/>\n");

    public void Polyline(IReadOnlyList<(double X, double Y)> points, Rgb color, int width, bool dashed, string title)
    {
        _svg.Append("<polyline points=\"");
        for (int i = 0; i < points.Count; i++)
            _svg.Append(i == 0 ? "" : " ").Append(N(points[i].X)).Append(',').Append(N(points[i].Y));
        _svg.Append($"\" fill=\"none\" stroke=\"{color.Hex}\" stroke-width=\"{width}\" stroke-linejoin=\"round\"{(dashed ? " stroke-dasharray=\"6 4\"" : "")}><title>{Escape(title)}</title></polyline>\n");
    }

    public void FillRect(double x, double y, double width, double height, Rgb color, string? title = null) =>
        _svg.Append($"<rect x=\"{N(x)}\" y=\"{N(y)}\" width=\"{N(width)}\" height=\"{N(height)}\" fill=\"{color.Hex}\"")
            .Append(title is null ? "/>\n" : $"><title>{Escape(title)}</title></rect>\n");

    public void StrokeRect(double x, double y, double width, double height, Rgb color) =>
        _svg.Append($"<rect x=\"{N(x)}\" y=\"{N(y)}\" width=\"{N(width)}\" height=\"{N(height)}\" fill=\"none\" stroke=\"{color.Hex}\"/>\n");

    public void Dot(double x, double y, int radius, Rgb color, string? title = null) =>
        _svg.Append($"<circle cx=\"{N(x)}\" cy=\"{N(y)}\" r=\"{radius}\" fill=\"{color.Hex}\"")
            .Append(title is null ? "/>\n" : $"><title>{Escape(title)}</title></circle>\n");

    public void Text(double x, double y, string text, Rgb color, TextAnchor anchor = TextAnchor.Start, int scale = 1)
    {
        string a = anchor switch { TextAnchor.Middle => "middle", TextAnchor.End => "end", _ => "start" };
        _svg.Append($"<text x=\"{N(x)}\" y=\"{N(y)}\" font-size=\"{10 * scale}\" fill=\"{color.Hex}\" text-anchor=\"{a}\" dominant-baseline=\"central\" xml:space=\"preserve\">{Escape(text)}</text>\n");
    }

    public override string ToString() => _svg + "</svg>\n";
}

/// <summary>Draws on a <see cref="Canvas"/> for PNG output.</summary>
sealed class CanvasSurface(Canvas canvas) : ISurface
{
    public Canvas Canvas { get; } = canvas;

    public void Line(double x0, double y0, double x1, double y1, Rgb color, int width = 1, bool dashed = false) =>
        Canvas.Line(x0, y0, x1, y1, color, width, dashed ? 5 : 0);

    public void Polyline(IReadOnlyList<(double X, double Y)> points, Rgb color, int width, bool dashed, string title)
    {
        if (points.Count == 1) Canvas.Dot((int)Math.Round(points[0].X), (int)Math.Round(points[0].Y), width + 1, color);
        for (int i = 1; i < points.Count; i++)
            Canvas.Line(points[i - 1].X, points[i - 1].Y, points[i].X, points[i].Y, color, width, dashed ? 5 : 0);
    }

    public void FillRect(double x, double y, double width, double height, Rgb color, string? title = null)
    {
        int x0 = (int)Math.Round(x), y0 = (int)Math.Round(y);
        Canvas.FillRect(x0, y0, (int)Math.Round(x + width) - x0, (int)Math.Round(y + height) - y0, color);
    }

    public void StrokeRect(double x, double y, double width, double height, Rgb color) =>
        Canvas.StrokeRect((int)Math.Round(x), (int)Math.Round(y), (int)Math.Round(width) + 1, (int)Math.Round(height) + 1, color);

    public void Dot(double x, double y, int radius, Rgb color, string? title = null) =>
        Canvas.Dot((int)Math.Round(x), (int)Math.Round(y), radius, color);

    public void Text(double x, double y, string text, Rgb color, TextAnchor anchor = TextAnchor.Start, int scale = 1)
    {
        int w = Canvas.TextWidth(text, scale);
        double left = anchor switch { TextAnchor.Middle => x - w / 2.0, TextAnchor.End => x - w, _ => x };
        Canvas.Text((int)Math.Round(left), (int)Math.Round(y - Canvas.CharHeight * scale / 2.0), text, color, scale);
    }
}

/// <summary>Shared chart helpers: colours, tick positions and labels, output by file extension.</summary>
public static class Charts
{
    /// <summary>Distinct, colour-blind-friendly line colours (Okabe-Ito, then Tableau).</summary>
    public static readonly Rgb[] Palette =
    [
        new(0, 114, 178), new(213, 94, 0), new(0, 158, 115), new(204, 121, 167), new(86, 180, 233),
        new(230, 159, 0), new(127, 127, 127), new(148, 103, 189), new(140, 86, 75), new(188, 189, 34),
    ];

    internal static readonly Rgb Ink = new(34, 34, 34), Grid = new(225, 225, 225), Axis = new(90, 90, 90);

    /// <summary>About <paramref name="count"/> round tick values (steps of 1, 2 or 5 times a power of ten) within [min, max].</summary>
    public static List<double> NiceTicks(double min, double max, int count = 6)
    {
        var ticks = new List<double>();
        if (!double.IsFinite(min) || !double.IsFinite(max)) return ticks;
        if (max <= min) { ticks.Add(min); return ticks; }
        double raw = (max - min) / Math.Max(1, count);
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = mag * (raw / mag < 1.5 ? 1 : raw / mag < 3.5 ? 2 : raw / mag < 7.5 ? 5 : 10);
        for (double t = Math.Ceiling(min / step - 1e-9) * step; t <= max + step * 1e-9; t += step)
            ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        return ticks;
    }

    /// <summary>Tick values for a log axis: powers of ten (with 2 and 5 between when few), or round values for a short range.</summary>
    public static List<double> LogTicks(double min, double max)
    {
        if (min <= 0 || max <= min) return NiceTicks(min, max);
        double decades = Math.Log10(max / min);
        if (decades < 1.2) return NiceTicks(min, max, 5);
        var ticks = new List<double>();
        double[] mantissas = decades < 4 ? [1, 2, 5] : [1];
        for (int e = (int)Math.Floor(Math.Log10(min)); e <= (int)Math.Ceiling(Math.Log10(max)); e++)
            foreach (var m in mantissas)
            {
                double t = m * Math.Pow(10, e);
                if (t >= min * (1 - 1e-9) && t <= max * (1 + 1e-9)) ticks.Add(t);
            }
        return ticks;
    }

    /// <summary>
    /// Labels for a row of ticks: <see cref="Format"/>'s short ones, or, where two would read the same (the close ticks
    /// of a flat series, 0.0019 0.0019 0.002), as many significant digits as it takes to tell them apart.
    /// </summary>
    public static List<(double Value, string Label)> Labelled(List<double> ticks)
    {
        var labels = ticks.Select(Format).ToList();
        for (int digits = 5; digits <= 12 && labels.Distinct().Count() < labels.Count; digits++)
            labels = ticks.Select(t => t.ToString("G" + digits, CultureInfo.InvariantCulture)).ToList();
        return ticks.Zip(labels).ToList();
    }

    /// <summary>A short label for a tick value: at most 4 significant digits, thousands as "k".</summary>
    public static string Format(double v)
    {
        if (v == 0) return "0";
        double a = Math.Abs(v);
        if (a >= 10_000 && a < 1e7 && Math.Round(v / 1000, 3) == Math.Round(v / 1000)) return (v / 1000).ToString("0.###", CultureInfo.InvariantCulture) + "k";
        if (a >= 1e-4 && a < 1e5) return v.ToString("0.####", CultureInfo.InvariantCulture) is var s && s.Length <= 7 ? s : v.ToString("G4", CultureInfo.InvariantCulture);
        return v.ToString("0.##E0", CultureInfo.InvariantCulture);
    }

    /// <summary>Title text at double size when it fits the width, else normal size.</summary>
    internal static int TitleScale(string title, int width) => Canvas.TextWidth(title, 2) <= width - 20 ? 2 : 1;

    /// <summary>Whether a path names an SVG (true) or PNG (false) file; anything else is refused.</summary>
    public static bool IsSvgPath(string path) =>
        Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".svg" => true,
            ".png" => false,
            _ => throw new ArgumentException($"{path}: expected a .svg or .png file name"),
        };

    internal static void WriteText(string path, string text) =>
        PngWriter.WriteFileAtomically(path, new UTF8Encoding(false).GetBytes(text));
}
