using System.Globalization;
using Edge.Generation;

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
          adapter DIR[:SCALE]                    switch to this adapter alone (loaded once, then kept)
          adapters                               the loaded adapters and which are on, at what scale
          base                                   switch every adapter off
          compare TEXT                           answer TEXT twice, same seed: the base alone, then with the
                                                 adapters that are on
          clear                                  forget the conversation so far
          help                                   this list
          quit                                   leave (end of input and Ctrl-C also leave; Ctrl-C during an answer stops it)

        An answer ends at the end-of-text token (which instruction adapters learn to emit), at the template's next
        "### Question:", or after --tokens. With piped input, a line that fails (a character the model lacks, a bad
        command) is reported on stderr and chat exits with 1 after the rest.

        Examples:
          edge chat --model models/baby-gpt/model.safetensors --temperature 0.8 --top-p 0.9
          echo "ROMEO:" | edge chat --model models/baby-gpt/model.safetensors     (piped input)
          edge chat --model models/baby-gpt/model.safetensors --adapter adapters/names
        """;

    const string Commands = "commands: temp T, topk K, topp P, tokens N, adapter DIR[:SCALE], adapters, base, compare TEXT, clear, help, quit";

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

        var loaded = Checkpoint.LoadAny(path, Catalog.All, mapWeights: true);
        using var model = loaded.Model;
        var tokenizer = loaded.Tokenizer;
        var adapters = new ChatAdapters(model, adapterSpecs);
        using var _ = adapters;
        using var context = model.IsSequenceModel ? model.CreateDecodingContext() : model.CreateInferenceContext();
        context.Adapters = adapters.Set;
        var sampler = sampling.CreateSampler(tokenizer.VocabSize);
        // The template's opening (e.g. "### Question:") marks the start of the next turn: stop there.
        var stopTexts = sampling.Stops.ToList();
        string opening = template[..template.IndexOf("{q}", StringComparison.Ordinal)].TrimEnd('\n');
        if (opening.Length > 0) stopTexts.Add(opening);
        var stops = new StopSequences(stopTexts);
        int stopToken = loaded.Info.Data == DataLayout.Lines ? loaded.Marker ?? -1 : Edge.Lora.LoraData.StopToken(tokenizer) ?? -1;
        var generator = new TextGenerator(context, tokenizer);

        bool interactive = !Console.IsInputRedirected;
        int failures = 0;
        void Fail(string message)
        {
            failures++;
            Terminal.Error($"edge: {message}");
        }
        if (interactive) Console.WriteLine($"edge chat: {loaded.Info.Name}{(adapters.Active.Length > 0 ? $" with {adapters.Active}" : "")}, vocabulary {tokenizer.VocabSize}; {Commands}");
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
                string value = words.Length > 1 ? words[1].Trim() : "";
                switch (command)
                {
                    case "quit" or "exit" when words.Length == 1:
                        return failures > 0 && !interactive ? 1 : 0;
                    case "help" when words.Length == 1:
                        Console.WriteLine(Commands);
                        continue;
                    case "clear" when words.Length == 1:
                        transcript.Clear();
                        Console.WriteLine("(conversation cleared)");
                        continue;
                    case "temp" when words.Length == 2:
                        if (Set(value, 0, 100, v => sampling.Temperature = (float)v, "temp", Fail)) sampling.Apply(sampler);
                        continue;
                    case "topk" when words.Length == 2:
                        if (Set(value, 0, tokenizer.VocabSize, v => sampling.TopK = (int)v, "topk", Fail, integer: true)) sampling.Apply(sampler);
                        continue;
                    case "topp" when words.Length == 2:
                        if (Set(value, 1e-6, 1, v => sampling.TopP = (float)v, "topp", Fail)) sampling.Apply(sampler);
                        continue;
                    case "tokens" when words.Length == 2:
                        Set(value, 1, 1_000_000, v => tokens = (int)v, "tokens", Fail, integer: true);
                        continue;
                    case "adapter" when words.Length == 2:
                        try
                        {
                            adapters.Switch(value);
                            context.Adapters = adapters.Set;
                            Console.WriteLine($"(adapter {adapters.Active})");
                        }
                        catch (EdgeException e) { Fail(e.Message); }
                        continue;
                    case "adapters" when words.Length == 1:
                        Console.WriteLine(adapters.Describe());
                        continue;
                    case "base" when words.Length == 1:
                        adapters.Off();
                        Console.WriteLine("(base: every adapter off)");
                        continue;
                    case "compare" when words.Length == 2:
                        if (adapters.Active.Length == 0)
                        {
                            Fail("compare needs an adapter that is on (start chat with --adapter DIR, or type 'adapter DIR')");
                            continue;
                        }
                        int[] compareIds;
                        try { compareIds = tokenizer.Encode(transcript + template.Replace("{q}", value)); }
                        catch (EdgeException e)
                        {
                            Fail(e.Message);
                            continue;
                        }
                        // The same seed for both answers, so only the adapters differ; the base's answer runs with them really off.
                        foreach (var (label, set) in new[] { ("base", (Edge.Lora.AdapterSet?)null), (adapters.Active, adapters.Set) })
                        {
                            Console.WriteLine($"[{label}]");
                            context.Adapters = set;
                            interrupt = interrupt.Renew();
                            generator.Generate(compareIds, tokens, sampling.CreateSampler(tokenizer.VocabSize), Console.Out, stopToken, stops, interrupt.Token);
                            Console.WriteLine();
                        }
                        context.Adapters = adapters.Set;
                        continue;
                }
                if (line.Length == 0) continue;

                string prompt = transcript + template.Replace("{q}", line);
                int[] ids;
                try { ids = tokenizer.Encode(prompt); }
                catch (EdgeException e)
                {
                    Fail(e.Message);
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
        return failures > 0 && !interactive ? 1 : 0;
    }

    /// <summary>Reads a line; Ctrl-C at the prompt counts as the end of input.</summary>
    static string? ReadLine(CancellationToken cancel)
    {
        if (cancel.IsCancellationRequested) return null;
        try { return Console.ReadLine(); }
        catch (OperationCanceledException) { return null; }
    }

    static bool Set(string text, double min, double max, Action<double> set, string name, Action<string> fail, bool integer = false)
    {
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max && (!integer || v == Math.Floor(v)))
        {
            set(v);
            Console.WriteLine($"({name} = {v.ToString(CultureInfo.InvariantCulture)})");
            return true;
        }
        fail($"{name}: expected {(integer ? "an integer" : "a number")} from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, got '{text}'");
        return false;
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

    /// <summary>
    /// The adapters of a running chat: those given with --adapter (all on), and those loaded later with
    /// `adapter DIR[:SCALE]`, each loaded once and kept, so switching back is instant.
    /// </summary>
    sealed class ChatAdapters : IDisposable
    {
        readonly LanguageModel _model;
        readonly List<Edge.Lora.LoraAdapter> _loaded = new();
        readonly List<string> _paths = new();
        string? _fingerprint;

        public ChatAdapters(LanguageModel model, IReadOnlyList<string> specs)
        {
            _model = model;
            if (specs.Count == 0) return;
            var set = AdapterOptions.Load(specs, model);
            _loaded.AddRange(set.Adapters);
            _paths.AddRange(specs.Select(s => Path.GetFullPath(AdapterOptions.Parse(s).Path)));
            Set = set;
        }

        /// <summary>The set a context uses (null before any adapter is loaded).</summary>
        public Edge.Lora.AdapterSet? Set { get; private set; }

        /// <summary>The adapters that are on, "names x0.5 + pirate", or "" for the base alone.</summary>
        public string Active => Set is null ? "" : string.Join(" + ", Enumerable.Range(0, _loaded.Count).Where(i => Set.Scale(i) != 0f)
            .Select(i => Set.Scale(i) == 1f ? _loaded[i].Name : $"{_loaded[i].Name} x{Set.Scale(i).ToString("G4", CultureInfo.InvariantCulture)}"));

        /// <summary>Only the adapter <paramref name="spec"/> names (loaded now if new) on, at its scale.</summary>
        public void Switch(string spec)
        {
            var (path, scale) = AdapterOptions.Parse(spec);
            string full = Path.GetFullPath(path);
            int index = _paths.IndexOf(full);
            if (index < 0)
            {
                _fingerprint ??= Edge.Lora.BaseFingerprint.Of(_model);
                _loaded.Add(Edge.Lora.AdapterFile.Load(path, _model, _fingerprint));
                _paths.Add(full);
                index = _loaded.Count - 1;
                Set = new Edge.Lora.AdapterSet(_model.Layout, _loaded);   // a set over every adapter loaded so far
            }
            Set!.ActivateOnly(index, scale);
        }

        public void Off() => Set?.DeactivateAll();

        public string Describe()
        {
            if (_loaded.Count == 0) return "(no adapters loaded; 'adapter DIR' loads one)";
            return string.Join("\n", _loaded.Select((a, i) =>
                $"  {a.Name,-20} {(Set!.Scale(i) == 0f ? "off" : "on, scale " + Set.Scale(i).ToString("G4", CultureInfo.InvariantCulture))}  ({_paths[i]})"));
        }

        public void Dispose()
        {
            foreach (var a in _loaded) a.Dispose();
        }
    }
}
