using System.Globalization;
using System.Text;

namespace Edge.Cli;

/// <summary>
/// A line chart in text: Unicode braille cells (2 x 4 dots each) for the curves, the y range's max, middle and
/// min on the left, the x range and a legend below. A pure function, series in and lines out, so `edge train`
/// can redraw it in place and tests can read it.
/// </summary>
/// <example>
/// <code>
/// 4.2210 ┤⠉⠢⡀
///        │  ⠈⠑⢄⡀
/// 2.8713 ┤     ⠈⠉⠒⠤⣀⡀
///        │          ⠈⠉⠉⠒⠒⠤⠤⣀⣀⣀
/// 1.5216 ┤                    ⠉⠉⠉⠉
///        └──────────────────────────
///         0       ⣀ train  ⣀ val   600
/// </code>
/// </example>
static class LossChart
{
    /// <summary>One curve: its name in the legend, its points (NaN and infinite values are skipped), its SGR colour.</summary>
    public sealed record Curve(string Name, IReadOnlyList<(double X, double Y)> Points, string Colour);

    /// <summary>
    /// Draws <paramref name="curves"/> over x from <paramref name="xMin"/> to <paramref name="xMax"/> in exactly
    /// <paramref name="height"/> lines of at most <paramref name="width"/> characters (plus colour codes when
    /// <paramref name="colour"/>). Points in the same dot column are averaged; consecutive columns are joined.
    /// Later curves are drawn over earlier ones.
    /// </summary>
    public static string[] Render(IReadOnlyList<Curve> curves, double xMin, double xMax, int width, int height, bool colour = false)
    {
        if (height < 3) throw new ArgumentOutOfRangeException(nameof(height), "a chart needs at least 3 lines");
        int rows = height - 2; // plot rows; then the axis and the labels
        var finite = curves.SelectMany(c => c.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        double yMin = finite.Count > 0 ? finite.Min(p => p.Y) : 0, yMax = finite.Count > 0 ? finite.Max(p => p.Y) : 1;
        if (!(xMax > xMin)) xMax = xMin + 1;

        if (yMax == yMin) { yMax += 0.5; yMin -= 0.5; } // a flat curve sits in the middle

        var labels = new string?[rows];
        labels[0] = Number(yMax);
        labels[rows - 1] = Number(yMin);
        if (rows >= 5) labels[rows / 2] = Number(yMax - (yMax - yMin) * (rows / 2) / (rows - 1));
        int labelWidth = labels.Max(l => l?.Length ?? 0);
        int columns = Math.Max(1, width - labelWidth - 2);

        int dotsX = columns * 2, dotsY = rows * 4;
        var cells = new int[rows, columns];
        var owner = new int[rows, columns];
        for (int c = 0; c < curves.Count; c++)
        {
            // Average the points of each dot column, then join the columns left to right.
            var sums = new double[dotsX];
            var counts = new int[dotsX];
            foreach (var (x, y) in curves[c].Points)
            {
                if (!double.IsFinite(x) || !double.IsFinite(y)) continue;
                int dx = (int)Math.Round((x - xMin) / (xMax - xMin) * (dotsX - 1));
                if (dx < 0 || dx >= dotsX) continue;
                sums[dx] += y;
                counts[dx]++;
            }
            int lastX = -1, lastY = 0;
            for (int dx = 0; dx < dotsX; dx++)
            {
                if (counts[dx] == 0) continue;
                double y = sums[dx] / counts[dx];
                int dy = Math.Clamp((int)Math.Round((yMax - y) / (yMax - yMin) * (dotsY - 1)), 0, dotsY - 1);
                if (lastX < 0) Dot(cells, owner, dx, dy, c + 1);
                else Join(cells, owner, lastX, lastY, dx, dy, c + 1);
                lastX = dx;
                lastY = dy;
            }
        }

        var lines = new string[height];
        var s = new StringBuilder();
        for (int r = 0; r < rows; r++)
        {
            s.Clear();
            s.Append((labels[r] ?? "").PadLeft(labelWidth)).Append(labels[r] is null ? " │" : " ┤");
            int end = columns;
            while (end > 0 && cells[r, end - 1] == 0) end--; // no trailing blanks
            for (int col = 0; col < end; col++)
            {
                var ch = ((char)(0x2800 + cells[r, col])).ToString();
                s.Append(cells[r, col] == 0 ? " " : Terminal.Paint(ch, curves[owner[r, col] - 1].Colour, colour));
            }
            lines[r] = s.ToString();
        }
        lines[rows] = new string(' ', labelWidth) + " └" + new string('─', columns);

        // Below the axis: the x range at both ends and the legend between them.
        string left = Number(xMin, integer: true), right = Number(xMax, integer: true);
        int inner = columns - left.Length - right.Length;
        int legendLength = curves.Sum(c => c.Name.Length + 2) + 2 * (curves.Count - 1);
        var legend = legendLength + 2 <= inner
            ? string.Join("  ", curves.Select(c => Terminal.Paint("⣀", c.Colour, colour) + " " + c.Name))
            : "";
        int pad = Math.Max(0, inner - (legend.Length > 0 ? legendLength : 0));
        lines[rows + 1] = inner < 0
            ? new string(' ', labelWidth + 2) + left
            : new string(' ', labelWidth + 2) + left + new string(' ', pad / 2) + legend + new string(' ', pad - pad / 2) + right;
        return lines;
    }

    // Braille dot bits by (column, row) within a cell: columns 0-1, rows 0-3 (U+2800 + bits).
    static readonly int[,] Bits = { { 0x01, 0x02, 0x04, 0x40 }, { 0x08, 0x10, 0x20, 0x80 } };

    static void Dot(int[,] cells, int[,] owner, int x, int y, int curve)
    {
        cells[y / 4, x / 2] |= Bits[x % 2, y % 4];
        owner[y / 4, x / 2] = curve;
    }

    /// <summary>A straight line of dots from (x0, y0) to (x1, y1), x0 &lt; x1 (Bresenham).</summary>
    static void Join(int[,] cells, int[,] owner, int x0, int y0, int x1, int y1, int curve)
    {
        int dx = x1 - x0, dy = -Math.Abs(y1 - y0), sy = y0 < y1 ? 1 : -1, err = dx + dy;
        while (true)
        {
            Dot(cells, owner, x0, y0, curve);
            if (x0 == x1 && y0 == y1) return;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0++; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    /// <summary>Four decimals for losses (0.8658), fewer as values grow; steps as whole numbers (12,000).</summary>
    public static string Number(double v, bool integer = false) =>
        integer ? v.ToString("N0", CultureInfo.InvariantCulture)
        : v.ToString(Math.Abs(v) >= 1000 ? "0" : Math.Abs(v) >= 100 ? "0.0" : Math.Abs(v) >= 10 ? "0.00" : "0.0000", CultureInfo.InvariantCulture);
}

/// <summary>
/// The losses of a training run as the chart needs them, safe to read from the drawing thread while the
/// training thread adds to it: the train loss of every step, averaged into at most 1,024 buckets over the
/// run's steps (so a long run keeps constant memory), and the val loss of every evaluation.
/// </summary>
sealed class LossHistory(int firstStep, int lastStep)
{
    const int Buckets = 1024;
    readonly double[] _sums = new double[Buckets];
    readonly int[] _counts = new int[Buckets];
    readonly List<(double, double)> _val = [];
    readonly object _lock = new();

    public int FirstStep => firstStep;
    public int LastStep => lastStep;

    public void AddTrain(int step, double loss)
    {
        if (!double.IsFinite(loss)) return;
        int b = Bucket(step);
        lock (_lock) { _sums[b] += loss; _counts[b]++; }
    }

    public void AddVal(int step, double loss)
    {
        lock (_lock) _val.Add((step, loss));
    }

    int Bucket(int step) =>
        Math.Clamp((int)((long)(step - firstStep) * Buckets / Math.Max(1, lastStep - firstStep + 1)), 0, Buckets - 1);

    /// <summary>The chart of the run so far: train and val loss against step.</summary>
    public string[] Render(int width, int height, bool colour)
    {
        List<(double, double)> train = [], val;
        lock (_lock)
        {
            // About one point per character column: the mean of its steps, which smooths the batch noise.
            double span = Math.Max(1, lastStep - firstStep + 1);
            int group = Math.Max(1, Buckets / Math.Max(1, width));
            for (int g = 0; g < Buckets; g += group)
            {
                double sum = 0;
                int count = 0;
                for (int b = g; b < Math.Min(Buckets, g + group); b++) { sum += _sums[b]; count += _counts[b]; }
                if (count > 0) train.Add((firstStep + (g + 0.5 * Math.Min(group, Buckets - g)) * span / Buckets, sum / count));
            }
            val = [.. _val];
        }
        return LossChart.Render([new("train", train, Terminal.Cyan), new("val", val, Terminal.Yellow)],
            firstStep, lastStep, width, height, colour);
    }
}
