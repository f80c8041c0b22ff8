using Edge;
using Edge.Cli;

// edge: one binary, a sub-command per job. Input errors are one line on stderr and a non-zero exit code:
// 1 for bad input (files, data), 2 for a bad command line, 3 for an internal error (red on a colour terminal).
try
{
    return Commands.Run(args);
}
catch (UsageException e)
{
    Terminal.Error($"edge: {e.Message}");
    return 2;
}
catch (EdgeException e)
{
    Terminal.Error($"edge: {e.Message}");
    return 1;
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException)
{
    Terminal.Error($"edge: {e.Message}");
    return 1;
}
catch (Exception e)
{
    Terminal.Error($"edge: internal error: {e.GetType().Name}: {e.Message}");
    if (Environment.GetEnvironmentVariable("EDGE_DEBUG") == "1") Console.Error.WriteLine(e); // for bug reports
    return 3;
}
