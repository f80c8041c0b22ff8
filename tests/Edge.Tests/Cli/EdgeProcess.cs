using System.Diagnostics;

namespace Edge.Tests.Cli;

/// <summary>Runs the real `edge` program (edge.dll, built beside the tests) as a child process.</summary>
public static class EdgeProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string[] ErrorLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    /// <summary>
    /// The CLI's contract for bad input: the documented exit code, exactly one stderr line "edge: ..." containing
    /// <paramref name="contains"/>, never a stack trace, and no colour (every stream is redirected here).
    /// </summary>
    public static void AssertOneLineError(Result r, int exitCode, string contains)
    {
        Xunit.Assert.True(r.ExitCode == exitCode, r.ToString());
        var line = Xunit.Assert.Single(r.ErrorLines);
        Xunit.Assert.StartsWith("edge: ", line);
        Xunit.Assert.Contains(contains, line);
        Xunit.Assert.DoesNotContain("   at ", r.Stderr);
        Xunit.Assert.DoesNotContain("\u001b", r.Stderr);
    }

    public static Result Run(string workingDirectory, params string[] args) => RunWithInput(workingDirectory, stdin: null, args);

    /// <summary>`dotnet edge.dll ARGS` in <paramref name="workingDirectory"/>, every stream redirected.</summary>
    static ProcessStartInfo StartInfo(string workingDirectory, string[] args, (string Name, string Value)[]? environment = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "edge.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? []) start.Environment[name] = value;
        return start;
    }

    /// <summary>Starts edge without waiting for it; its output is read and dropped, so a long run never blocks on a full pipe.</summary>
    public static Process Start(string workingDirectory, params string[] args)
    {
        var process = Process.Start(StartInfo(workingDirectory, args))!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        return process;
    }

    /// <summary>Runs edge with <paramref name="stdin"/> piped in (null: closed at once).</summary>
    public static Result RunWithInput(string workingDirectory, string? stdin, params string[] args) =>
        RunWithEnvironment(workingDirectory, [], stdin, args);

    /// <summary>Runs edge with extra environment variables (the fault tests' hooks) and <paramref name="stdin"/>.</summary>
    public static Result RunWithEnvironment(string workingDirectory, (string Name, string Value)[] environment, string? stdin, params string[] args)
    {
        using var process = Process.Start(StartInfo(workingDirectory, args, environment))!;
        if (stdin is not null) process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("edge " + string.Join(' ', args) + " did not finish in 120 s");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
