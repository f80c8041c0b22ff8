using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.Tests.Support;

namespace Edge.Tests.Text;

/// <summary>
/// GPT-2's ids stored with the tests (reference/gpt2-reference.json, written by reference/gpt2_reference.py with
/// OpenAI's encoder.py algorithm): every exactness case with its text or the recipe that rebuilds it, and its ids
/// in full (short texts) or as a count and the SHA-256 of the ids as little-endian int32 (long ones); the class
/// of every code point under the reference regex; the digests of the vocab files the ids were made with.
/// </summary>
static class BpeStoredReference
{
    /// <summary>One case; its text is built on first use (a recipe may read a shared data file).</summary>
    public sealed record Case(string Name, Func<string> Build, int[]? Ids, int Count, string? Sha256)
    {
        string? _text;

        public string Text => _text ??= Build();

        /// <summary>Null when <paramref name="ids"/> are the stored ones, else what differs.</summary>
        public string? Mismatch(int[] ids)
        {
            if (Ids is not null) return Ids.AsSpan().SequenceEqual(ids) ? null : $"differ from the {Ids.Length} stored ids";
            if (ids.Length != Count) return $"{ids.Length} ids where the stored reference has {Count}";
            return Digest(ids) == Sha256 ? null : $"{Count} ids as stored, but their SHA-256 differs from the stored {Sha256}";
        }
    }

    public static string Path => System.IO.Path.Combine(TestData.RepoRoot, "tests", "Edge.Tests", "Text", "reference", "gpt2-reference.json");

    static readonly Lazy<JsonDocument> Document = new(() => JsonDocument.Parse(File.ReadAllBytes(Path)));

    public static readonly Lazy<Case[]> Cases = new(() =>
        [.. Document.Value.RootElement.GetProperty("cases").EnumerateArray().Select(Read)]);

    public static Case Get(string name) => Cases.Value.Single(c => c.Name == name);

    /// <summary>The SHA-256 (hex) of the stored vocab file <paramref name="key"/> ("encoder_json_sha256", "vocab_bpe_sha256").</summary>
    public static string FileDigest(string key) => Document.Value.RootElement.GetProperty(key).GetString()!;

    /// <summary>The class letter (s, L, N, o) of every code point, from the stored runs ("&lt;first code point in hex&gt;&lt;letter&gt;").</summary>
    public static string Classes()
    {
        string runs = Document.Value.RootElement.GetProperty("classes").GetString()!;
        var letters = new char[0x110000];
        int start = -1;
        char letter = '?';
        for (int i = 0, from = 0; i < runs.Length; i++)
        {
            if (char.IsAsciiHexDigit(runs[i])) continue;
            int cp = int.Parse(runs.AsSpan(from, i - from), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (start >= 0) letters.AsSpan(start, cp - start).Fill(letter);
            (start, letter, from) = (cp, runs[i], i + 1);
        }
        letters.AsSpan(start).Fill(letter);
        return new string(letters);
    }

    public static string Digest(ReadOnlySpan<int> ids)
    {
        var bytes = new byte[ids.Length * 4];
        for (int i = 0; i < ids.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * i), ids[i]);
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    public static string FileSha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    static Case Read(JsonElement c)
    {
        string name = c.GetProperty("name").GetString()!;
        var source = c.Clone();
        Func<string> text = c.TryGetProperty("text", out _) ? () => source.GetProperty("text").GetString()! : () => Recipe(source);
        if (c.TryGetProperty("ids", out var ids)) return new Case(name, text, [.. ids.EnumerateArray().Select(i => i.GetInt32())], 0, null);
        return new Case(name, text, null, c.GetProperty("count").GetInt32(), c.GetProperty("sha256").GetString());
    }

    /// <summary>gpt2_reference.py's case_text: repeat x times, or a shared data file (only its ASCII letters, cut to a length), between prefix and suffix.</summary>
    static string Recipe(JsonElement c)
    {
        string body;
        if (c.TryGetProperty("repeat", out var repeat))
            body = new StringBuilder().Insert(0, repeat.GetString()!, c.GetProperty("times").GetInt32()).ToString();
        else
        {
            bool letters = c.TryGetProperty("letters_of", out var lettersOf);
            body = File.ReadAllText(TestData.File((letters ? lettersOf : c.GetProperty("file")).GetString()!), Encoding.UTF8);
            if (letters) body = new string([.. body.Where(char.IsAsciiLetter).Take(c.GetProperty("length").GetInt32())]);
        }
        string Optional(string key) => c.TryGetProperty(key, out var v) ? v.GetString()! : "";
        return Optional("prefix") + body + Optional("suffix");
    }
}
