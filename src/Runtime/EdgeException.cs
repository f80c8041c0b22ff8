namespace Edge;

/// <summary>
/// A problem with the user's input (a file, an option, a declaration) that the CLI reports as one line on
/// stderr with a non-zero exit code. The message names the file or option and says what is wrong; it never
/// needs a stack trace to be understood.
/// </summary>
public class EdgeException(string message, Exception? inner = null) : Exception(message, inner);
