using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Edge.Cli;

/// <summary>
/// A live block at the bottom of stderr: a progress bar with count, rate and ETA, and optionally lines above
/// it (the loss chart of `edge train`). A timer redraws the block in place (at most ten times a second, four
/// with lines above), so the work loop only stores a count: no clock reads, no drawing and no allocation on
/// its thread. It draws only when stderr is a terminal and not with --quiet, so logs and pipes get clean lines.
/// </summary>
/// <remarks>
/// One line per job: <c>using var bar = new ProgressBar(total, "steps", quiet);</c> then <c>bar.Report(done)</c>.
/// Before writing to the terminal while the bar is shown, call <see cref="Clear"/>; the bar comes back with
/// the next <see cref="Report(long)"/>. A total of 0 or less shows only the status and the elapsed time.
/// </remarks>
sealed class ProgressBar : IDisposable
{
    readonly string _unit;
    readonly long _total, _start;
    readonly string? _valueName;
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly Timer? _timer;
    readonly object _lock = new();
    long _done;
    double _value = double.NaN;
    volatile string? _status;
    volatile bool _hidden;
    bool _drawn, _disposed;
    int _linesAbove;
    long _lastAbove;

    /// <param name="valueName">Shown with the last value passed to <see cref="Report(long, double)"/> ("loss").</param>
    /// <param name="start">Where the count starts (a resumed run): the rate counts from here.</param>
    public ProgressBar(long total, string unit, bool quiet, string? valueName = null, string? status = null, long start = 0)
    {
        _total = total;
        _start = _done = start;
        _unit = unit;
        _valueName = valueName;
        _status = status;
        Enabled = !quiet && Terminal.CanDraw;
        if (Enabled) _timer = new Timer(_ => Tick(), null, 100, 100);
    }

    /// <summary>Whether anything is drawn at all.</summary>
    public bool Enabled { get; }

    /// <summary>Lines to draw above the bar for a given width (the live chart); called on the timer's thread.</summary>
    public Func<int, IReadOnlyList<string>>? Above { get; init; }

    /// <summary>Redraws with lines above at most this often (ms); the bar alone every 100 ms.</summary>
    public int AboveInterval { get; init; } = 250;

    /// <summary>Free text after the rate and ETA (what is happening now).</summary>
    public string? Status { set => _status = value; }

    public void Report(long done)
    {
        Volatile.Write(ref _done, done);
        _hidden = false;
    }

    public void Report(long done, double value)
    {
        Volatile.Write(ref _value, value);
        Report(done);
    }

    void Tick()
    {
        lock (_lock)
        {
            if (_hidden || _disposed) return;
            long ms = _clock.ElapsedMilliseconds;
            bool above = Above is not null && (ms - _lastAbove >= AboveInterval || !_drawn);
            if (Above is not null && !above) return; // a chart redraws the whole block, so the bar waits for it
            if (above) _lastAbove = ms;
            Draw(Above?.Invoke(Math.Max(20, Terminal.Width - 1)) ?? []);
        }
    }

    void Draw(IReadOnlyList<string> above)
    {
        int width = Math.Max(20, Terminal.Width - 1);
        var s = new StringBuilder();
        s.Append('\r');
        if (_linesAbove > 0) s.Append(CultureInfo.InvariantCulture, $"\u001b[{_linesAbove}A");
        foreach (var line in above) s.Append(line).Append("\u001b[K\n");
        s.Append(Line(Volatile.Read(ref _done), _total, _unit, _clock.Elapsed.TotalSeconds, StatusText(), width, _start));
        s.Append("\u001b[K\u001b[J");
        Console.Error.Write(s.ToString());
        _linesAbove = above.Count;
        _drawn = true;
    }

    string? StatusText()
    {
        double v = Volatile.Read(ref _value);
        string? value = _valueName is not null && double.IsFinite(v) ? $"{_valueName} {v.ToString("0.0000", CultureInfo.InvariantCulture)}" : null;
        string? status = _status;
        return value is null ? status : status is null ? value : $"{value}  {status}";
    }

    /// <summary>Erases the block so the next output starts clean; it stays away until the next Report.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _hidden = true;
            Erase();
        }
    }

    void Erase()
    {
        if (!_drawn) return;
        Console.Error.Write(_linesAbove > 0 ? $"\r\u001b[{_linesAbove}A\u001b[J" : "\r\u001b[J");
        _drawn = false;
        _linesAbove = 0;
    }

    /// <summary>Stops the timer and erases the block.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _timer?.Dispose();
            Erase();
        }
    }

    /// <summary>
    /// The bar's line: <c>[#####.......] 120/600 steps  45.2/s  ETA 11s  loss 2.1234</c>, cut to
    /// <paramref name="width"/> columns. With a total of 0 or less: the status and the elapsed time.
    /// </summary>
    public static string Line(long done, long total, string unit, double seconds, string? status, int width, long start = 0)
    {
        string line;
        if (total <= 0) line = $"{status ?? "working"}  {Duration(seconds)}";
        else
        {
            done = Math.Clamp(done, 0, total);
            double rate = seconds > 0 ? Math.Max(0, done - start) / seconds : 0;
            string eta = done >= total ? $"in {Duration(seconds)}" : rate > 0 ? $"ETA {Duration((total - done) / rate)}" : "ETA --";
            string counts = unit == "bytes"
                ? $"{Megabytes(done)}/{Megabytes(total)} MB  {Megabytes((long)rate)} MB/s"
                : $"{Count(done)}/{Count(total)} {unit}  {Rate(rate)}/s";
            int barWidth = Math.Clamp(width / 4, 10, 30);
            int filled = (int)(barWidth * done / total);
            line = $"[{new string('#', filled)}{new string('.', barWidth - filled)}] {counts}  {eta}{(status is null ? "" : "  " + status)}";
        }
        return line.Length <= width ? line : line[..width];
    }

    static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    static string Megabytes(long bytes) => (bytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture);

    static string Rate(double r) => r.ToString(r >= 100 ? "N0" : "0.0", CultureInfo.InvariantCulture);

    /// <summary>12s, 3m05s, 1.5h.</summary>
    public static string Duration(double seconds) =>
        seconds >= 3600 ? $"{(seconds / 3600).ToString("0.0", CultureInfo.InvariantCulture)}h"
        : seconds >= 60 ? $"{(int)seconds / 60}m{(int)seconds % 60:00}s"
        : $"{seconds.ToString("0", CultureInfo.InvariantCulture)}s";
}
