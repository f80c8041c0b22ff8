using Edge.Generation;

namespace Edge.Cli;

static class GenerateCommand
{
    public const string Help = """
        edge generate: sample from a trained model, streaming text as it is produced.

        Usage: edge generate --model FILE [options]

        Options:
          --model FILE|DIR         a checkpoint written by 'edge train', or a Hugging Face GPT-2-family folder
                                   (config.json, model.safetensors, vocab.json + merges.txt or tokenizer.json)
          --prompt TEXT            text to continue (every character must be in the model's vocabulary)
          --tokens N               tokens to generate for running-text models (default 500)
          --count N                names to generate for line models such as names-mlp (default 10)
        """ + "\n" + AdapterOptions.Help + "\n" + SamplingOptions.Help + "\n" + """
          --threads N              cores the kernels use (default: all; results do not depend on it)
          --quiet                  no progress bar (drawn on stderr only when the text goes to a file or a pipe)

        Transformers decode with a KV cache: the prompt is processed in one pass, then each token costs one
        position. Past the context, the newest three quarters of it are kept and decoding continues.

        Examples:
          edge generate --model models/baby-gpt/model.safetensors --prompt "ROMEO:" --tokens 300 --top-p 0.9
          edge generate --model models/names-mlp/model.safetensors --count 20 --temperature 0.8
          edge generate --model models/baby-gpt/model.safetensors --adapter adapters/names:0.8 --prompt "\n"
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        var path = args.String("model") ?? throw new UsageException("--model FILE is required (a checkpoint written by 'edge train')");
        var prompt = args.Text("prompt") ?? "";
        int tokens = args.Int("tokens", 500, min: 0, max: 10_000_000);
        int count = args.Int("count", 10, min: 0, max: 1_000_000);
        var adapterSpecs = args.Strings("adapter");
        var sampling = SamplingOptions.Parse(args);
        bool quiet = args.Flag("quiet");
        args.Threads();
        args.RejectUnknown(0);

        var loaded = Checkpoint.LoadAny(path, Catalog.All, mapWeights: true);
        using var model = loaded.Model;
        var adapters = adapterSpecs.Count > 0 ? AdapterOptions.Load(adapterSpecs, model) : null;
        loaded.Tokenizer.Encode(prompt); // refuses characters outside the vocabulary before anything is printed
        var sampler = sampling.CreateSampler(loaded.Tokenizer.VocabSize);
        var stops = sampling.Stops.Count > 0 ? new StopSequences(sampling.Stops) : null;
        bool lines = loaded.Marker is not null && loaded.Info.Data == DataLayout.Lines;
        using var cancel = Interrupt.OnCtrlC();
        // On a terminal the text itself shows the progress; into a file or a pipe, a bar on stderr does.
        using var bar = new ProgressBar(lines ? count : tokens, lines ? "names" : "tokens", quiet || Terminal.OutIsTerminal);
        var output = bar.Enabled ? new ProgressWriter(Console.Out, bar, countLines: lines) : Console.Out;
        TrainCommand.Sample(loaded, lines ? DataLayout.Lines : DataLayout.Text, lines ? count : tokens, sampler, prompt, output, stops, cancel.Token, adapters);
        if (!lines) output.WriteLine();
        return 0;
    }

    /// <summary>
    /// Passes the text through and counts it for the bar: lines (names), or flushes, which the generator does
    /// once per token that completes a character (close to the token count; the bar's total caps it).
    /// </summary>
    sealed class ProgressWriter(TextWriter inner, ProgressBar bar, bool countLines) : TextWriter
    {
        long _count;

        public override System.Text.Encoding Encoding => inner.Encoding;
        public override void Write(char value) { inner.Write(value); Lines(value == '\n' ? 1 : 0); }
        public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));
        public override void Write(string? value) => Write(value.AsSpan());
        public override void Write(ReadOnlySpan<char> buffer) { inner.Write(buffer); Lines(buffer.Count('\n')); }

        public override void Flush()
        {
            inner.Flush();
            if (!countLines) bar.Report(++_count);
        }

        void Lines(int n)
        {
            if (countLines && n > 0) bar.Report(_count += n);
        }
    }
}
