using System.Text.Json;

namespace Edge.Text;

/// <summary>
/// Reading Hugging Face's <c>tokenizer.json</c>: which tokenizer a file describes (its model type, byte fallback) and
/// the parts of its pipeline (normalizer, pre_tokenizer, post_processor, decoder, added_tokens) as Edge supports them.
/// Anything else is refused by name, on one line.
/// </summary>
static class TokenizerJson
{
    /// <summary>True when the file's BPE model has <c>byte_fallback: true</c> (Llama, TinyLlama): a SentencePiece-style BPE.</summary>
    public static bool IsByteFallback(string path)
    {
        using var doc = Parse(path);
        try
        {
            var model = Model(path, doc.RootElement);
            return model.TryGetProperty("byte_fallback", out var fallback) && fallback.ValueKind == JsonValueKind.True;
        }
        catch (InvalidOperationException e) { throw new EdgeException($"{path}: malformed tokenizer file ({EdgeException.OneLine(e.Message)})", e); }
    }

    public static JsonDocument Parse(string path) => BpeTokenizer.ParseJson(path);

    /// <summary>The "model" object, which must be a BPE model.</summary>
    public static JsonElement Model(string path, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new EdgeException($"{path}: expected a JSON object with a \"model\" object");
        if (model.TryGetProperty("type", out var type) && !(type.ValueKind == JsonValueKind.String && type.GetString() == "BPE"))
            throw new EdgeException($"{path}: the model type is {Raw(type)}, expected \"BPE\" (Edge reads byte-level BPE, or SentencePiece-style with byte_fallback)");
        foreach (var name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null && !(v.ValueKind == JsonValueKind.String && v.GetString() == ""))
                throw new EdgeException($"{path}: the BPE model's {name} ({Raw(v)}) is not supported");
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind != JsonValueKind.Null && !(dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() == 0))
            throw new EdgeException($"{path}: BPE dropout ({Raw(dropout)}) is not supported (it makes encoding random)");
        return model;
    }

    /// <summary>A boolean member, <paramref name="fallback"/> when absent or null.</summary>
    public static bool Flag(string path, JsonElement obj, string name, bool fallback)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new EdgeException($"{path}: \"{name}\" is {Raw(v)}, expected true or false"),
        };
    }

    public static string? String(string path, JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw new EdgeException($"{path}: \"{name}\" is {Raw(v)}, expected a string");
    }

    /// <summary>A component's "type" (normalizer, pre_tokenizer, ...); null for a JSON null.</summary>
    public static string? TypeOf(string path, JsonElement component, string what)
    {
        if (component.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) return null;
        if (component.ValueKind != JsonValueKind.Object || String(path, component, "type") is not string type)
            throw new EdgeException($"{path}: the {what} {Raw(component)} has no \"type\"");
        return type;
    }

    /// <summary>The members of a Sequence component (normalizers, pretokenizers, processors, decoders), or the one component.</summary>
    public static IEnumerable<JsonElement> Steps(string path, JsonElement component, string what, string list)
    {
        if (TypeOf(path, component, what) is not string type) return [];
        if (type != "Sequence") return [component];
        if (!component.TryGetProperty(list, out var steps) || steps.ValueKind != JsonValueKind.Array)
            throw new EdgeException($"{path}: the {what} Sequence has no \"{list}\" array");
        return steps.EnumerateArray().ToArray();
    }

    /// <summary>The component named <paramref name="name"/> at the root (Undefined when absent, which reads as null).</summary>
    public static JsonElement Member(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) ? v : default;

    /// <summary>
    /// added_tokens: (content, id, special). Tokens that strip spaces around them or match only whole words change how
    /// text around them encodes, which Edge does not do: those are refused.
    /// </summary>
    public static List<(string Content, int Id, bool Special)> AddedTokens(string path, JsonElement root)
    {
        var added = new List<(string, int, bool)>();
        if (!root.TryGetProperty("added_tokens", out var list) || list.ValueKind == JsonValueKind.Null) return added;
        if (list.ValueKind != JsonValueKind.Array) throw new EdgeException($"{path}: \"added_tokens\" is not an array");
        foreach (var t in list.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Object || !t.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out int idValue)
                || !t.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                throw new EdgeException($"{path}: added token {added.Count + 1} needs an integer \"id\" and a string \"content\": {Raw(t)}");
            foreach (var flag in new[] { "lstrip", "rstrip", "single_word" })
                if (Flag(path, t, flag, false))
                    throw new EdgeException($"{path}: added token {Raw(content)} has \"{flag}\": true, which Edge does not support");
            added.Add((content.GetString()!, idValue, Flag(path, t, "special", true)));
        }
        return added;
    }

    /// <summary>
    /// The post-processor's template for one sequence: the special tokens' ids before and after $A (TemplateProcessing,
    /// also inside a Sequence); none for ByteLevel or null.
    /// </summary>
    public static (int[] Before, int[] After) Template(string path, JsonElement root)
    {
        foreach (var step in Steps(path, Member(root, "post_processor"), "post_processor", "processors"))
        {
            string? type = TypeOf(path, step, "post_processor");
            if (type is "ByteLevel") continue;
            if (type is not "TemplateProcessing")
                throw new EdgeException($"{path}: the post_processor {Raw(step)} is not supported (Edge reads TemplateProcessing and ByteLevel)");
            if (!step.TryGetProperty("single", out var single) || single.ValueKind != JsonValueKind.Array)
                throw new EdgeException($"{path}: the TemplateProcessing has no \"single\" template");
            var before = new List<int>();
            var after = new List<int>();
            bool seenA = false;
            foreach (var item in single.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("Sequence", out var seq))
                {
                    if (seenA || String(path, seq, "id") != "A") throw new EdgeException($"{path}: the single template {Raw(single)} is not [specials, $A, specials]");
                    seenA = true;
                }
                else if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("SpecialToken", out var special) && String(path, special, "id") is string name)
                    (seenA ? after : before).AddRange(SpecialIds(path, step, name));
                else throw new EdgeException($"{path}: template item {Raw(item)} is not supported");
            }
            if (!seenA) throw new EdgeException($"{path}: the single template {Raw(single)} has no $A");
            return ([.. before], [.. after]);
        }
        return ([], []);
    }

    static IEnumerable<int> SpecialIds(string path, JsonElement template, string name)
    {
        if (!template.TryGetProperty("special_tokens", out var map) || map.ValueKind != JsonValueKind.Object || !map.TryGetProperty(name, out var entry)
            || !entry.TryGetProperty("ids", out var ids) || ids.ValueKind != JsonValueKind.Array)
            throw new EdgeException($"{path}: the template's special token {Raw(name)} has no ids in \"special_tokens\"");
        var list = new List<int>();
        foreach (var id in ids.EnumerateArray())
            list.Add(id.ValueKind == JsonValueKind.Number && id.TryGetInt32(out int v) && v >= 0 ? v
                : throw new EdgeException($"{path}: the template's special token {Raw(name)} has id {Raw(id)}"));
        return list;
    }

    /// <summary>The vocab object as (token, id).</summary>
    public static List<(string, int)> Vocab(string path, JsonElement model)
    {
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
            throw new EdgeException($"{path}: the model has no \"vocab\" object");
        var list = new List<(string, int)>();
        foreach (var p in vocab.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                throw new EdgeException($"{path}: vocab entry {Raw(p.Name)} has {Raw(p.Value)}, expected a non-negative integer id");
            list.Add((p.Name, id));
        }
        return list;
    }

    /// <summary>The merges array: "a b" strings or ["a", "b"] pairs.</summary>
    public static List<(string, string)> Merges(string path, JsonElement model)
    {
        if (!model.TryGetProperty("merges", out var merges) || merges.ValueKind != JsonValueKind.Array)
            throw new EdgeException($"{path}: the model has no \"merges\" array");
        var list = new List<(string, string)>(merges.GetArrayLength());
        foreach (var m in merges.EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.String && m.GetString() is { } s && s.IndexOf(' ') is int space and > 0 && space < s.Length - 1 && s.IndexOf(' ', space + 1) < 0)
                list.Add((s[..space], s[(space + 1)..]));
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String
                && m[0].GetString() is { Length: > 0 } a && m[1].GetString() is { Length: > 0 } b)
                list.Add((a, b));
            else throw new EdgeException($"{path}: merge {list.Count + 1} is not two symbols: {Raw(m)}");
        }
        return list;
    }

    /// <summary>JSON text made fit for a one-line message.</summary>
    public static string Raw(JsonElement e) => EdgeException.OneLine(e.ValueKind == JsonValueKind.Undefined ? "(none)" : e.GetRawText());

    public static string Raw(string s) => "'" + EdgeException.OneLine(s) + "'";
}
