using System.Globalization;
using Edge.Models;
using Edge.Quantization;

namespace Edge.Cli;

/// <summary>`edge quantize`: an fp32 model to 8- or 4-bit block-quantised weights.</summary>
static class QuantizeCommand
{
    public const string Help = """
        edge quantize: write a copy of a model with its matrix weights quantised to 8 or 4 bits.

        Usage: edge quantize --in MODEL --out FILE|DIR --type q8|q4|q4m [options]

        Options:
          --in FILE|DIR       a checkpoint written by 'edge train', or a Hugging Face GPT-2-family folder
          --out FILE|DIR      the quantised checkpoint; for a Hugging Face folder, a folder (config.json and the
                              tokenizer files are copied beside its model.safetensors)
          --type q8|q4|q4m    q8: 8-bit (q8_0, 8.5 bits a weight); q4: 4-bit (q4_0, 4.5 bits); q4m: 4-bit with a
                              per-block minimum (q4_1, 5 bits)
          --quiet             no progress bar

        Every matrix product's weight whose input dimension is a multiple of 32 is stored in blocks of 32
        weights with an fp16 scale (and minimum); position embeddings, LayerNorms and biases stay fp32.
        The quantised file works wherever a checkpoint does: generate, chat, eval, bench generate, inspect.
        The formats are described in docs/QUANTIZATION.md.

        Examples:
          edge quantize --in models/shakespeare-gpt/model.safetensors --out models/shakespeare-gpt/q8.safetensors --type q8
          edge eval --model models/shakespeare-gpt/q8.safetensors --data ../shared/data/tinyshakespeare.txt
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        var input = args.String("in") ?? throw new UsageException("--in MODEL is required");
        var output = args.String("out") ?? throw new UsageException("--out FILE is required");
        var typeName = args.String("type") ?? throw new UsageException("--type q8|q4|q4m is required");
        bool quiet = args.Flag("quiet");
        args.RejectUnknown(0);
        if (!QuantTypes.TryParse(typeName, out var type))
            throw new UsageException($"option --type: expected q8, q4 or q4m, got '{typeName}'");
        if (!File.Exists(input) && !Directory.Exists(input)) throw new EdgeException($"{input}: file not found");

        bool folder = HuggingFaceGpt2.IsModelDirectory(input);
        var loaded = Checkpoint.LoadAny(input, ModelCatalog.All);
        using var model = loaded.Model;
        if (model.IsQuantized) throw new EdgeException($"{input}: already quantised ({loaded.Metadata.GetValueOrDefault(QuantizedCheckpoint.TypeKey)})");
        string target = output;
        if (folder)
        {
            if (File.Exists(output)) throw new EdgeException($"{output}: a Hugging Face folder quantises into a folder, and this is a file");
            Directory.CreateDirectory(output);
            target = Path.Combine(output, "model.safetensors");
        }
        else if (Directory.Exists(output))
            throw new EdgeException($"{output}: is a folder; give the quantised checkpoint's file name");
        else if (Path.GetDirectoryName(Path.GetFullPath(output)) is { } dir && !Directory.Exists(dir))
            throw new EdgeException($"{output}: the folder {dir} does not exist");

        // What a checkpoint's metadata says about the model stays; the training state (for --resume) does not.
        var metadata = loaded.Metadata.Where(kv => kv.Key != Checkpoint.TrainStateKey && kv.Key != "edge.source")
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        metadata[Checkpoint.ModelKey] = loaded.Info.Name;
        metadata["edge.quantized_from"] = input;
        QuantizeReport report;
        using (var bar = new ProgressBar(model.Parameters.Count, "tensors", quiet, status: $"quantising to {type.Name()}"))
            report = QuantizedCheckpoint.Write(target, model, type, metadata, (done, _) => bar.Report(done));
        if (folder)
            foreach (var name in new[] { "config.json", "generation_config.json", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "encoder.json", "vocab.bpe" })
            {
                string from = Path.Combine(input, name);
                if (File.Exists(from)) File.Copy(from, Path.Combine(output, name), overwrite: true);
            }

        var o = Console.Out;
        o.WriteLine($"{loaded.Info.Name} ({model.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters) -> {type.Name()}, {target}");
        o.WriteLine($"  before  {Mb(report.Fp32Bytes)} (fp32 weights)");
        o.WriteLine($"  after   {Mb(report.FileBytes)} ({(double)report.Fp32Bytes / report.FileBytes:0.00}x smaller): {report.QuantizedTensors} tensors quantised " +
                    $"({report.QuantizedParameters.ToString("N0", CultureInfo.InvariantCulture)} weights, {type.BitsPerWeight():0.##} bits each), the rest fp32");
        foreach (var (tensor, reason) in report.Kept) o.WriteLine($"  kept fp32: {tensor} ({reason})");
        o.WriteLine($"  worst block error {report.Worst.MaxAbsError.ToString("G3", CultureInfo.InvariantCulture)} in {report.WorstTensor} " +
                    $"({report.Worst.Relative * 100:0.0}% of that block's largest weight)");
        return 0;
    }

    static string Mb(long bytes) => $"{bytes / 1e6:0.0} MB";
}
