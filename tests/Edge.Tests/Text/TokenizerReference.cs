using System.Text.Json;
using Edge.Tests.Support;

namespace Edge.Tests.Text;

/// <summary>
/// The Llama-family tokenizer fixtures (Fixtures/tokenizers, made by scripts/tokenizer-fixtures.sh) and their
/// references: the ids and decoded text that SentencePiece (sentencepiece.json) and Hugging Face's tokenizers
/// (huggingface.json) gave for texts.json, stored so that the tests need neither. When a reference is installed here
/// (/usr/bin/python3, or $EDGE_REFERENCE_PYTHON, with sentencepiece; node with the npm package tokenizers under
/// $EDGE_REFERENCE_NODE_MODULES), the live tests run it on more text.
/// </summary>
static class TokenizerReference
{
    public static string Fixtures { get; } = Path.Combine(TestData.RepoRoot, "tests", "Edge.Tests", "Text", "Fixtures", "tokenizers");

    public static string Dir(string name) => Path.Combine(Fixtures, name);

    public static readonly Lazy<string[]> Texts = new(() => ReadStrings(JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures, "texts.json"))).RootElement));

    static readonly Lazy<JsonDocument> SentencePiece = new(() => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures, "sentencepiece.json"))));
    static readonly Lazy<JsonDocument> HuggingFace = new(() => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures, "huggingface.json"))));

    /// <summary>Stored ids and decoded texts of fixture <paramref name="name"/> (sp, sp-collapse: SentencePiece; hf-*: Hugging Face).</summary>
    public static (int[][] Ids, string[] Decoded) Stored(string name)
    {
        var doc = name.StartsWith("hf-") ? HuggingFace.Value : SentencePiece.Value;
        var entry = doc.RootElement.GetProperty(name);
        var ids = entry.GetProperty("ids").EnumerateArray().Select(a => a.EnumerateArray().Select(i => i.GetInt32()).ToArray()).ToArray();
        return (ids, ReadStrings(entry.GetProperty("decoded")));
    }

    static string[] ReadStrings(JsonElement array) => array.EnumerateArray().Select(s => s.GetString()!).ToArray();

    // ---- live references ----

    /// <summary>The Python with sentencepiece: $EDGE_REFERENCE_PYTHON, else Debian's /usr/bin/python3.</summary>
    public static string Python => Environment.GetEnvironmentVariable("EDGE_REFERENCE_PYTHON") is { Length: > 0 } python ? python : "/usr/bin/python3";

    public static bool SentencePieceAvailable => BpeReference.Works(Python, "-c", "import sentencepiece");

    public static bool HuggingFaceAvailable =>
        Environment.GetEnvironmentVariable("EDGE_REFERENCE_NODE_MODULES") is { Length: > 0 } modules
        && Directory.Exists(Path.Combine(modules, "tokenizers")) && BpeReference.Works("node", "--version");

    public static int[][] SentencePieceEncode(string model, IReadOnlyList<string> texts) =>
        Ints(Run(Python, [Script("python", "sentencepiece_reference.py"), "encode", model], JsonSerializer.Serialize(texts.ToArray(), BpeJson.Default.StringArray)));

    public static int[][] HuggingFaceEncode(string file, IReadOnlyList<string> texts) =>
        Ints(Run("node", [Script("node", "hf_tokenizers_reference.js"), "encode", file], JsonSerializer.Serialize(texts.ToArray(), BpeJson.Default.StringArray)));

    public static string[] HuggingFaceDecode(string file, int[][] ids) =>
        JsonSerializer.Deserialize(Run("node", [Script("node", "hf_tokenizers_reference.js"), "decode", file], JsonSerializer.Serialize(ids, BpeJson.Default.Int32ArrayArray)),
            BpeJson.Default.StringArray)!;

    public static string[] SentencePieceDecode(string model, int[][] ids) =>
        JsonSerializer.Deserialize(Run(Python, [Script("python", "sentencepiece_reference.py"), "decode", model], JsonSerializer.Serialize(ids, BpeJson.Default.Int32ArrayArray)),
            BpeJson.Default.StringArray)!;

    static string Script(string folder, string name) => Path.Combine(TestData.RepoRoot, "tests", folder, name);

    static int[][] Ints(string json) => JsonSerializer.Deserialize(json, BpeJson.Default.Int32ArrayArray)!;

    /// <summary>Random mixes of fragments that stress the splits: scripts, spaces, digits, emoji, specials.</summary>
    public static string[] RandomTexts(int count, int seed, string[] extra)
    {
        string[] fragments =
        [
            "a", "b", "z", "Q", "the", " ", "  ", "   ", "\n", "\t", "\r\n", "'", "'s", "'LL", "0", "7", "42", "1999", ".", ",", "!", "-", "(", ")",
            "é", "e\u0301", "ß", "Å", "ñ", "日", "本", "中", "😀", "👍", "🏽", "\u200D", "🇫🇷", "𝐀", "𠀀", "𝟘", "\u00A0", "\u3000", "½", "٣",
            "Thou", " art", "ing", "ROMEO:", "▁", "ſ", "İ", ..extra,
        ];
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => string.Concat(Enumerable.Range(0, rng.Next(0, 80)).Select(_ => fragments[rng.Next(fragments.Length)])))];
    }

    static string Run(string tool, string[] args, string stdin)
    {
        var (code, stdout, stderr) = BpeReference.RunProcess(tool, args, stdin);
        if (code != 0) throw new InvalidOperationException($"reference {tool} failed ({code}): {stderr}");
        return stdout;
    }
}
