using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Edge.Text;

// Reading and writing the three file layouts of a byte-level BPE vocabulary. Every problem with a file is an
// EdgeException naming the file.
public sealed partial class BpeTokenizer
{
    /// <summary>OpenAI's original files: <c>encoder.json</c> (string -> id) and <c>vocab.bpe</c> (a <c>#version</c> line, then one merge a line).</summary>
    public static BpeTokenizer FromGpt2Files(string encoderJson, string vocabBpe) =>
        new(encoderJson, vocabBpe, ReadVocabJson(encoderJson), ReadMergesText(vocabBpe), null);

    /// <summary>Hugging Face's <c>vocab.json</c> + <c>merges.txt</c>: the same layout as GPT-2's files.</summary>
    public static BpeTokenizer FromHuggingFace(string vocabJson, string mergesTxt) =>
        new(vocabJson, mergesTxt, ReadVocabJson(vocabJson), ReadMergesText(mergesTxt), null);

    /// <summary>
    /// A Hugging Face <c>tokenizer.json</c> with a byte-level BPE model: <c>model.vocab</c>, <c>model.merges</c> as
    /// "a b" strings or ["a", "b"] pairs; <c>added_tokens</c> are the special tokens; the normalizer, pre-tokenizer and
    /// post-processor are read by <see cref="ReadPipeline"/>.
    /// </summary>
    public static BpeTokenizer FromTokenizerJson(string tokenizerJson)
    {
        string path = tokenizerJson;
        using var doc = ParseJson(path);
        try
        {
            var root = doc.RootElement;
            var model = TokenizerJson.Model(path, root);
            var added = TokenizerJson.AddedTokens(path, root).Select(a => (a.Content, a.Id)).ToList();
            var tokenizer = new BpeTokenizer(path, path, TokenizerJson.Vocab(path, model), TokenizerJson.Merges(path, model), added);
            tokenizer.ReadPipeline(path, root, model);
            return tokenizer;
        }
        catch (InvalidOperationException e)                    // a string that is not valid UTF-8
        {
            throw new EdgeException($"{path}: malformed tokenizer file ({EdgeException.OneLine(e.Message)})", e);
        }
    }

    /// <summary>Whichever layout <paramref name="dir"/> holds: tokenizer.json, else vocab.json + merges.txt, else encoder.json + vocab.bpe.</summary>
    public static BpeTokenizer FromDirectory(string dir)
    {
        if (!Directory.Exists(dir)) throw new EdgeException($"{dir}: directory not found");
        string F(string name) => Path.Combine(dir, name);
        if (File.Exists(F("tokenizer.json"))) return FromTokenizerJson(F("tokenizer.json"));
        if (File.Exists(F("vocab.json")) && File.Exists(F("merges.txt"))) return FromHuggingFace(F("vocab.json"), F("merges.txt"));
        if (File.Exists(F("encoder.json")) && File.Exists(F("vocab.bpe"))) return FromGpt2Files(F("encoder.json"), F("vocab.bpe"));
        throw new EdgeException($"{dir}: no BPE tokenizer files (expected tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe)");
    }

    /// <summary>
    /// Writes <c>vocab.json</c> and <c>merges.txt</c> into <paramref name="dir"/>, committed as one unit
    /// (<see cref="Files.SafeFile.CommitFolder"/>): a crash leaves the old pair or the new pair, never a mix.
    /// </summary>
    public void SaveHuggingFace(string dir)
    {
        using var vocab = new MemoryStream();
        using (var w = new Utf8JsonWriter(vocab, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            for (int id = 0; id < _tokens.Length; id++)
                if (_tokens[id] is string s) w.WriteNumber(s, id);
            w.WriteEndObject();
        }
        var merges = new StringBuilder("#version: 0.2\n");
        foreach (long pair in _mergePairs) merges.Append(_tokens[(int)(pair >> 32)]).Append(' ').Append(_tokens[(int)pair]).Append('\n');
        byte[] mergeBytes = Encoding.UTF8.GetBytes(merges.ToString());
        Files.SafeFile.CommitFolder(dir, [("vocab.json", s => vocab.WriteTo(s)), ("merges.txt", s => s.Write(mergeBytes))]);
    }

    static List<(string, int)> ReadVocabJson(string path)
    {
        using var doc = ParseJson(path);
        return ReadVocab(path, doc.RootElement);
    }

    static List<(string, int)> ReadVocab(string path, JsonElement vocab)
    {
        if (vocab.ValueKind != JsonValueKind.Object)
            throw new EdgeException($"{path}: the vocab is a JSON {vocab.ValueKind}, expected an object of token -> id");
        var list = new List<(string, int)>();
        try
        {
            foreach (var p in vocab.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id))
                    throw new EdgeException($"{path}: vocab entry {Quote(p.Name)} has {Clip(p.Value.GetRawText())}, expected an integer id");
                list.Add((p.Name, id));
            }
        }
        catch (InvalidOperationException e) { throw new EdgeException($"{path}: malformed vocab ({EdgeException.OneLine(e.Message)})", e); }
        return list;
    }

    /// <summary>One merge a line, "a b"; lines starting with <c>#version</c> and a final empty line are skipped.</summary>
    static List<(string, string)> ReadMergesText(string path)
    {
        var lines = Encoding.UTF8.GetString(ReadFile(path)).TrimStart('\uFEFF').Split('\n');
        var merges = new List<(string, string)>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.StartsWith("#version", StringComparison.Ordinal) || line.Length == 0 && i == lines.Length - 1) continue;
            merges.Add(SplitMerge(path, $"line {i + 1}", line));
        }
        return merges;
    }

    static (string, string) SplitMerge(string path, string where, string merge)
    {
        int space = merge.IndexOf(' ');
        if (space <= 0 || space == merge.Length - 1 || merge.IndexOf(' ', space + 1) >= 0)
            throw new EdgeException($"{path}: {where}: a merge must be two symbols separated by one space, got {Quote(merge)}");
        return (merge[..space], merge[(space + 1)..]);
    }

    internal static JsonDocument ParseJson(string path)
    {
        var bytes = ReadFile(path).AsMemory();
        if (bytes.Span.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        try { return JsonDocument.Parse(bytes); }
        catch (JsonException e) { throw new EdgeException($"{path}: malformed JSON ({EdgeException.OneLine(e.Message)})", e); }
    }

    internal static byte[] ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Files.SafeFile.ReadAllBytes(path);
    }

    static string Clip(string raw) => Quote(raw).Trim('\'');
}
