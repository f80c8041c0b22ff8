using System.Globalization;
using Edge.Generation;
using Edge.Models;

namespace Edge.Cli;

static class ChatCommand
{
    public const string CourseTemplate = "### Question:\n{q}\n\n### Answer:\n";

    public const string Help = """
        edge chat: talk to a model. Each line you type is a prompt; the answer streams back.

        Usage: edge chat --model FILE [options]

        Options:
          --model FILE|DIR         a checkpoint written by 'edge train', or a Hugging Face GPT-2-family folder
          --template TEXT          how a line becomes a prompt; {q} is the line, \n a newline (default "{q}");
                                   'course' is the instruction format "### Question:\n{q}\n\n### Answer:\n"
          --tokens N               tokens per answer (default 200)
        """ + "\n" + AdapterOptions.Help + "\n" + SamplingOptions.Help + "\n" + """
          --threads N              cores the kernels use (default: all; results do not depend on it)

        Commands at the prompt:
          temp T | topk K | topp P | tokens N    change a setting
          clear                                  forget the conversation so far
          compare TEXT                           answer TEXT twice, same seed: the base alone (adapters off),
                                                 then with the adapters (needs --adapter)
          help                                   this list
          quit                                   leave (end of input and Ctrl-C also leave; Ctrl-C during an answer stops it)

        Examples:
          edge chat --model models/baby-gpt/model.safetensors --temperature 0.8 --top-p 0.9
          echo "ROMEO:" | edge chat --model models/baby-gpt/model.safetensors     (piped input)
          edge chat --model models/baby-gpt/model.safetensors --adapter adapters/names
        """;

    const string Commands = "commands: temp T, topk K, topp P, tokens N, clear, compare TEXT, help, quit";

    public static int Run(Args args)
    {
        if (Cli.Commands.ShowHelp(args, Help)) return 0;
        var path = args.String("model") ?? throw new UsageException("--model FILE is required (a checkpoint written by 'edge train')");
        var templateOption = args.Text("template") ?? "{q}";
        int tokens = args.Int("tokens", 200, min: 1, max: 1_000_000);
        var adapterSpecs = args.Strings("adapter");
        var sampling = SamplingOptions.Parse(args);
        args.Threads();
        args.RejectUnknown(0);
        string template = templateOption == "course" ? CourseTemplate : templateOption.Replace("\\n", "\n");
        if (!template.Contains("{q}")) throw new UsageException("option --template: must contain {q} where the prompt goes");

        var loaded = Checkpoint.LoadAny(path, ModelCatalog.All, mapWeights: true);
        using var model = loaded.Model;
        var tokenizer = loaded.Tokenizer;
        var adapters = adapterSpecs.Count > 0 ? AdapterOptions.Load(adapterSpecs, model) : null;
        using var context = model.IsSequenceModel ? model.CreateDecodingContext() : model.CreateInferenceContext();
        context.Adapters = adapters;
        var sampler = sampling.CreateSampler(tokenizer.VocabSize);
        // The template's opening (e.g. "### Question:") marks the start of the next turn: stop there.
        var stopTexts = sampling.Stops.ToList();
        string opening = template[..template.IndexOf("{q}", StringComparison.Ordinal)].TrimEnd('\n');
        if (opening.Length > 0) stopTexts.Add(opening);
        var stops = new StopSequences(stopTexts);
        int stopToken = loaded.Info.Data == DataLayout.Lines ? loaded.Marker ?? -1 : -1;
        var generator = new TextGenerator(context, tokenizer);

        bool interactive = !Console.IsInputRedirected;
        string adapterNames = adapters is null ? "" : string.Join(" + ", adapters.Adapters.Select((a, i) => adapters.Scale(i) == 1f ? a.Name : $"{a.Name} x{adapters.Scale(i).ToString("G4", CultureInfo.InvariantCulture)}"));
        if (interactive) Console.WriteLine($"edge chat: {loaded.Info.Name}{(adapters is null ? "" : $" with {adapterNames}")}, vocabulary {tokenizer.VocabSize}; {Commands}");
        var transcript = new System.Text.StringBuilder();
        var interrupt = Interrupt.OnCtrlC();
        try
        {
            while (true)
            {
                if (interactive) Console.Write("> ");
                string? line = ReadLine(interrupt.Token);
                if (line is null) break; // end of input or Ctrl-C at the prompt
                line = line.TrimEnd('\r');
                var words = line.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
                string command = words.Length > 0 ? words[0] : "";
                string value = words.Length > 1 ? words[1] : "";
                switch (command)
                {
                    case "quit" or "exit" when words.Length == 1:
                        return 0;
                    case "help" when words.Length == 1:
                        Console.WriteLine(Commands);
                        continue;
                    case "clear" when words.Length == 1:
                        transcript.Clear();
                        Console.WriteLine("(conversation cleared)");
                        continue;
                    case "temp" when words.Length == 2:
                        Set(value, 0, 100, v => sampling.Temperature = (float)v, "temp");
                        sampling.Apply(sampler);
                        continue;
                    case "topk" when words.Length == 2:
                        Set(value, 0, tokenizer.VocabSize, v => sampling.TopK = (int)v, "topk", integer: true);
                        sampling.Apply(sampler);
                        continue;
                    case "topp" when words.Length == 2:
                        Set(value, 1e-6, 1, v => sampling.TopP = (float)v, "topp");
                        sampling.Apply(sampler);
                        continue;
                    case "compare" when words.Length == 2:
                        if (adapters is null)
                        {
                            Console.Error.WriteLine("edge: compare needs an adapter (start chat with --adapter DIR)");
                            continue;
                        }
                        string comparePrompt = transcript + template.Replace("{q}", value);
                        int[] compareIds;
                        try { compareIds = tokenizer.Encode(comparePrompt); }
                        catch (EdgeException e)
                        {
                            Console.Error.WriteLine($"edge: {e.Message}");
                            continue;
                        }
                        // The same seed for both answers, so only the adapters differ; the base's answer runs with them really off.
                        foreach (var (label, set) in new[] { ("base", (Edge.Lora.AdapterSet?)null), (adapterNames, adapters) })
                        {
                            Console.WriteLine($"[{label}]");
                            context.Adapters = set;
                            interrupt = interrupt.Renew();
                            generator.Generate(compareIds, tokens, sampling.CreateSampler(tokenizer.VocabSize), Console.Out, stopToken, stops, interrupt.Token);
                            Console.WriteLine();
                        }
                        context.Adapters = adapters;
                        continue;
                    case "tokens" when words.Length == 2:
                        Set(value, 1, 1_000_000, v => tokens = (int)v, "tokens", integer: true);
                        continue;
                }
                if (line.Length == 0) continue;

                string prompt = transcript + template.Replace("{q}", line);
                int[] ids;
                try { ids = tokenizer.Encode(prompt); }
                catch (EdgeException e)
                {
                    Terminal.Error($"edge: {e.Message}");
                    continue;
                }
                var answer = new StringWriter();
                interrupt = interrupt.Renew();
                generator.Generate(ids, tokens, sampler, new TeeWriter(Console.Out, answer), stopToken, stops, interrupt.Token);
                Console.WriteLine();
                transcript.Append(template.Replace("{q}", line)).Append(answer).Append('\n');
            }
        }
        finally
        {
            interrupt.Dispose();
        }
        return 0;
    }

    /// <summary>Reads a line; Ctrl-C at the prompt counts as the end of input.</summary>
    static string? ReadLine(CancellationToken cancel)
    {
        if (cancel.IsCancellationRequested) return null;
        try { return Console.ReadLine(); }
        catch (OperationCanceledException) { return null; }
    }

    static void Set(string text, double min, double max, Action<double> set, string name, bool integer = false)
    {
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max && (!integer || v == Math.Floor(v)))
        {
            set(v);
            Console.WriteLine($"({name} = {v.ToString(CultureInfo.InvariantCulture)})");
        }
        else Terminal.Error($"edge: {name}: expected {(integer ? "an integer" : "a number")} from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, got '{text}'");
    }

    /// <summary>Writes to two writers: the terminal, and the transcript of the answer.</summary>
    sealed class TeeWriter(TextWriter first, TextWriter second) : TextWriter
    {
        public override System.Text.Encoding Encoding => first.Encoding;
        public override void Write(char value) { first.Write(value); second.Write(value); }
        public override void Write(ReadOnlySpan<char> buffer) { first.Write(buffer); second.Write(buffer); }
        public override void Write(string? value) { first.Write(value); second.Write(value); }
        public override void Flush() => first.Flush();
    }
}
