using System.Globalization;
using System.Text.Json;
using Edge.Formats;
using Edge.Text;

namespace Edge.Cli;

/// <summary>`edge inspect`: what a checkpoint or any safetensors file holds, without building a model.</summary>
static class InspectCommand
{
    public const string Help = """
        edge inspect: what a checkpoint (or any safetensors file) holds: model, parameter count, every tensor
        (name, dtype, shape, elements), the metadata and the file size. Needs no model this build knows.

        Usage: edge inspect FILE|DIR

        FILE is any safetensors file; a DIR is read as DIR/model.safetensors. There are no options.

        Examples:
          edge inspect models/char-mlp/model.safetensors
          edge inspect ../shared/data/gpt2/model.safetensors
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        args.RejectUnknown(1);
        if (args.Positionals.Count == 0) throw new UsageException("give a checkpoint or safetensors file to inspect (see 'edge inspect --help')");
        var path = args.Positionals[0];
        if (Directory.Exists(path) && File.Exists(Path.Combine(path, Edge.Lora.AdapterFile.ConfigName)) && !File.Exists(Path.Combine(path, "model.safetensors")))
        {
            LoraCommand.Describe(path, Console.Out);       // a LoRA adapter folder
            return 0;
        }
        if (Directory.Exists(path))
        {
            var inside = Path.Combine(path, "model.safetensors");
            if (!File.Exists(inside)) throw new EdgeException($"{path}: a folder without model.safetensors (expected a safetensors file)");
            path = inside;
        }
        Edge.Files.SafeFile.CheckInput(path);
        long size = new FileInfo(path).Length;
        SafeTensorsFile file;
        try { file = SafeTensorsFile.Open(path); }
        catch (EdgeException e)
        {
            var why = Trim(e.Message, path);
            throw new EdgeException(why.StartsWith("not a safetensors file", StringComparison.Ordinal) ? $"{path}: {why}" : $"{path}: not a safetensors file ({why})");
        }
        using (file)
        {
            var meta = file.Metadata;
            var tensors = file.Tensors;
            // A quantised tensor (a U8 tensor of blocks with a record in the metadata) counts its weights, not its bytes.
            var quantized = tensors.ToDictionary(t => t.Name, t => Quantized(meta, t.Name));
            long parameters = tensors.Where(t => !t.Name.StartsWith("optimizer.", StringComparison.Ordinal))
                .Sum(t => quantized[t.Name] is { } q ? q.Elements : t.ElementCount);
            var o = Console.Out;
            o.WriteLine($"file        {path} ({Bytes(size)})");
            o.WriteLine($"model       {(meta.TryGetValue(Checkpoint.ModelKey, out var model) ? model : "(none: not an Edge checkpoint)")}");
            o.WriteLine($"parameters  {parameters.ToString("N0", CultureInfo.InvariantCulture)}" +
                        (tensors.Any(t => t.Name.StartsWith("optimizer.", StringComparison.Ordinal)) ? " (plus optimiser state)" : ""));
            if (tensors.Any(t => t.Name.EndsWith(".lora_A.weight", StringComparison.Ordinal)))
                o.WriteLine($"adapter     LoRA on {tensors.Count(t => t.Name.EndsWith(".lora_A.weight", StringComparison.Ordinal))} modules, rank " +
                            $"{tensors.First(t => t.Name.EndsWith(".lora_A.weight", StringComparison.Ordinal)).Shape[0]} ('edge lora info' on its folder reads the config)");
            o.WriteLine($"tensors     {tensors.Count}");
            if (tensors.Count > 0)
            {
                var rows = tensors.Select(t => quantized[t.Name] is { } q
                    ? (t.Name, DType: q.Type, Shape: "[" + string.Join(", ", q.Shape) + "]", Count: q.Elements.ToString("N0", CultureInfo.InvariantCulture))
                    : (t.Name, DType: t.DType.ToString(), Shape: "[" + string.Join(", ", t.Shape) + "]", Count: t.ElementCount.ToString("N0", CultureInfo.InvariantCulture))).ToList();
                int wn = Math.Max(4, rows.Max(r => r.Name.Length)), wd = Math.Max(5, rows.Max(r => r.DType.Length)),
                    ws = Math.Max(5, rows.Max(r => r.Shape.Length)), wc = Math.Max(8, rows.Max(r => r.Count.Length));
                o.WriteLine($"  {"name".PadRight(wn)}  {"dtype".PadRight(wd)}  {"shape".PadRight(ws)}  {"elements".PadLeft(wc)}");
                foreach (var r in rows)
                    o.WriteLine($"  {r.Name.PadRight(wn)}  {r.DType.PadRight(wd)}  {r.Shape.PadRight(ws)}  {r.Count.PadLeft(wc)}");
            }
            // The per-tensor quantisation records are shown in the table above, not repeated here.
            bool anyQuantized = quantized.Values.Any(q => q is not null);
            var shown = meta.Where(kv => !(anyQuantized && kv.Key.StartsWith(Edge.Quantization.QuantizedCheckpoint.TensorKeyPrefix, StringComparison.Ordinal)))
                .ToList();
            o.WriteLine($"metadata    {(meta.Count == 0 ? "(none)" : meta.Count + " entries")}{(shown.Count < meta.Count ? $" ({meta.Count - shown.Count} quantisation records shown as dtypes above)" : "")}");
            if (shown.Count > 0)
            {
                int wk = shown.Max(kv => kv.Key.Length);
                foreach (var (key, value) in shown.OrderBy(kv => Rank(kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal))
                    o.WriteLine($"  {key.PadRight(wk)}  {Describe(key, value)}");
            }
        }
        return 0;
    }

    /// <summary>The quantisation record of a tensor (type, fp32 shape, weights), or null when it has none or it is unreadable.</summary>
    static (string Type, long[] Shape, long Elements)? Quantized(IReadOnlyDictionary<string, string> meta, string tensor)
    {
        if (!meta.TryGetValue(Edge.Quantization.QuantizedCheckpoint.TensorKeyPrefix + tensor, out var json)) return null;
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var shape = root.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            return (root.GetProperty("type").GetString() ?? "?", shape, shape.Aggregate(1L, (a, b) => a * b));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException) { return null; }
    }

    static string Trim(string message, string path) =>
        message.StartsWith(path + ": ", StringComparison.Ordinal) ? message[(path.Length + 2)..] : message;

    static int Rank(string key) => key switch
    {
        Checkpoint.ModelKey => 0, "edge.parameters" => 1, "edge.context" => 2, Checkpoint.StepKey => 3, Checkpoint.ValLossKey => 4,
        "edge.seed" => 5, "edge.data" => 6, "edge.data_layout" => 7, Checkpoint.TokenizerKey => 8, Checkpoint.TrainStateKey => 9,
        _ => 10,
    };

    static string Describe(string key, string value)
    {
        switch (key)
        {
            case Checkpoint.TokenizerKey:
                try
                {
                    var t = CharTokenizer.FromJson(value);
                    return $"character vocabulary of {t.VocabSize} symbols{(t.MarkerId is int m ? $" (marker {Escape(t.Symbol(m))})" : "")}";
                }
                catch (EdgeException e) { return $"(unreadable: {e.Message})"; }
            case Checkpoint.TrainStateKey:
                try
                {
                    using var doc = JsonDocument.Parse(value);
                    var root = doc.RootElement;
                    var parts = new List<string>();
                    if (root.TryGetProperty("step", out var step)) parts.Add($"step {step}");
                    if (root.TryGetProperty("optimizer_steps", out var opt)) parts.Add($"optimizer steps {opt}");
                    if (root.TryGetProperty("best_val", out var best))
                        parts.Add(best.ValueKind == JsonValueKind.Number ? $"best val {best.GetDouble().ToString("0.0000", CultureInfo.InvariantCulture)}" : "no best val yet");
                    return "resumable: " + string.Join(", ", parts) + " (and random streams)";
                }
                catch (JsonException) { return "(malformed JSON)"; }
            case Checkpoint.ValLossKey when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var loss):
                return $"{loss.ToString("0.0000", CultureInfo.InvariantCulture)} (perplexity {Math.Exp(loss).ToString("0.00", CultureInfo.InvariantCulture)})";
            default:
                var text = Escape(value);
                return text.Length <= 100 ? text : text[..97] + $"... ({value.Length:N0} characters)";
        }
    }

    static string Escape(string s) => PlotCommand.Label(s).Replace('\u2423', ' ');

    static string Bytes(long n) =>
        n >= 1 << 20 ? $"{n / (double)(1 << 20):0.0} MiB, {n:N0} bytes" : n >= 1 << 10 ? $"{n / 1024.0:0.0} KiB, {n:N0} bytes" : $"{n:N0} bytes";
}
