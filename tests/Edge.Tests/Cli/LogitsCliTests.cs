using System.Text;
using System.Text.Json;
using Edge.Lora;
using Edge.Models;
using Edge.Tests.Lora;
using Edge.Tests.Support;
using Edge.Text;
using Xunit;

using static Edge.Tests.Cli.EdgeProcess;

namespace Edge.Tests.Cli;

/// <summary>
/// Checkpoints saved in-process for `edge logits` to read: a baby GPT (random weights) with an adapter of random A and B
/// on two kinds of module, and a names MLP (a window model).
/// </summary>
public sealed class LogitsModels : IDisposable
{
    public const string Text = "the king and a light house by the sea. ROMEO: to her, old moon!\n";
    public TempDir Dir { get; } = new();
    public CharTokenizer Chars { get; } = CharTokenizer.FromText(Text);
    public CharTokenizer Names { get; } = CharTokenizer.FromText("emma\nolivia\nava\n", new Rune('.'));
    public LanguageModel Gpt { get; }
    public LoraAdapter Adapter { get; }
    public LanguageModel Mlp { get; }

    public LogitsModels()
    {
        Gpt = ModelCatalog.Find("baby-gpt")!.Create(Chars.VocabSize);
        Gpt.Initialize(5);
        Checkpoint.Save(Dir.File("gpt.safetensors"), Gpt, Chars);
        Adapter = LoraMathTests.RandomAdapter(Gpt.Layout, new LoraConfig(4, 8, 0.05, ["attn.c_attn", "mlp.c_fc"]), 9, std: 0.1f);
        Adapter.BaseFingerprint = BaseFingerprint.Of(Gpt);
        AdapterFile.Save(Dir.File("adapter"), Adapter);
        Mlp = ModelCatalog.Find("names-mlp")!.Create(Names.VocabSize);
        Mlp.Initialize(6);
        Checkpoint.Save(Dir.File("names.safetensors"), Mlp, Names);
    }

    public void Dispose()
    {
        Gpt.Dispose();
        Adapter.Dispose();
        Mlp.Dispose();
        Dir.Dispose();
    }
}

/// <summary>`edge logits` prints exactly what a context's Logits gives in-process: token ids, every row, every bit.</summary>
public class LogitsCliTests(LogitsModels m) : IClassFixture<LogitsModels>
{
    const string Prompt = "ROMEO: the sea";

    static (int[] Tokens, float[][] Logits) Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(["tokens", "logits"], root.EnumerateObject().Select(p => p.Name));
        return ([.. root.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32())],
                [.. root.GetProperty("logits").EnumerateArray().Select(row => row.EnumerateArray().Select(e => e.GetSingle()).ToArray())]);
    }

    /// <summary>The model's logits in-process, [T, V] as rows.</summary>
    static float[][] InProcess(LanguageModel model, int[] tokens, AdapterSet? adapters)
    {
        using var context = model.CreateInferenceContext();
        context.Adapters = adapters;
        var all = context.Logits(tokens, 1, tokens.Length).ToArray();
        return [.. all.Chunk(model.VocabSize)];
    }

    static void AssertBitEqual(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int r = 0; r < expected.Length; r++)
            for (int j = 0; j < expected[r].Length; j++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[r][j]) == BitConverter.SingleToInt32Bits(actual[r][j]),
                    $"row {r}, token {j}: expected {expected[r][j]:R}, printed {actual[r][j]:R}");
    }

    [Fact]
    public void EveryPosition_WrittenToAFile_IsTheContextsLogits()
    {
        var r = EdgeProcess.Run(m.Dir.Path, "logits", "--model", "gpt.safetensors", "--prompt", Prompt, "--out", "all.json");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal($"wrote all.json: {Prompt.Length} positions x {m.Chars.VocabSize} logits\n", r.Stdout);
        var (tokens, logits) = Parse(File.ReadAllText(m.Dir.File("all.json")));
        Assert.Equal(m.Chars.Encode(Prompt), tokens);
        Assert.All(logits, row => Assert.Equal(m.Chars.VocabSize, row.Length));
        AssertBitEqual(InProcess(m.Gpt, tokens, null), logits);
    }

    [Fact]
    public void WithAScaledAdapter_AndLast_PrintsTheAdaptedLastRow()
    {
        var r = EdgeProcess.Run(m.Dir.Path, "logits", "--model", "gpt.safetensors", "--prompt", Prompt, "--adapter", "adapter:0.5", "--last");
        Assert.True(r.ExitCode == 0, r.ToString());
        var (tokens, logits) = Parse(r.Stdout);
        Assert.Equal(m.Chars.Encode(Prompt), tokens);
        var set = new AdapterSet(m.Gpt.Layout, [m.Adapter]);
        set.Activate(0, 0.5f);
        var adapted = InProcess(m.Gpt, tokens, set);
        AssertBitEqual([adapted[^1]], logits);
        // The adapter changes the logits (so the comparison above would see one that was not applied).
        Assert.True(InProcess(m.Gpt, tokens, null)[^1].Zip(logits[0]).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }

    [Fact]
    public void WindowModel_ScoresTheWindowEndingAtEachPosition_PaddedLikeGenerate()
    {
        var r = EdgeProcess.Run(m.Dir.Path, "logits", "--model", "names.safetensors", "--prompt", "olivia");
        Assert.True(r.ExitCode == 0, r.ToString());
        var (tokens, logits) = Parse(r.Stdout);
        Assert.Equal(m.Names.Encode("olivia"), tokens);
        int n = m.Mlp.InputLength, pad = m.Names.StartToken;
        using var context = m.Mlp.CreateInferenceContext();
        var expected = Enumerable.Range(0, tokens.Length).Select(i =>
        {
            var window = Enumerable.Range(i + 1 - n, n).Select(k => k >= 0 ? tokens[k] : pad).ToArray();
            return context.Logits(window, 1).ToArray();
        }).ToArray();
        AssertBitEqual(expected, logits);
    }

    [Fact]
    public void BadPrompts_AreOneLineErrors()
    {
        AssertOneLineError(EdgeProcess.Run(m.Dir.Path, "logits", "--model", "gpt.safetensors", "--prompt", new string('a', 65)), 1, "more than baby-gpt's context of 64");
        AssertOneLineError(EdgeProcess.Run(m.Dir.Path, "logits", "--model", "gpt.safetensors", "--prompt", "ROMEO: \u00e9"), 1, "not in the model's vocabulary");
        AssertOneLineError(EdgeProcess.Run(m.Dir.Path, "logits", "--model", "gpt.safetensors", "--prompt", ""), 2, "--prompt");
        AssertOneLineError(EdgeProcess.Run(m.Dir.Path, "logits", "--model", "gpt.safetensors"), 2, "--prompt TEXT is required");
        AssertOneLineError(EdgeProcess.Run(m.Dir.Path, "logits", "--model", "gpt.safetensors", "--prompt", "a", "--out", "gpt.safetensors"), 1, "is the input");
        Assert.True(File.Exists(m.Dir.File("gpt.safetensors")));
    }
}
