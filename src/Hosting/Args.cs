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
    public static Args Parse(string command, ReadOnlySpan<string> argv, params string[] flags) => Parse(command, argv, flags, known: null);

    /// <param name="known">Every option the command has (from its help text): any other is refused before the command
    /// runs, with the nearest known name, so a typo is never reported as a missing required option.</param>
    public static Args Parse(string command, ReadOnlySpan<string> argv, string[] flags, IReadOnlyCollection<string>? known)
    {
        var args = ParseAll(command, argv, flags);
        if (known is not null)
            foreach (var (name, _) in args._all)
                if (!known.Contains(name) && name is not ("help" or "h"))
                    throw new UsageException($"unknown option --{name} for 'edge {command}'{Suggest(name, known, "--")} (see 'edge {command} --help')");
        return args;
    }

    /// <summary>The option names a help text mentions ("--model", "--top-p"): what the command accepts.</summary>
    public static HashSet<string> OptionsIn(string help) =>
        System.Text.RegularExpressions.Regex.Matches(help, @"(?<![\w-])--([a-z][a-z0-9-]*)").Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

    /// <summary>" (did you mean --model?)" for the known name nearest to a typo (edit distance at most 2), else "".</summary>
    public static string Suggest(string name, IEnumerable<string> known, string prefix)
    {
        var best = known.Select(k => (Name: k, Distance: Distance(name, k))).Where(k => k.Distance <= Math.Max(1, Math.Min(2, k.Name.Length / 3)))
            .OrderBy(k => k.Distance).ThenBy(k => k.Name, StringComparer.Ordinal).FirstOrDefault();
        return best.Name is null ? "" : $" (did you mean {prefix}{best.Name}?)";
    }

    /// <summary>Levenshtein distance, with a swap of two neighbours counted as one edit ("modle" -> "model").</summary>
    static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }

    static Args ParseAll(string command, ReadOnlySpan<string> argv, string[] flags)
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
                throw new UsageException($"unknown option --{name} for 'edge {_command}'{Suggest(name, _used, "--")} (see 'edge {_command} --help')");
        if (_positionals.Count > maxPositionals)
            throw new UsageException($"unexpected argument '{_positionals[maxPositionals]}' for 'edge {_command}' (see 'edge {_command} --help')");
    }

    static string Range(double min, double max) =>
        (double.IsInfinity(min) || min == int.MinValue) ? $"at most {max}" :
        (double.IsInfinity(max) || max == int.MaxValue) ? $"at least {min}" : $"{min} to {max}";
}
