namespace Edge;

/// <summary>
/// A problem with the user's input (a file, an option, a declaration) that the CLI reports as one line on
/// stderr with a non-zero exit code. The message names the file or option and says what is wrong; it never
/// needs a stack trace to be understood.
/// </summary>
public class EdgeException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>
    /// Text that comes from a file (a name, a token) or from a library's message (a JSON parser quotes the bad
    /// input, line breaks included), made fit for a one-line message: control characters as '?', at most 200 characters.
    /// </summary>
    internal static string OneLine(string s)
    {
        if (s.Length > 200) s = s[..200] + "...";
        return string.Create(s.Length, s, (span, src) => { for (int i = 0; i < src.Length; i++) span[i] = char.IsControl(src[i]) ? '?' : src[i]; });
    }
}
