using System.Globalization;

namespace Edge.Cli;

/// <summary>A bad command line: reported like any other input error, but with exit code 2.</summary>
sealed class UsageException(string message) : EdgeException(message);

/// <summary>
/// The command line of one sub-command: positionals and `--name value` / `--name=value` options. Every
/// getter validates and names the option in its error; <see cref="RejectUnknown"/> catches typos.
/// </summary>
sealed class Args
{
    readonly string _command;
    readonly List<string> _positionals = [];
    readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    readonly List<(string Name, string? Value)> _all = [];
    readonly HashSet<string> _used = [];

    Args(string command) => _command = command;

    public IReadOnlyList<string> Positionals => _positionals;
    public bool Help => _options.ContainsKey("help") || _options.ContainsKey("h");

    /// <param name="flags">Options that take no value.</param>
    public static Args Parse(string command, ReadOnlySpan<string> argv, params string[] flags)
    {
        var args = new Args(command);
        for (int i = 0; i < argv.Length; i++)
        {
            var a = argv[i];
            if (a == "-h") { args._options["h"] = null; continue; }
            if (!a.StartsWith("--", StringComparison.Ordinal) || a == "--")
            {
                args._positionals.Add(a);
                continue;
            }
            var name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else if (name != "help" && !flags.Contains(name))
            {
                if (i + 1 >= argv.Length) throw new UsageException($"option --{name} needs a value");
                value = argv[++i];
            }
            args._options[name] = value;
            args._all.Add((name, value));
        }
        return args;
    }

    /// <summary>Every value of a repeatable option, in order.</summary>
    public IReadOnlyList<string> Strings(string name)
    {
        _used.Add(name);
        var values = _all.Where(o => o.Name == name).Select(o => o.Value ?? "").ToList();
        if (values.Any(v => v.Length == 0)) throw new UsageException($"option --{name} needs a value");
        return values;
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        return _options.ContainsKey(name);
    }

    public string? String(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out var v)) return null;
        if (string.IsNullOrEmpty(v)) throw new UsageException($"option --{name} needs a value");
        return v;
    }

    /// <summary>The option's text exactly as given, even empty (a prompt may be "").</summary>
    public string? Text(string name)
    {
        _used.Add(name);
        return _options.TryGetValue(name, out var v) ? v ?? "" : null;
    }

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var s = String(name);
        if (s is null) return fallback;
        if (!int.TryParse(s.Replace("_", ""), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            throw new UsageException($"option --{name}: expected an integer, got '{s}'");
        if (v < min || v > max)
            throw new UsageException($"option --{name}: {v} is out of range ({Range(min, max)})");
        return v;
    }

    public ulong ULong(string name, ulong fallback)
    {
        var s = String(name);
        if (s is null) return fallback;
        if (!ulong.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            throw new UsageException($"option --{name}: expected a non-negative integer, got '{s}'");
        return v;
    }

    public double Double(string name, double fallback, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        var s = String(name);
        if (s is null) return fallback;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            throw new UsageException($"option --{name}: expected a number, got '{s}'");
        if (v < min || v > max)
            throw new UsageException($"option --{name}: {s} is out of range ({Range(min, max)})");
        return v;
    }

    public T Choice<T>(string name, T fallback, params (string Text, T Value)[] choices)
    {
        var s = String(name);
        if (s is null) return fallback;
        foreach (var (text, value) in choices)
            if (string.Equals(text, s, StringComparison.OrdinalIgnoreCase)) return value;
        throw new UsageException($"option --{name}: expected one of {string.Join(", ", choices.Select(c => c.Text))}, got '{s}'");
    }

    /// <summary>--threads N: how many cores the kernels use (default: all; 1 = single-threaded). Results do not depend on it.</summary>
    public int Threads()
    {
        int threads = Int("threads", Environment.ProcessorCount, min: 1, max: 1024);
        Edge.Kernels.Parallelism.Threads = threads;
        return threads;
    }

    /// <summary>Fails on options the command does not know and on extra positionals.</summary>
    public void RejectUnknown(int maxPositionals)
    {
        foreach (var name in _options.Keys)
            if (!_used.Contains(name) && name is not ("help" or "h"))
                throw new UsageException($"unknown option --{name} for 'edge {_command}' (see 'edge {_command} --help')");
        if (_positionals.Count > maxPositionals)
            throw new UsageException($"unexpected argument '{_positionals[maxPositionals]}' for 'edge {_command}' (see 'edge {_command} --help')");
    }

    static string Range(double min, double max) =>
        (double.IsInfinity(min) || min == int.MinValue) ? $"at most {max}" :
        (double.IsInfinity(max) || max == int.MaxValue) ? $"at least {min}" : $"{min} to {max}";
}
