using System.Diagnostics;

namespace Edge.Cli;

/// <summary>
/// A one-line progress bar on stderr with count, rate and ETA, redrawn at most ten times a second. It draws
/// only when stderr is a terminal, so logs and pipes get clean lines instead of carriage returns.
/// </summary>
sealed class ProgressBar
{
    readonly string _unit;
    readonly long _total;
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly bool _enabled;
    long _lastDraw = -1;
    bool _drawn;

    public ProgressBar(long total, string unit, bool quiet)
    {
        _total = total;
        _unit = unit;
        _enabled = !quiet && !Console.IsErrorRedirected;
    }

    /// <summary>Redraws if enough time has passed. Allocates only when it draws.</summary>
    public void Report(long done, string? status = null)
    {
        if (!_enabled) return;
        long ms = _clock.ElapsedMilliseconds;
        if (done < _total && _lastDraw >= 0 && ms - _lastDraw < 100) return;
        _lastDraw = ms;
        double seconds = Math.Max(ms / 1000.0, 1e-9);
        double rate = done / seconds;
        double eta = rate > 0 ? (_total - done) / rate : 0;
        const int width = 28;
        int filled = (int)(width * done / Math.Max(1, _total));
        var bar = new string('#', filled) + new string('.', width - filled);
        Console.Error.Write($"\r[{bar}] {done}/{_total} {_unit}  {rate:0.0}/s  ETA {Format(eta)}  {status}\u001b[K");
        _drawn = true;
    }

    /// <summary>Clears the bar's line so the next output starts clean.</summary>
    public void Clear()
    {
        if (_drawn) Console.Error.Write("\r\u001b[K");
        _drawn = false;
    }

    static string Format(double seconds) =>
        seconds >= 3600 ? $"{seconds / 3600:0.0}h" : seconds >= 60 ? $"{(int)seconds / 60}m{(int)seconds % 60:00}s" : $"{seconds:0}s";
}
