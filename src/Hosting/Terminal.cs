namespace Edge.Cli;

/// <summary>
/// What the terminal may show. Live drawing (progress bars, the loss chart) needs stderr to be a terminal;
/// colour needs the stream it goes to to be a terminal, and is off with NO_COLOR set (https://no-color.org)
/// or TERM=dumb. Redirected output is always plain text.
/// </summary>
static class Terminal
{
    const string Escape = "\u001b[";

    static readonly bool Dumb = Environment.GetEnvironmentVariable("TERM") == "dumb";
    static readonly bool NoColor = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));

    /// <summary>stderr is a terminal that understands cursor movement: progress bars may draw.</summary>
    public static bool CanDraw { get; } = !Console.IsErrorRedirected && !Dumb;

    /// <summary>stdout is a terminal (not a file or a pipe).</summary>
    public static bool OutIsTerminal { get; } = !Console.IsOutputRedirected && !Dumb;

    public static bool OutColour { get; } = OutIsTerminal && !NoColor;
    public static bool ErrorColour { get; } = CanDraw && !NoColor;

    /// <summary>Columns of the terminal (80 when unknown).</summary>
    public static int Width => Size(() => Console.WindowWidth, 80);

    /// <summary>Rows of the terminal (24 when unknown).</summary>
    public static int Height => Size(() => Console.WindowHeight, 24);

    static int Size(Func<int> read, int fallback)
    {
        try { int n = read(); return n > 0 ? n : fallback; }
        catch (Exception e) when (e is IOException or PlatformNotSupportedException or InvalidOperationException) { return fallback; }
    }

    // SGR codes: bold 1, dim 2 (both ended by 22), red 31, cyan 36, yellow 33 (ended by 39).
    public const string Red = "31", Cyan = "36", Yellow = "33";

    /// <summary><paramref name="text"/> in an SGR style when <paramref name="enabled"/>, else unchanged.</summary>
    public static string Paint(string text, string code, bool enabled)
    {
        if (!enabled || text.Length == 0) return text;
        string end = code is "1" or "2" ? "22" : "39";
        return $"{Escape}{code}m{text}{Escape}{end}m";
    }

    /// <summary>Bold on stdout when it is a colour terminal: headings and the values that matter.</summary>
    public static string Bold(string text) => Paint(text, "1", OutColour);

    /// <summary>Dim on stdout when it is a colour terminal: secondary information.</summary>
    public static string Dim(string text) => Paint(text, "2", OutColour);

    /// <summary>An error line on stderr, red on a colour terminal.</summary>
    public static void Error(string line) => Console.Error.WriteLine(Paint(line, Red, ErrorColour));

    /// <summary>A command's help with its headings ("Usage:", "Options:", "Examples:") in bold on a colour terminal.</summary>
    public static string Help(string help, bool colour)
    {
        if (!colour) return help;
        var lines = help.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            int colon = line.IndexOf(':');
            bool heading = colon > 0 && char.IsUpper(line[0]) && line[..colon].All(c => char.IsLetter(c) || c == ' ');
            if (heading || (i == 0 && colon > 0)) lines[i] = Paint(line[..(colon + 1)], "1", true) + line[(colon + 1)..];
        }
        return string.Join('\n', lines);
    }
}
