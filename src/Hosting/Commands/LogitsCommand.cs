using System.Globalization;
using System.Text;

namespace Edge.Cli;

/// <summary>`edge logits`: the scores a model gives for a prompt, as JSON, for debugging and for comparing with other stacks.</summary>
static class LogitsCommand
{
    public const string Help = """
        edge logits: the logits (scores before softmax) a model gives for a prompt, with the prompt's token ids, as JSON.

        Usage: edge logits --model FILE|DIR --prompt TEXT [options]

        Options:
          --model FILE|DIR         a checkpoint written by 'edge train', or a Hugging Face GPT-2-family folder
          --prompt TEXT            the text to score (every character must be in the model's vocabulary; a transformer
                                   takes at most its context)
        """ + "\n" + AdapterOptions.Help + "\n" + """
          --last                   only the last position's logits (what the next token is drawn from)
          --out FILE.json          write the JSON to FILE (crash-safe) instead of printing it
          --threads N              cores the kernels use (default: all; results do not depend on it)

        The output is {"tokens":[...],"logits":[[...],...]}: the prompt's token ids, then one row of V logits per
        position (one row with --last), row i scoring the token after tokens[0..i]. A transformer reads the prompt in one
        pass; a window model (MLP) reads at each position the window that ends there, padded on the left as 'edge
        generate' pads it. Numbers are printed round-trip exactly (float "R"), a value that is not finite as NaN,
        Infinity or -Infinity (as Python's json reads them).

        Examples:
          edge logits --model models/baby-gpt/model.safetensors --prompt "ROMEO:" --last
          edge logits --model models/baby-gpt/model.safetensors --prompt "ROMEO:" --adapter adapters/names --out logits.json
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        var modelPath = args.String("model") ?? throw new UsageException("--model FILE is required (a checkpoint written by 'edge train')");
        var prompt = args.Text("prompt") ?? throw new UsageException("--prompt TEXT is required (the text to score)");
        var adapterSpecs = args.Strings("adapter");
        bool last = args.Flag("last");
        var outPath = args.String("out");
        args.Threads();
        args.RejectUnknown(0);
        if (prompt.Length == 0) throw new UsageException("option --prompt: the text is empty (the logits are those after each of its tokens)");
        if (outPath is not null)
            Edge.Files.SafeFile.CheckOutput(outPath, "--out", [modelPath, .. adapterSpecs.Select(s => AdapterOptions.Parse(s).Path)]);

        var loaded = Checkpoint.LoadAny(modelPath, Catalog.All, mapWeights: true);
        using var model = loaded.Model;
        var adapters = adapterSpecs.Count > 0 ? AdapterOptions.Load(adapterSpecs, model) : null;
        var tokens = loaded.Tokenizer.Encode(prompt);
        if (model.IsSequenceModel && tokens.Length > model.InputLength)
            throw new EdgeException($"--prompt: {tokens.Length} tokens, more than {model.Name}'s context of {model.InputLength}");

        var rows = last ? 1 : tokens.Length;
        var logits = new float[rows * model.VocabSize];
        if (model.IsSequenceModel)
        {
            using var context = model.CreateInferenceContext();
            context.Adapters = adapters;
            var all = context.Logits(tokens, 1, tokens.Length);
            all[^logits.Length..].CopyTo(logits);
        }
        else WindowLogits(model, adapters, tokens, loaded.Tokenizer.StartToken, logits);

        string json = Json(tokens, logits, model.VocabSize);
        if (outPath is null)
        {
            Console.Out.Write(json);
            return 0;
        }
        Edge.Files.SafeFile.WriteAllText(outPath, json);
        Console.WriteLine($"wrote {outPath}: {rows} {(rows == 1 ? "position" : "positions")} x {model.VocabSize} logits");
        return 0;
    }

    /// <summary>
    /// A window model's logits at the last logits.Length / V positions of the prompt: at position i, the window of
    /// InputLength tokens that ends at token i, padded on the left with <paramref name="padding"/> (TextGenerator's window).
    /// </summary>
    static void WindowLogits(LanguageModel model, Edge.Lora.AdapterSet? adapters, int[] tokens, int padding, Span<float> logits)
    {
        int n = model.InputLength, v = model.VocabSize, rows = logits.Length / v, first = tokens.Length - rows;
        const int Chunk = 64;
        using var context = model.CreateInferenceContext(Math.Min(rows, Chunk));
        context.Adapters = adapters;
        var windows = new int[Math.Min(rows, Chunk) * n];
        for (int start = 0; start < rows; start += Chunk)
        {
            int batch = Math.Min(Chunk, rows - start);
            for (int b = 0; b < batch; b++)
            {
                int end = first + start + b + 1; // the window is tokens[end - n .. end)
                for (int k = 0; k < n; k++)
                {
                    int at = end - n + k;
                    windows[b * n + k] = at >= 0 ? tokens[at] : padding;
                }
            }
            context.Logits(windows.AsSpan(0, batch * n), batch).CopyTo(logits.Slice(start * v, batch * v));
        }
    }

    /// <summary>{"tokens":[...],"logits":[[...],...]}, a row per line, floats round-trip exactly.</summary>
    internal static string Json(ReadOnlySpan<int> tokens, ReadOnlySpan<float> logits, int vocab)
    {
        var sb = new StringBuilder(logits.Length * 12 + tokens.Length * 4 + 32);
        sb.Append("{\"tokens\":[");
        for (int i = 0; i < tokens.Length; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(tokens[i].ToString(CultureInfo.InvariantCulture));
        }
        sb.Append("],\n\"logits\":[");
        for (int r = 0; r < logits.Length / vocab; r++)
        {
            sb.Append(r == 0 ? "\n[" : ",\n[");
            for (int j = 0; j < vocab; j++)
            {
                if (j > 0) sb.Append(',');
                sb.Append(logits[r * vocab + j].ToString("R", CultureInfo.InvariantCulture));
            }
            sb.Append(']');
        }
        sb.Append("]}\n");
        return sb.ToString();
    }
}
