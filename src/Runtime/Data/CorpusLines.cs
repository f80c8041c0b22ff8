namespace Edge.Data;

/// <summary>Line-per-example data (one name per line, as in makemore).</summary>
public static class CorpusLines
{
    /// <summary>The lines of <paramref name="text"/>, trimmed of surrounding whitespace (and '\r'), empty ones dropped.</summary>
    public static string[] Split(string text) =>
        text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
}
