using System.Text.Json;
using static Edge.Text.TokenizerJson;

namespace Edge.Text;

/// <summary>What a byte-level tokenizer does to text before splitting it.</summary>
public enum TextNormalization { None, Nfc }

// The rest of a byte-level tokenizer.json's pipeline: the normalizer (none, or Qwen2's NFC), the pre-tokenizer
// (GPT-2's, SmolLM's or Qwen2's, ByteLevelSplits), the decoder (ByteLevel) and the post-processor's template.
public sealed partial class BpeTokenizer
{
    /// <summary>The pre-tokenizer; GPT-2's unless a tokenizer.json names another.</summary>
    public ByteLevelSplit Split { get; private set; }

    public TextNormalization Normalization { get; private set; }

    int[] _templateBefore = [], _templateAfter = [];

    /// <summary>True when a tokenizer.json's post-processor puts special tokens around the text (ITokenizer.Encode adds them).</summary>
    public bool AddsTemplateTokens => _templateBefore.Length + _templateAfter.Length > 0;

    void ReadPipeline(string path, JsonElement root, JsonElement model)
    {
        if (Flag(path, model, "ignore_merges", false))
            throw new EdgeException($"{path}: the BPE model's ignore_merges (Llama 3's tokenizer) is not supported");
        foreach (var step in Steps(path, Member(root, "normalizer"), "normalizer", "normalizers"))
        {
            if (TypeOf(path, step, "normalizer") != "NFC")
                throw new EdgeException($"{path}: the normalizer {Raw(step)} is not supported for a byte-level BPE (Edge applies NFC or none)");
            Normalization = TextNormalization.Nfc;
        }
        Split = PreTokenizer(path, Member(root, "pre_tokenizer"));
        foreach (var step in Steps(path, Member(root, "decoder"), "decoder", "decoders"))
            if (TypeOf(path, step, "decoder") != "ByteLevel")
                throw new EdgeException($"{path}: the decoder {Raw(step)} is not supported for a byte-level BPE (Edge decodes ByteLevel)");
        (_templateBefore, _templateAfter) = Template(path, root);
        foreach (int id in _templateBefore.Concat(_templateAfter))
            if (id >= _tokens.Length || _tokens[id] is null) throw new EdgeException($"{path}: the post_processor's template adds token id {id}, which the vocab lacks");
    }

    /// <summary>null (GPT-2's files), ByteLevel with its regex, or the Sequences SmolLM and Qwen2 use.</summary>
    static ByteLevelSplit PreTokenizer(string path, JsonElement pre)
    {
        var steps = Steps(path, pre, "pre_tokenizer", "pretokenizers").ToArray();
        var types = steps.Select(s => TypeOf(path, s, "pre_tokenizer")).ToArray();
        bool ByteLevel(JsonElement step, bool regex) =>
            !Flag(path, step, "add_prefix_space", false) && Flag(path, step, "use_regex", true) == regex;
        if (steps.Length == 0) return ByteLevelSplit.Gpt2;
        if (types is ["ByteLevel"] && ByteLevel(steps[0], regex: true)) return ByteLevelSplit.Gpt2;
        if (types is ["Digits", "ByteLevel"] && Flag(path, steps[0], "individual_digits", false) && ByteLevel(steps[1], regex: true))
            return ByteLevelSplit.Gpt2IndividualDigits;
        if (types is ["Split", "ByteLevel"] && ByteLevel(steps[1], regex: false) && steps[0].TryGetProperty("pattern", out var pattern)
            && pattern.ValueKind == JsonValueKind.Object && String(path, pattern, "Regex") == ByteLevelSplits.Qwen2Pattern
            && String(path, steps[0], "behavior") == "Isolated" && !Flag(path, steps[0], "invert", false))
            return ByteLevelSplit.Qwen2;
        throw new EdgeException($"{path}: the pre_tokenizer {Raw(pre)} is not one Edge implements (GPT-2's ByteLevel, SmolLM's Digits + ByteLevel, Qwen2's Split + ByteLevel)");
    }
}
