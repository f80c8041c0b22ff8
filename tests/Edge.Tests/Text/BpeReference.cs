using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Edge.Tests.Support;

namespace Edge.Tests.Text;

/// <summary>
/// GPT-2's own encoder, run live out of process when this machine has one: OpenAI's encoder.py algorithm in
/// Python with the `regex` module (reference/gpt2_reference.py), or else the npm package gpt-3-encoder from
/// $EDGE_REFERENCE_NODE_MODULES under Node.js (reference/gpt3_encoder_reference.js). Texts go in as a JSON array
/// on stdin; id lists come back. Without either, the tests compare with the ids stored by the Python script
/// (<see cref="BpeStoredReference"/>); EDGE_REQUIRE_REFERENCE=1 (set by CI) makes a missing live reference a
/// failure instead.
/// </summary>
static class BpeReference
{
    public static string Encoder => TestData.File("gpt2/encoder.json");
    public static string Merges => TestData.File("gpt2/vocab.bpe");

    static string Script(string name) => Path.Combine(TestData.RepoRoot, "tests", "Edge.Tests", "Text", "reference", name);

    /// <summary>The live reference's tool and script, or null; looked up once.</summary>
    static readonly Lazy<(string Tool, string Script)?> Live = new(Find);

    public static bool Available => Live.Value is not null;

    /// <summary>What the live reference is, for test output.</summary>
    public static string Describe() => Live.Value is { } live
        ? $"live reference: {live.Tool} {Path.GetFileName(live.Script)}"
        : "no live reference (python3 with `regex`, or node with gpt-3-encoder): compared with the stored ids only";

    /// <summary>Fails when EDGE_REQUIRE_REFERENCE=1 and no live reference runs here.</summary>
    public static void RequireIfAsked()
    {
        if (Environment.GetEnvironmentVariable("EDGE_REQUIRE_REFERENCE") == "1" && !Available)
            throw new InvalidOperationException(
                "EDGE_REQUIRE_REFERENCE=1 but there is no GPT-2 reference encoder: need `python3` with the `regex` module (pip install regex), " +
                "or Node.js with the npm package gpt-3-encoder installed in the folder named by EDGE_REFERENCE_NODE_MODULES");
    }

    /// <summary>The live reference's ids for each text, in order.</summary>
    public static int[][] Encode(IReadOnlyList<string> texts)
    {
        var (tool, script) = Live.Value ?? throw new InvalidOperationException(Describe());
        var input = JsonSerializer.Serialize(texts.ToArray(), BpeJson.Default.StringArray);
        string[] args = tool == "python3" ? ["encode", Encoder, Merges] : ["encode"];     // gpt-3-encoder has its own copy
        var output = Run(tool, script, args, input);
        return JsonSerializer.Deserialize(output, BpeJson.Default.Int32ArrayArray) ?? throw new InvalidOperationException("reference gave null");
    }

    /// <summary>The live reference regex's class letter (s, L, N, o) for every code point.</summary>
    public static string Classes()
    {
        var (tool, script) = Live.Value ?? throw new InvalidOperationException(Describe());
        return Run(tool, script, ["classes"], "");
    }

    static (string, string)? Find()
    {
        if (Works("python3", "-c", "import regex")) return ("python3", Script("gpt2_reference.py"));
        string? modules = Environment.GetEnvironmentVariable("EDGE_REFERENCE_NODE_MODULES");
        if (modules is { Length: > 0 } && Works("node", "-e", $"require({JsonSerializer.Serialize(Path.Combine(modules, "gpt-3-encoder"), BpeJson.Default.String)})"))
            return ("node", Script("gpt3_encoder_reference.js"));
        return null;
    }

    internal static bool Works(string tool, params string[] args)
    {
        try { return RunProcess(tool, args, "").ExitCode == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; }           // tool not installed
    }

    static string Run(string tool, string script, string[] args, string stdin)
    {
        var (code, stdout, stderr) = RunProcess(tool, [script, .. args], stdin);
        if (code != 0) throw new InvalidOperationException($"reference {tool} failed ({code}): {stderr}");
        return stdout;
    }

    internal static (int ExitCode, string Stdout, string Stderr) RunProcess(string tool, string[] args, string stdin)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false), StandardOutputEncoding = Encoding.UTF8, StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(entireProcessTree: true); throw new TimeoutException($"reference {tool} took over 5 minutes"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
[System.Text.Json.Serialization.JsonSerializable(typeof(int[][]))]
partial class BpeJson : System.Text.Json.Serialization.JsonSerializerContext;
