using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Edge.Tests.Support;

namespace Edge.Tests.Text;

/// <summary>
/// GPT-2's own encoder, run out of process: OpenAI's encoder.py algorithm in Python with the `regex` module,
/// or else the npm package gpt-3-encoder from $EDGE_REFERENCE_NODE_MODULES under Node.js. Neither available
/// is a test failure, never a silent pass. Texts go in as a JSON array on stdin; id lists come back.
/// </summary>
static class BpeReference
{

    const string PythonEncoder = """
        import json, sys, regex as re

        def bytes_to_unicode():
            bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
            cs = bs[:]
            n = 0
            for b in range(256):
                if b not in bs:
                    bs.append(b)
                    cs.append(256 + n)
                    n += 1
            return dict(zip(bs, map(chr, cs)))

        encoder = json.load(open(sys.argv[1], encoding="utf-8"))
        merges = [tuple(m.split()) for m in open(sys.argv[2], encoding="utf-8").read().split("\n")[1:-1]]
        ranks = dict(zip(merges, range(len(merges))))
        byte_encoder = bytes_to_unicode()
        pat = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
        cache = {}

        def bpe(token):
            if token in cache:
                return cache[token]
            word = tuple(token)
            while len(word) > 1:
                bigram = min(zip(word, word[1:]), key=lambda pair: ranks.get(pair, float("inf")))
                if bigram not in ranks:
                    break
                first, second = bigram
                new_word, i = [], 0
                while i < len(word):
                    try:
                        j = word.index(first, i)
                        new_word.extend(word[i:j])
                        i = j
                    except ValueError:
                        new_word.extend(word[i:])
                        break
                    if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                        new_word.append(first + second)
                        i += 2
                    else:
                        new_word.append(word[i])
                        i += 1
                word = tuple(new_word)
            cache[token] = word
            return word

        def encode(text):
            ids = []
            for k, chunk in enumerate(text.split("<|endoftext|>")):
                if k > 0:
                    ids.append(encoder["<|endoftext|>"])
                for token in re.findall(pat, chunk):
                    ids.extend(encoder[t] for t in bpe("".join(byte_encoder[b] for b in token.encode("utf-8"))))
            return ids

        texts = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        sys.stdout.write(json.dumps([encode(t) for t in texts]))
        """;

    // gpt-3-encoder's JS regex has JavaScript's \s (no U+0085, but U+FEFF), and its encode() concatenates
    // arrays per piece (quadratic on long texts): split with Python's \s (White_Space), encode piece by piece.
    const string NodeEncoder = """
        const path = require('path');
        const { encode } = require(path.join(process.env.EDGE_REFERENCE_NODE_MODULES, 'gpt-3-encoder'));
        const pat = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;
        const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
        const out = texts.map(t => {
            const ids = [];
            t.split('<|endoftext|>').forEach((chunk, k) => {
                if (k > 0) ids.push(50256);
                for (const m of chunk.matchAll(pat)) for (const id of encode(m[0])) ids.push(id);
            });
            return ids;
        });
        process.stdout.write(JSON.stringify(out));
        """;

    // Per code point 0..0x10FFFF (surrogates included, as Other): s, L, N or o, for the regex's classes.
    const string PythonClasses = """
        import sys, regex
        s, l, n = regex.compile(r"\s"), regex.compile(r"\p{L}"), regex.compile(r"\p{N}")
        sys.stdout.write("".join("s" if s.match(c) else "L" if l.match(c) else "N" if n.match(c) else "o" for c in map(chr, range(0x110000))))
        """;

    const string NodeClasses = """
        const parts = [];
        for (let cp = 0; cp < 0x110000; cp++) {
            const c = String.fromCodePoint(cp);
            parts.push(/^\p{White_Space}$/u.test(c) ? 's' : /^\p{L}$/u.test(c) ? 'L' : /^\p{N}$/u.test(c) ? 'N' : 'o');
        }
        process.stdout.write(parts.join(''));
        """;

    public static string Encoder => TestData.File("gpt2/encoder.json");
    public static string Merges => TestData.File("gpt2/vocab.bpe");

    /// <summary>The reference's ids for each text, in order.</summary>
    public static int[][] Encode(IReadOnlyList<string> texts)
    {
        var input = JsonSerializer.Serialize(texts.ToArray(), BpeJson.Default.StringArray);
        var (tool, script) = Pick(PythonEncoder, NodeEncoder);
        var output = Run(tool, script, tool == "python3" ? [Encoder, Merges] : [], input);     // gpt-3-encoder has its own copy
        return JsonSerializer.Deserialize(output, BpeJson.Default.Int32ArrayArray) ?? throw new InvalidOperationException("reference gave null");
    }

    /// <summary>The reference regex's class letter (s, L, N, o) for every code point.</summary>
    public static string Classes()
    {
        var (tool, script) = Pick(PythonClasses, NodeClasses);
        return Run(tool, script, [], "");
    }

    static (string Tool, string Script) Pick(string python, string node)
    {
        if (Works("python3", "-c", "import regex")) return ("python3", python);
        string? modules = Environment.GetEnvironmentVariable("EDGE_REFERENCE_NODE_MODULES");
        if (modules is { Length: > 0 } && Works("node", "-e", $"require({JsonSerializer.Serialize(Path.Combine(modules, "gpt-3-encoder"), BpeJson.Default.String)})"))
            return ("node", node);
        throw new InvalidOperationException(
            "no GPT-2 reference encoder: need `python3` with the `regex` module (pip install regex), or Node.js with the npm package " +
            "gpt-3-encoder installed in the folder named by EDGE_REFERENCE_NODE_MODULES");
    }

    internal static bool Works(string tool, params string[] args)
    {
        try { return RunProcess(tool, args, "").ExitCode == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; }           // tool not installed
    }

    static string Run(string tool, string script, string[] args, string stdin)
    {
        using var dir = new TempDir();
        string file = dir.File(tool == "node" ? "reference.js" : "reference.py");
        File.WriteAllText(file, script);
        var (code, stdout, stderr) = RunProcess(tool, [file, .. args], stdin);
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
