using System.Globalization;
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
          --force             replace a folder that already holds files (--out DIR for a Hugging Face folder)
          --quiet             no progress bar

        Every matrix product's weight whose input dimension is a multiple of 32 is stored in blocks of 32
        weights with an fp16 scale (and minimum); position embeddings, LayerNorms and biases stay fp32.
        The quantised file works wherever a checkpoint does: generate, chat, eval, bench generate, inspect.
        The formats are described in docs/QUANTIZATION.md. The output is written crash-safe (a folder as one unit)
        and is never the input or a file inside it.

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
        bool force = args.Flag("force");
        args.RejectUnknown(0);
        if (!QuantTypes.TryParse(typeName, out var type))
            throw new UsageException($"option --type: expected q8, q4 or q4m, got '{typeName}'");
        if (!File.Exists(input) && !Directory.Exists(input)) throw new EdgeException($"{input}: file not found");
        if (Llama2cCheckpoint.IsCheckpoint(input))
            throw new EdgeException($"{input}: quantise the model's Hugging Face folder (a llama2.c file has no place for quantised weights)");
        ModelOutput.Check(input, output, force, input);

        var loaded = Checkpoint.LoadAny(input, Catalog.All);
        using var model = loaded.Model;
        if (model.IsQuantized) throw new EdgeException($"{input}: already quantised ({loaded.Metadata.GetValueOrDefault(QuantizedCheckpoint.TypeKey)})");

        // What a checkpoint's metadata says about the model stays; the training state (for --resume) does not.
        var metadata = loaded.Metadata.Where(kv => kv.Key != Checkpoint.TrainStateKey && kv.Key != "edge.source")
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        metadata[Checkpoint.ModelKey] = loaded.Info.Name;
        metadata["edge.quantized_from"] = input;
        QuantizeReport? report = null;
        string target;
        using (var bar = new ProgressBar(model.Parameters.Count, "tensors", quiet, status: $"quantising to {type.Name()}"))
            target = ModelOutput.Write(input, output, s => report = QuantizedCheckpoint.Write(s, model, type, metadata, (done, _) => bar.Report(done)));

        var o = Console.Out;
        var r = report!;
        o.WriteLine($"{loaded.Info.Name} ({model.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters) -> {type.Name()}, {target}");
        o.WriteLine($"  before  {Mb(r.Fp32Bytes)} (fp32 weights)");
        o.WriteLine($"  after   {Mb(r.FileBytes)} ({(double)r.Fp32Bytes / r.FileBytes:0.00}x smaller): {r.QuantizedTensors} tensors quantised " +
                    $"({r.QuantizedParameters.ToString("N0", CultureInfo.InvariantCulture)} weights, {type.BitsPerWeight():0.##} bits each), the rest fp32");
        foreach (var (tensor, reason) in r.Kept) o.WriteLine($"  kept fp32: {tensor} ({reason})");
        o.WriteLine($"  worst block error {r.Worst.MaxAbsError.ToString("G3", CultureInfo.InvariantCulture)} in {r.WorstTensor} " +
                    $"({r.Worst.Relative * 100:0.0}% of that block's largest weight)");
        return 0;
    }

    static string Mb(long bytes) => $"{bytes / 1e6:0.0} MB";
}
