using System.Text.Json;
using static Edge.Text.TokenizerJson;

namespace Edge.Text;

// Hugging Face's tokenizer.json for a SentencePiece-style BPE (byte_fallback: true), as converted from Llama's
// tokenizer.model: the legacy form (normalizer Prepend "▁" + Replace " " -> "▁", no pre-tokenizer) or the newer one
// (no normalizer, a Metaspace pre-tokenizer); decoder Replace "▁" -> " ", ByteFallback, Fuse, Strip.
public sealed partial class SentencePieceBpe
{
    public static SentencePieceBpe FromTokenizerJson(string path)
    {
        using var doc = Parse(path);
        try { return FromTokenizerJson(path, doc.RootElement); }
        catch (InvalidOperationException e) { throw new EdgeException($"{path}: malformed tokenizer file ({EdgeException.OneLine(e.Message)})", e); }
    }

    static SentencePieceBpe FromTokenizerJson(string path, JsonElement root)
    {
        var model = Model(path, root);
        var vocab = Vocab(path, model);
        var added = AddedTokens(path, root);
        if (vocab.Count == 0) throw new EdgeException($"{path}: the vocab is empty");

        int maxId = Math.Max(vocab.Max(v => v.Item2), added.Count == 0 ? 0 : added.Max(a => a.Id));
        if (maxId >= 1 << 24) throw new EdgeException($"{path}: token id {maxId} is out of range (ids must be below {1 << 24})");
        int size = maxId + 1;
        var pieces = new string?[size];
        var ids = new Dictionary<string, int>(vocab.Count);
        foreach (var (token, id) in vocab)
        {
            if (pieces[id] is string other) throw new EdgeException($"{path}: duplicate id {id} (tokens {Raw(other)} and {Raw(token)})");
            if (!ids.TryAdd(token, id)) throw new EdgeException($"{path}: duplicate token {Raw(token)}");
            pieces[id] = token;
        }
        var types = new PieceType[size];
        Array.Fill(types, PieceType.Normal);
        bool byteFallback = Flag(path, model, "byte_fallback", false);
        for (int id = 0; id < size; id++)
            if (byteFallback && pieces[id] is string p && ByteOf(p) is not null) types[id] = PieceType.Byte;
        var specials = new List<(string, int)>();
        foreach (var (content, id, special) in added)
        {
            if (id < 0) throw new EdgeException($"{path}: added token {Raw(content)} has a negative id ({id})");
            if (pieces[id] is string other && other != content)
                throw new EdgeException($"{path}: added token {Raw(content)} has id {id}, which the vocab gives to {Raw(other)}");
            if (ids.TryGetValue(content, out int known) && known != id)
                throw new EdgeException($"{path}: added token {Raw(content)} has id {id} but the vocab gives it {known}");
            pieces[id] = content;
            ids[content] = id;
            if (special) types[id] = PieceType.Control;
            if (content.Length > 0) specials.Add((content, id));
        }
        for (int id = 0; id < size; id++)
            if (pieces[id] is null) throw new EdgeException($"{path}: no token has id {id} (ids must run from 0 without gaps)");

        int? unknown = null;
        if (String(path, model, "unk_token") is string unk)
        {
            unknown = ids.TryGetValue(unk, out int u) ? u : throw new EdgeException($"{path}: the unk_token {Raw(unk)} is not in the vocab");
            types[u] = PieceType.Unknown;
        }

        var merges = new List<(int, int, int)>();
        foreach (var (a, b) in Merges(path, model))
        {
            string? missing = !ids.ContainsKey(a) ? a : !ids.ContainsKey(b) ? b : !ids.ContainsKey(a + b) ? a + b : null;
            if (missing is not null)
                throw new EdgeException($"{path}: vocab does not cover merge {merges.Count + 1}: {Raw(a + " " + b)} (no token {Raw(missing)})");
            merges.Add((ids[a], ids[b], ids[a + b]));
        }

        var (before, after) = Template(path, root);
        if (before.Length > 1) throw new EdgeException($"{path}: the template puts {before.Length} tokens before the text; Edge adds at most BOS");
        int? bos = before.Length == 1 ? before[0] : ids.TryGetValue("<s>", out int s) ? s : null;
        int? eos = ids.TryGetValue("</s>", out int e) ? e : null;
        foreach (int id in after)
            if (id >= size) throw new EdgeException($"{path}: the template's token id {id} is outside the vocabulary (size {size})");
        if (bos >= size) throw new EdgeException($"{path}: the template's token id {bos} is outside the vocabulary (size {size})");

        var (stripLeading, stripTrailing) = Decoder(path, root);
        var options = new Options
        {
            Bos = bos, Eos = eos, Unknown = unknown, AddBos = before.Length == 1, AddAfter = after, ByteFallback = byteFallback,
            Normalizer = Normalizer(path, root), PreTokenizer = PreTokenizer(path, root),
            FuseUnknown = Flag(path, model, "fuse_unk", false), IgnoreMerges = Flag(path, model, "ignore_merges", false),
            StripLeading = stripLeading, StripTrailing = stripTrailing,
        };
        return new SentencePieceBpe(Source.HuggingFace, path, pieces!, null, types, merges, [.. specials], options);
    }

    /// <summary>Prepend and Replace (with a string pattern) steps, in order.</summary>
    static List<(string?, string?, string?)> Normalizer(string path, JsonElement root)
    {
        var steps = new List<(string?, string?, string?)>();
        foreach (var step in Steps(path, Member(root, "normalizer"), "normalizer", "normalizers"))
        {
            switch (TypeOf(path, step, "normalizer"))
            {
                case "Prepend":
                    steps.Add((String(path, step, "prepend") ?? throw new EdgeException($"{path}: the Prepend normalizer has no \"prepend\""), null, null));
                    break;
                case "Replace":
                    var (pattern, content) = Replacement(path, step, "normalizer");
                    steps.Add((null, pattern, content));
                    break;
                default:
                    throw new EdgeException($"{path}: the normalizer {Raw(step)} is not supported for a byte-fallback BPE (Edge reads Prepend and Replace)");
            }
        }
        return steps;
    }

    static (string Pattern, string Content) Replacement(string path, JsonElement step, string what)
    {
        if (!step.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object || String(path, pattern, "String") is not { Length: > 0 } text)
            throw new EdgeException($"{path}: the Replace {what} {Raw(step)} needs a non-empty \"String\" pattern (regex patterns are not supported)");
        return (text, String(path, step, "content") ?? throw new EdgeException($"{path}: the Replace {what} has no \"content\""));
    }

    static Metaspace? PreTokenizer(string path, JsonElement root)
    {
        Metaspace? meta = null;
        foreach (var step in Steps(path, Member(root, "pre_tokenizer"), "pre_tokenizer", "pretokenizers"))
        {
            if (TypeOf(path, step, "pre_tokenizer") != "Metaspace" || meta is not null)
                throw new EdgeException($"{path}: the pre_tokenizer {Raw(step)} is not supported for a byte-fallback BPE (Edge reads Metaspace or none)");
            string replacement = String(path, step, "replacement") ?? Space.ToString();
            if (replacement.Length != 1) throw new EdgeException($"{path}: the Metaspace replacement {Raw(replacement)} is not one character");
            var scheme = String(path, step, "prepend_scheme") switch
            {
                "always" => PrependScheme.Always,
                "first" => PrependScheme.First,
                "never" => PrependScheme.Never,
                null => Flag(path, step, "add_prefix_space", true) ? PrependScheme.Always : PrependScheme.Never,
                var other => throw new EdgeException($"{path}: the Metaspace prepend_scheme {Raw(other)} is not always, first or never"),
            };
            meta = new Metaspace(replacement[0], scheme, Flag(path, step, "split", true));
        }
        return meta;
    }

    /// <summary>
    /// The decoder as how many spaces it strips from the front and the back: Replace "▁" -> " ", ByteFallback and Fuse
    /// are what TokenBytes does already; Strip and Metaspace take the dummy prefix's space off.
    /// </summary>
    static (int Leading, int Trailing) Decoder(string path, JsonElement root)
    {
        int leading = 0, trailing = 0;
        foreach (var step in Steps(path, Member(root, "decoder"), "decoder", "decoders"))
        {
            switch (TypeOf(path, step, "decoder"))
            {
                case "ByteFallback" or "Fuse":
                    break;
                case "Replace":
                    if (Replacement(path, step, "decoder") != (Space.ToString(), " "))
                        throw new EdgeException($"{path}: the decoder {Raw(step)} is not supported (Edge's byte-fallback decoder replaces '▁' with ' ')");
                    break;
                case "Strip":
                    if (String(path, step, "content") != " ") throw new EdgeException($"{path}: the Strip decoder {Raw(step)} strips something other than spaces");
                    leading += Count(step, "start");
                    trailing += Count(step, "stop");
                    break;
                case "Metaspace":
                    leading += String(path, step, "prepend_scheme") == "never" || !Flag(path, step, "add_prefix_space", true) ? 0 : 1;
                    break;
                default:
                    throw new EdgeException($"{path}: the decoder {Raw(step)} is not supported for a byte-fallback BPE");
            }
        }
        return (leading, trailing);

        int Count(JsonElement step, string name) =>
            step.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n is >= 0 and <= 16 ? n
                : throw new EdgeException($"{path}: the Strip decoder's \"{name}\" is {Raw(Member(step, name))}, expected a small count");
    }
}
