using System.Text.Json;
using Edge.Data;
using Edge.Kernels;
using Edge.Text;

namespace Edge.Lora;

/// <summary>One instruction pair from a JSONL file, with the line it came from.</summary>
public sealed record InstructionPair(string Question, string Answer, int Line);

/// <summary>
/// Training data for an adapter: plain text (windows of the base's context over the tokens, split 90/10 contiguous,
/// every position scored), or instruction pairs from JSONL, each formatted with a template into one example, padded
/// to a common length with the end-of-text token and split 90/10 after a seeded shuffle. With answer-only loss the
/// prompt's and the padding's targets are <see cref="SoftmaxCrossEntropy.IgnoredTarget"/>.
/// </summary>
public sealed class LoraData
{
    /// <summary>The course's instruction format.</summary>
    public const string DefaultTemplate = "### Question:\n{q}\n\n### Answer:\n{a}";

    LoraData(ExampleSet train, ExampleSet val, int length, string description, bool overlapping = false)
    {
        Overlapping = overlapping;
        Train = train;
        Val = val;
        Length = length;
        Description = description;
    }

    public ExampleSet Train { get; }
    public ExampleSet Val { get; }
    /// <summary>True for windows over running text (neighbours overlap); false for separate, padded examples.</summary>
    public bool Overlapping { get; }
    /// <summary>Tokens per example (the model is run at this length).</summary>
    public int Length { get; }
    /// <summary>One line for the run's header ("1,234 train / 137 val pairs, ...").</summary>
    public string Description { get; }

    /// <summary>Running text: windows of <paramref name="context"/> tokens, the first 90% of the tokens train.</summary>
    public static LoraData FromText(string text, ITokenizer tokenizer, int context)
    {
        var tokens = tokenizer.Encode(text);
        var splits = DataSplits.FromText(tokens, context, sequenceTargets: true);
        return new LoraData(splits.Train, splits.Val, context, $"{tokens.Length:N0} tokens of text ({splits.Train.Count:N0} train / {splits.Val.Count:N0} val windows)", overlapping: true);
    }

    /// <summary>
    /// Instruction pairs: each is template(q, a) followed by the end-of-text token (the end-of-answer marker generation
    /// stops at). A pair whose whole text does not fit the context is left out, never cut mid-answer: an adapter must see
    /// where answers end; <see cref="Skipped"/> and the description say how many and how long the longest was.
    /// </summary>
    public static LoraData FromPairs(IReadOnlyList<InstructionPair> pairs, ITokenizer tokenizer, int context, string template, bool answerOnly, ulong splitSeed)
    {
        CheckTemplate(template);
        CheckTemplateEncodes(tokenizer, template);
        if (pairs.Count < 2) throw new EdgeException($"there are {pairs.Count} instruction pairs; at least 2 are needed (one to train, one to validate)");
        int eot = EndOfText(tokenizer);
        int at = template.IndexOf("{a}", StringComparison.Ordinal);
        string before = template[..at], after = template[(at + 3)..];
        var kept = new List<(int[] Ids, int Prompt)>();
        int skipped = 0, longest = 0;
        foreach (var pair in pairs)
        {
            var prompt = Encode(tokenizer, before.Replace("{q}", pair.Question), pair.Question, pair.Line, "question");
            var answer = Encode(tokenizer, pair.Answer + after.Replace("{q}", pair.Question), pair.Answer, pair.Line, "answer");
            var ids = new int[prompt.Length + answer.Length + 1];
            prompt.CopyTo(ids, 0);
            answer.CopyTo(ids, prompt.Length);
            ids[^1] = eot;
            if (ids.Length > context + 1)
            {
                skipped++;
                longest = Math.Max(longest, ids.Length - 1);
                continue;
            }
            kept.Add((ids, prompt.Length));
        }
        if (kept.Count < 2)
            throw new EdgeException($"{skipped:N0} of {pairs.Count:N0} instruction pairs are longer than the base's context of {context} tokens " +
                $"(the longest has {longest:N0}), leaving {kept.Count}; shorten them, or use a base with a longer context");
        var examples = kept.ToArray();
        int length = Math.Max(1, examples.Max(e => e.Ids.Length) - 1);
        var order = Enumerable.Range(0, examples.Length).ToArray();
        new Rng(splitSeed).Shuffle(order.AsSpan());
        int val = Math.Max(1, examples.Length / 10);
        var trainSet = new PaddedExamples(order[val..].Select(i => examples[i]).ToArray(), length, eot, answerOnly);
        var valSet = new PaddedExamples(order[..val].Select(i => examples[i]).ToArray(), length, eot, answerOnly);
        if (trainSet.ScoredTargets == 0)
            throw new EdgeException("no training pair has an answer token left to score (are the answers empty?)");
        string note = skipped > 0 ? $"; {skipped:N0} longer than the context of {context} (the longest {longest:N0} tokens) left out" : "";
        return new LoraData(trainSet, valSet, length,
            $"{examples.Length:N0} instruction pairs ({trainSet.Count:N0} train / {valSet.Count:N0} val, up to {length} tokens; loss on {(answerOnly ? "answers only" : "the whole text")}{note})")
        { Skipped = skipped, LongestSkipped = longest };
    }

    /// <summary>Pairs left out because they do not fit the context, and the longest of them in tokens.</summary>
    public int Skipped { get; private init; }
    public int LongestSkipped { get; private init; }

    /// <summary>The template's own characters must encode: a failure there is the base's vocabulary, not the user's data.</summary>
    static void CheckTemplateEncodes(ITokenizer tokenizer, string template)
    {
        string literal = template.Replace("{q}", "").Replace("{a}", "");
        try { tokenizer.Encode(literal); }
        catch (EdgeException e)
        {
            throw new EdgeException($"the template \"{EdgeException.OneLine(template.Replace("\n", "\\n"))}\" does not encode with the base's vocabulary ({e.Message}); " +
                "give a --template in the base's characters, or train the base with the default --vocab ascii");
        }
    }

    /// <summary>Encodes a formatted part; a failure is reported against the user's own text (positions in it), since the template encodes.</summary>
    static int[] Encode(ITokenizer tokenizer, string formatted, string own, int line, string part)
    {
        try { return tokenizer.Encode(formatted); }
        catch (EdgeException e)
        {
            string message = e.Message;
            try { tokenizer.Encode(own); }
            catch (EdgeException inOwn) { message = inOwn.Message; }
            throw new EdgeException($"line {line}: the {part}: {message}");
        }
    }

    /// <summary>
    /// The token that ends an example: GPT-2's &lt;|endoftext|&gt;, a SentencePiece vocabulary's EOS (&lt;/s&gt;), a character
    /// vocabulary's end-of-text mark (U+0003), else
    /// the tokenizer's start token (marker or newline).
    /// </summary>
    public static int EndOfText(ITokenizer tokenizer) => StopToken(tokenizer) ?? tokenizer.StartToken;

    /// <summary>A token that only ever ends a text (generation stops there), when the tokenizer has one.</summary>
    public static int? StopToken(ITokenizer tokenizer) => tokenizer switch
    {
        BpeTokenizer { EndOfText: int eot } => eot,
        SentencePieceBpe { Eos: int eos } => eos,
        CharTokenizer { EndOfTextId: int mark } => mark,
        _ => null,
    };

    public static void CheckTemplate(string template)
    {
        int q = template.IndexOf("{q}", StringComparison.Ordinal), a = template.IndexOf("{a}", StringComparison.Ordinal);
        if (q < 0 || a < 0 || a < q) throw new EdgeException("the template must contain {q} (the question) and then {a} (the answer)");
    }

    /// <summary>
    /// Reads JSONL: one object per line with the question in "instruction", "question" or "prompt" (an Alpaca "input"
    /// is appended to the instruction) and the answer in "response", "answer", "output" or "completion". Blank lines
    /// are skipped; every malformed line is reported with its number (the first ten in the message).
    /// </summary>
    public static IReadOnlyList<InstructionPair> ParseJsonl(string text, string name)
    {
        var pairs = new List<InstructionPair>();
        var errors = new List<string>();
        int line = 0;
        foreach (var raw in text.Split('\n'))
        {
            line++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            string? problem = null;
            try
            {
                using var doc = JsonDocument.Parse(raw);
                var o = doc.RootElement;
                if (o.ValueKind != JsonValueKind.Object) problem = "not a JSON object";
                else
                {
                    string? q = Field(o, "instruction", "question", "prompt"), a = Field(o, "response", "answer", "output", "completion");
                    if (q is null) problem = "no \"instruction\", \"question\" or \"prompt\" string";
                    else if (a is null) problem = "no \"response\", \"answer\", \"output\" or \"completion\" string";
                    else
                    {
                        if (Field(o, "input") is { Length: > 0 } input) q = q + "\n\n" + input;
                        pairs.Add(new InstructionPair(q, a, line));
                    }
                }
            }
            catch (JsonException) { problem = "not valid JSON"; }
            // GetString of an escape that leaves half a surrogate pair ("\ud800"): not text.
            catch (InvalidOperationException) { problem = "a string with an unpaired UTF-16 surrogate escape"; }
            if (problem is not null) errors.Add($"line {line} ({problem})");
        }
        if (errors.Count > 0)
            throw new EdgeException($"{name}: {errors.Count} malformed JSONL line{(errors.Count == 1 ? "" : "s")}: {string.Join(", ", errors.Take(10))}{(errors.Count > 10 ? ", ..." : "")}");
        if (pairs.Count == 0) throw new EdgeException($"{name}: no instruction pairs");
        return pairs;
    }

    static string? Field(JsonElement o, params string[] names)
    {
        foreach (var n in names)
            if (o.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.String) return v.GetString();
        return null;
    }

    /// <summary>
    /// Examples of different lengths in one [count, length] grid: inputs padded with <c>pad</c>, targets past the end
    /// (and, for answer-only loss, inside the prompt) ignored.
    /// </summary>
    sealed class PaddedExamples : ExampleSet
    {
        readonly (int[] Ids, int Prompt)[] _examples;
        readonly int _length, _pad;
        readonly bool _answerOnly;

        public PaddedExamples((int[] Ids, int Prompt)[] examples, int length, int pad, bool answerOnly)
        {
            (_examples, _length, _pad, _answerOnly) = (examples, length, pad, answerOnly);
            var inputs = new int[length];
            var targets = new int[length];
            for (int i = 0; i < examples.Length; i++)
            {
                Fill(i, inputs, targets);
                foreach (var t in targets) if (t != SoftmaxCrossEntropy.IgnoredTarget) ScoredTargets++;
            }
        }

        public long ScoredTargets { get; }
        public override int Count => _examples.Length;
        public override int InputLength => _length;
        public override int TargetLength => _length;
        public override bool ScoresEveryTarget => false;

        public override void Fill(int index, Span<int> inputs, Span<int> targets)
        {
            CheckRow(index, inputs, targets);
            var (ids, prompt) = _examples[index];
            inputs.Fill(_pad);
            targets.Fill(SoftmaxCrossEntropy.IgnoredTarget);
            for (int j = 0; j + 1 < ids.Length; j++)
            {
                inputs[j] = ids[j];
                // Target j is token j + 1: part of the answer when j + 1 >= prompt.
                if (!_answerOnly || j + 1 >= prompt) targets[j] = ids[j + 1];
            }
        }
    }
}
