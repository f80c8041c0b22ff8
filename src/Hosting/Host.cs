namespace Edge.Cli;

/// <summary>
/// How a host program ends: input errors are one line on stderr ("NAME: ...") and a non-zero exit code: 1 for bad input
/// (files, data), 2 for a bad command line, 3 for an internal error (red on a colour terminal). Shared by `edge` and
/// `edge-gpu`.
/// </summary>
static class Host
{
    public static int Run(string name, Func<int> command)
    {
        try
        {
            return command();
        }
        catch (UsageException e)
        {
            Terminal.Error($"{name}: {e.Message}");
            return 2;
        }
        catch (EdgeException e)
        {
            Terminal.Error($"{name}: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Terminal.Error($"{name}: {e.Message}");
            return 1;
        }
        catch (Exception e)
        {
            Terminal.Error($"{name}: internal error: {e.GetType().Name}: {e.Message}");
            if (Environment.GetEnvironmentVariable("EDGE_DEBUG") == "1") Console.Error.WriteLine(e); // for bug reports
            return 3;
        }
    }
}
