using System.Diagnostics;
using System.Globalization;
using System.Text;
using Edge.Data;
using Edge.Diagnostics;
using Edge.Generation;
using Edge.Kernels;
using Edge.Quantization;
using Edge.Training;

namespace Edge.Cli;

static class BenchCommand
{
    public const string Help = """
        edge bench: how fast training and generation run here, against this machine's own peak.

        Usage: edge bench train MODEL [--batch B] [--context T] [--steps N] [--vocab V] [--threads N] [--json]
               edge bench generate MODEL|FILE [--tokens N] [--vocab V] [--type q8|q4|q4m] [--threads N] [--json]
               edge bench prefill MODEL|FILE [--prompt-tokens N] [--passes N] [--vocab V] [--type q8|q4|q4m]
                                  [--threads N] [--json]
               edge bench tokenize DIR --data FILE [--passes N] [--json]

        Options:
          train      full training steps (forward, backward, AdamW) on random tokens; default batch from the
                     model's recipe, context = the model's, 20 timed steps after 3 warm-up steps (more, up to
                     1.5 seconds, so that the JIT has optimised the hot code)
          generate   tokens at batch 1 (transformers with the KV cache), sampling included; a checkpoint FILE
                     or a model name (random weights); default 200 tokens after 20 warm-up tokens (and one
                     full-context prompt pass; the 20 repeated from an empty prompt for 1.5 seconds), so
                     timing starts at position 21
          prefill    the prompt pass at batch 1 (a transformer filling its KV cache from N prompt tokens, the
                     logits after the last): what a chat user waits for before the first token; default N = 64
                     (at most the context), 20 timed passes after 3 warm-up passes (or 1.5 seconds of them).
                     Reports the time of a pass,
                     prompt tokens per second, GFLOP/s and share of peak (every product at N rows, the head at
                     one, causal attention over the prompt)
          tokenize   GPT-2 BPE encoding speed in MB/s over a text file, from a cold cache (first pass) and a
                     warm one (the median of --passes more passes, default 5; 0 times the cold pass alone, so
                     the peak memory is that of one encoding); DIR holds the tokenizer files
          --batch B    train: examples per step          --context T  train: tokens per example
          --prompt-tokens N  prefill: prompt length      --passes N   prefill: timed passes
          --steps N    train: timed steps                --tokens N   generate: timed tokens
          --data FILE  tokenize: the text to encode      --passes N   tokenize: warm passes after the cold one
          --vocab V    vocabulary size for a model name (default 65)
          --type T     generate, prefill: quantise the weights in memory first (q8, q4, q4m), as 'edge quantize' would
          --threads N  cores the kernels use (default: all)
          --json       one JSON object instead of the table
          --quiet      no progress bar (the timed loop only stores a count for it: no drawing, no allocation)

        Reports the median and spread of the time per step or token, tokens per second, GFLOP/s (matrix
        products and attention, counted from the parameter table) as a share of this machine's peak fp32 FMA
        rate (measured first, on one thread, times the threads used), the vector width and threads, and
        managed bytes allocated per step or token. 'generate' also reports the weight bytes each token reads and
        the tokens per second that this machine's copy bandwidth (measured now, read + written bytes, STREAM's
        convention) would allow if reading the weights were all a token cost.

        Examples:
          edge bench train baby-gpt
          edge bench generate shakespeare-gpt --tokens 100
          edge bench prefill gpt2 --vocab 50257 --prompt-tokens 128 --type q4
          edge bench tokenize ../shared/data/gpt2 --data ../shared/data/tinyshakespeare.txt
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        if (args.Positionals.Count < 2) throw new UsageException("usage: edge bench train MODEL | edge bench generate MODEL|FILE | edge bench prefill MODEL|FILE | edge bench tokenize DIR (see 'edge bench --help')");
        return args.Positionals[0] switch
        {
            "train" => Train(args),
            "generate" => Generate(args),
            "prefill" => Prefill(args),
            "tokenize" => Tokenize(args),
            _ => throw new UsageException($"unknown benchmark '{args.Positionals[0]}' (train, generate, prefill, tokenize)"),
        };
    }

    static ModelInfo Model(string name) => Catalog.Find(name)
        ?? throw new UsageException($"unknown model '{name}' (models: {string.Join(", ", Catalog.All.Select(m => m.Name))})");

    static int Train(Args args)
    {
        var info = Model(args.Positionals[1]);
        int batch = args.Int("batch", info.Recipe.Batch, min: 1, max: 4096);
        int context = args.Int("context", info.Context, min: 1, max: info.Context);
        int steps = args.Int("steps", 20, min: 1, max: 100_000);
        int vocab = args.Int("vocab", 65, min: 2, max: 1_000_000);
        bool json = args.Flag("json");
        bool quiet = args.Flag("quiet");
        args.Threads();
        args.RejectUnknown(2);
        if (!info.SequenceTargets && context != info.Context) throw new UsageException($"option --context: {info.Name} reads exactly {info.Context} tokens");
        if (info.FitsByCounting) throw new UsageException($"{info.Name} is fitted by counting; there is no training step to time");

        using var bar = new ProgressBar(3 + steps, "steps", quiet, status: "measuring this machine's peak");
        double peak = Backend.Current.IsDevice ? double.NaN : MachinePeak.MeasureGflops() * Math.Min(Parallelism.Threads, Environment.ProcessorCount);
        bar.Status = "warm-up";
        using var model = info.Create(vocab);
        model.Initialize(1);
        var rng = new Rng(2);
        var tokens = Enumerable.Range(0, Math.Max(100_000, 20 * (context + 1))).Select(_ => rng.NextInt(vocab)).ToArray();
        // Examples of the timed length (a sequence model may be timed at a shorter context than its own).
        var data = DataSplits.FromText(tokens, context, info.SequenceTargets);
        var options = new TrainOptions
        {
            Steps = int.MaxValue, Batch = batch, GradClip = 1.0, WeightDecay = 0.1, LearningRate = 1e-4, Dropout = info.Recipe.Dropout,
        };
        using var trainer = new Trainer(Backend.Current.CreateTraining(model, batch, options), data.Train, data.Val, options);
        Func<float> step = trainer.TrainStep;
        WarmUp(() => step(), 3);
        bar.Report(3);
        bar.Status = "timing";
        var (times, allocated) = Time(() => step(), steps, bar, reportFrom: 4);
        bar.Dispose();
        int tokensPerStep = info.SequenceTargets ? batch * context : batch;
        double flops = FlopCount.TrainingStep(model, batch, context);
        Report(json, "train", info.Name, $"batch {batch}, context {context}, vocabulary {vocab}", times, "step", tokensPerStep, flops, peak, allocated);
        return 0;
    }

    /// <summary>
    /// Runs <paramref name="once"/> at least <paramref name="count"/> times and until <see cref="WarmUpSeconds"/> have
    /// passed. Under the JIT a method is recompiled with full optimisation only after 30 calls and a 100 ms delay that
    /// every newly compiled method extends, so a small model's whole timed loop could otherwise run partly unoptimised
    /// code (the baby GPT's tokens measured 0.73 ms at one thread where optimised code takes 0.12). After an in-memory
    /// quantisation (--type) the optimised code arrived only about 0.75 s into the warm-up (an ad-hoc per-call timing), so half a second was not
    /// enough (the quantised baby GPT's prompt pass measured 1.5 ms where it takes 1.05). NativeAOT code is optimised
    /// from the start.
    /// </summary>
    static void WarmUp(Action once, int count)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count || Stopwatch.GetElapsedTime(start).TotalSeconds < WarmUpSeconds; i++) once();
    }

    const double WarmUpSeconds = 1.5;

    /// <summary>
    /// Times <paramref name="count"/> calls of <paramref name="once"/> (milliseconds each) and the managed bytes they
    /// allocate per call; the bar's count goes from <paramref name="reportFrom"/> (it only stores a number: nothing drawn
    /// or allocated in the loop).
    /// </summary>
    static (double[] Times, double AllocatedPerCall) Time(Action once, int count, ProgressBar bar, int reportFrom)
    {
        var times = new double[count];
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            once();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            bar.Report(reportFrom + i);
        }
        return (times, (double)(GC.GetAllocatedBytesForCurrentThread() - allocated) / count);
    }

    static int Generate(Args args)
    {
        string target = args.Positionals[1];
        int tokens = args.Int("tokens", 200, min: 1, max: 1_000_000);
        int vocab = args.Int("vocab", 65, min: 2, max: 1_000_000);
        var type = QuantTypeOption(args);
        bool json = args.Flag("json");
        bool quiet = args.Flag("quiet");
        args.Threads();
        args.RejectUnknown(2);

        using var bar = new ProgressBar(tokens, "tokens", quiet, status: "loading");
        var (model, name) = LoadOrCreate(target, vocab, type, bar);
        using (model)
        {
            bar.Status = "measuring this machine's peak";
            bool device = Backend.Current.IsDevice;
            double peak = device ? double.NaN : MachinePeak.MeasureGflops() * Math.Min(Parallelism.Threads, Environment.ProcessorCount);
            bar.Status = "measuring memory bandwidth";
            double bandwidth = device ? double.NaN : MachinePeak.MeasureCopyBandwidth();
            ResetPeakMemory();   // the bandwidth test's two 256 MiB buffers are not the model's
            var tokenizer = Edge.Text.CharTokenizer.FromText(new string(Enumerable.Range(0, model.VocabSize).Select(i => (char)(0x100 + i)).ToArray()));
            using var context = Backend.Current.CreateGeneration(model);
            var generator = new TextGenerator(context, tokenizer);
            var sampler = new Sampler(model.VocabSize, seed: 1, temperature: 0.8f, topK: 40);
            // Warm-up: one prompt pass over a full context first (it sizes the kernels' per-thread scratch for the
            // longest pass a window slide will make, so nothing is allocated later), then 20 tokens from an empty
            // prompt. Timed tokens then start at position 21: the figures are for a short context, where reading
            // the weights is most of a token's work.
            bar.Status = "warm-up";
            generator.Reset(new int[model.InputLength]);
            generator.Next(sampler);
            WarmUp(() =>
            {
                generator.Reset([]);
                for (int i = 0; i < 20; i++) generator.Next(sampler);
            }, 1);
            bar.Status = "timing";
            var (times, allocated) = Time(() => generator.Next(sampler), tokens, bar, reportFrom: 1);
            bar.Dispose();
            // One position per token: the matrix products at one row, attention over about half the context.
            double flops = FlopCount.Forward(model, 1, 1) + (model.IsSequenceModel ? AttentionPerToken(model) : 0);
            string how = model.IsSequenceModel ? "batch 1, KV cache" : $"batch 1, window {model.InputLength}";
            Report(json, "generate", name, how, times, "token", 1, flops, peak, allocated,
                device ? null : (QuantizedCheckpoint.WeightBytesPerToken(model), bandwidth));
        }
        return 0;
    }

    /// <summary>--type q8|q4|q4m of bench generate and bench prefill, or null.</summary>
    static QuantType? QuantTypeOption(Args args) => args.String("type") is not { } typeName ? null
        : QuantTypes.TryParse(typeName, out var t) ? t : throw new UsageException($"option --type: expected q8, q4 or q4m, got '{typeName}'");

    /// <summary>
    /// A checkpoint file or directory, or a model name with random weights (vocabulary <paramref name="vocab"/>), quantised
    /// in memory to <paramref name="type"/> when given (the name then says so).
    /// </summary>
    static (LanguageModel Model, string Name) LoadOrCreate(string target, int vocab, QuantType? type, ProgressBar bar)
    {
        LanguageModel model;
        string name;
        if (File.Exists(target) || Directory.Exists(target))
        {
            var loaded = Checkpoint.LoadAny(target, Catalog.All, mapWeights: true);
            (model, name) = (loaded.Model, $"{loaded.Info.Name} ({Path.GetFileName(target)})");
        }
        else if (target.Contains('/') || target.Contains('\\') || target.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            throw new EdgeException($"{target}: file not found");
        else
        {
            (model, name) = (Model(target).Create(vocab), target);
            model.Initialize(1);
        }
        if (type is { } quantize)
        {
            try
            {
                bar.Status = $"quantising to {quantize.Name()}";
                QuantizedCheckpoint.QuantizeInMemory(model, quantize);
            }
            catch
            {
                model.Dispose();
                throw;
            }
            name += $" ({quantize.Name()})";
        }
        return (model, name);
    }

    static int Prefill(Args args)
    {
        string target = args.Positionals[1];
        int promptTokens = args.Int("prompt-tokens", 64, min: 1, max: 1_000_000);
        int passes = args.Int("passes", 20, min: 1, max: 100_000);
        int vocab = args.Int("vocab", 65, min: 2, max: 1_000_000);
        var type = QuantTypeOption(args);
        bool json = args.Flag("json");
        bool quiet = args.Flag("quiet");
        args.Threads();
        args.RejectUnknown(2);

        using var bar = new ProgressBar(passes, "passes", quiet, status: "loading");
        var (model, name) = LoadOrCreate(target, vocab, type, bar);
        using (model)
        {
            if (!model.IsSequenceModel) throw new UsageException($"{model.Name} reads a fixed window: it has no prompt pass (use 'edge bench generate')");
            if (promptTokens > model.InputLength)
                throw new UsageException($"option --prompt-tokens: {model.Name}'s context is {model.InputLength} tokens, got {promptTokens}");
            bar.Status = "measuring this machine's peak";
            bool device = Backend.Current.IsDevice;
            double peak = device ? double.NaN : MachinePeak.MeasureGflops() * Math.Min(Parallelism.Threads, Environment.ProcessorCount);
            ResetPeakMemory();
            using var context = Backend.Current.CreateGeneration(model);
            var prompt = new int[promptTokens];
            var rng = new Random(1);
            for (int i = 0; i < prompt.Length; i++) prompt[i] = rng.Next(model.VocabSize);
            bar.Status = "warm-up";
            WarmUp(() => context.Prefill(prompt), 3);
            bar.Status = "timing";
            var (times, allocated) = Time(() => context.Prefill(prompt), passes, bar, reportFrom: 1);
            bar.Dispose();
            // Every product at N rows except the head, which a prompt pass computes for the last position only.
            double head = model.Layout.Projections.Where(p => p.Out == model.VocabSize).Sum(p => 2.0 * p.In * p.Out);
            double flops = FlopCount.Forward(model, 1, promptTokens) - (promptTokens - 1) * head;
            Report(json, "prefill", name, $"batch 1, prompt of {promptTokens} tokens", times, "pass", promptTokens, flops, peak, allocated);
        }
        return 0;
    }

    static int Tokenize(Args args)
    {
        var dir = args.Positionals[1];
        var data = args.String("data") ?? throw new UsageException("edge bench tokenize DIR --data FILE");
        int passes = args.Int("passes", 5, min: 0, max: 1000);
        bool json = args.Flag("json");
        bool quiet = args.Flag("quiet");
        args.RejectUnknown(2);
        var text = TextCorpus.Read(data);
        double mb = Encoding.UTF8.GetByteCount(text) / 1e6;
        var tokenizer = Edge.Text.BpeTokenizer.FromDirectory(dir);
        var warm = new double[passes];
        using var bar = new ProgressBar(1 + passes, "passes", quiet, status: $"encoding {Path.GetFileName(data)}");
        long start = Stopwatch.GetTimestamp();
        int tokens = tokenizer.Encode(text).Length;
        double cold = Stopwatch.GetElapsedTime(start).TotalSeconds;
        bar.Report(1);
        for (int i = 0; i < passes; i++)
        {
            start = Stopwatch.GetTimestamp();
            tokenizer.Encode(text);
            warm[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            bar.Report(2 + i);
        }
        bar.Dispose();
        double? median = passes > 0 ? warm.Order().ElementAt(passes / 2) : null;
        double peak = PeakMemoryMiB();
        if (json)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"benchmark\":\"tokenize\",\"file\":\"{Path.GetFileName(data)}\",\"megabytes\":{mb:0.###},\"tokens\":{tokens},\"cold_seconds\":{cold:0.###},\"cold_mb_per_second\":{mb / cold:0.##},")
                + (median is { } m ? string.Create(CultureInfo.InvariantCulture, $"\"warm_mb_per_second\":{mb / m:0.##},") : "")
                + string.Create(CultureInfo.InvariantCulture, $"\"peak_memory_mib\":{peak:0}}}"));
        else
        {
            Console.WriteLine($"edge bench tokenize: {Path.GetFileName(data)}, {mb.ToString("0.00", CultureInfo.InvariantCulture)} MB -> {tokens:N0} tokens");
            Console.WriteLine($"  cold cache         {(mb / cold).ToString("0.0", CultureInfo.InvariantCulture)} MB/s (first pass, {cold.ToString("0.00", CultureInfo.InvariantCulture)} s)");
            if (median is { } m)
                Console.WriteLine($"  warm cache         {(mb / m).ToString("0.0", CultureInfo.InvariantCulture)} MB/s (median of {passes} pass{(passes == 1 ? "" : "es")})");
            Console.WriteLine($"  peak memory        {peak.ToString("N0", CultureInfo.InvariantCulture)} MiB resident");
        }
        return 0;
    }

    static double AttentionPerToken(LanguageModel model)
    {
        var (layers, width) = FlopCount.Attention(model);
        return 4.0 * width * (model.InputLength / 2.0) * layers;
    }

    /// <param name="memory">Generation: weight bytes read per token, and the measured copy bandwidth in GB/s.</param>
    static void Report(bool json, string kind, string model, string shape, double[] times, string unit, int tokensPer, double flops, double peak, double bytesPer,
        (long WeightBytes, double Bandwidth)? memory = null)
    {
        var sorted = times.Order().ToArray();
        double median = sorted[sorted.Length / 2], p10 = sorted[sorted.Length / 10], p90 = sorted[Math.Min(sorted.Length - 1, sorted.Length * 9 / 10)];
        double tokensPerSecond = tokensPer / (median / 1000);
        double gflops = flops / (median / 1000) / 1e9;
        int bits = Simd.Bits;
        if (json)
        {
            var s = new StringBuilder();
            s.Append(CultureInfo.InvariantCulture, $"{{\"benchmark\":\"{kind}\",\"model\":\"{model}\",\"shape\":\"{shape}\",");
            s.Append(CultureInfo.InvariantCulture, $"\"ms_per_{unit}_median\":{median:0.####},\"ms_per_{unit}_p10\":{p10:0.####},\"ms_per_{unit}_p90\":{p90:0.####},");
            s.Append(CultureInfo.InvariantCulture, $"\"tokens_per_second\":{tokensPerSecond:0.##},\"gflops\":{gflops:0.###},");
            if (!double.IsNaN(peak))
                s.Append(CultureInfo.InvariantCulture, $"\"peak_gflops\":{peak:0.#},\"percent_of_peak\":{100 * gflops / peak:0.##},\"vector_bits\":{bits},\"threads\":{Parallelism.Threads},");
            s.Append(CultureInfo.InvariantCulture, $"\"bytes_allocated_per_{unit}\":{bytesPer:0.#},");
            if (memory is { } m)
                s.Append(CultureInfo.InvariantCulture, $"\"weight_bytes_per_token\":{m.WeightBytes},\"copy_bandwidth_gbs\":{m.Bandwidth:0.##},\"bandwidth_bound_tokens_per_second\":{m.Bandwidth * 1e9 / m.WeightBytes:0.##},\"percent_of_bandwidth_bound\":{100 * tokensPerSecond * m.WeightBytes / (m.Bandwidth * 1e9):0.##},");
            s.Append(CultureInfo.InvariantCulture, $"\"peak_memory_mib\":{PeakMemoryMiB():0}}}");
            Console.WriteLine(s.ToString());
            return;
        }
        Console.WriteLine($"edge bench {kind}: {model}, {shape}, {times.Length} {unit}{(unit.EndsWith('s') ? "es" : "s")} timed");
        Console.WriteLine($"  ms per {unit}        {median.ToString("0.000", CultureInfo.InvariantCulture)} median  ({p10.ToString("0.000", CultureInfo.InvariantCulture)} p10 .. {p90.ToString("0.000", CultureInfo.InvariantCulture)} p90)");
        Console.WriteLine($"  tokens per second  {tokensPerSecond.ToString("N0", CultureInfo.InvariantCulture)}");
        if (double.IsNaN(peak))   // a device: no CPU peak to compare with
            Console.WriteLine($"  GFLOP/s            {gflops.ToString("0.0", CultureInfo.InvariantCulture)}  (on the device)");
        else
        {
            Console.WriteLine($"  GFLOP/s            {gflops.ToString("0.0", CultureInfo.InvariantCulture)}  ({(100 * gflops / peak).ToString("0.0", CultureInfo.InvariantCulture)}% of this machine's peak for {Parallelism.Threads} thread{(Parallelism.Threads == 1 ? "" : "s")}: {peak.ToString("0", CultureInfo.InvariantCulture)} GFLOP/s, measured now)");
            Console.WriteLine($"  vector width       {bits} bits, {Parallelism.Threads} thread{(Parallelism.Threads == 1 ? "" : "s")}");
        }
        if (memory is { } mem)
        {
            double bound = mem.Bandwidth * 1e9 / mem.WeightBytes;
            Console.WriteLine($"  weights read       {(mem.WeightBytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture)} MB per token; at {mem.Bandwidth.ToString("0.0", CultureInfo.InvariantCulture)} GB/s copy bandwidth (measured now) " +
                $"at most {bound.ToString("N0", CultureInfo.InvariantCulture)} tokens/s: {(100 * tokensPerSecond / bound).ToString("0", CultureInfo.InvariantCulture)}% of that bound");
        }
        Console.WriteLine($"  managed bytes      {bytesPer.ToString("0", CultureInfo.InvariantCulture)} allocated per {unit}");
        Console.WriteLine($"  peak memory        {PeakMemoryMiB().ToString("N0", CultureInfo.InvariantCulture)} MiB resident");
    }

    /// <summary>The process's peak resident set (weights, activations, caches, runtime) since the last reset.</summary>
    static double PeakMemoryMiB()
    {
        using var self = Process.GetCurrentProcess();
        return self.PeakWorkingSet64 / (1024.0 * 1024.0);
    }

    /// <summary>Starts the peak resident set afresh (Linux: writing 5 to /proc/self/clear_refs resets VmHWM); elsewhere a no-op.</summary>
    static void ResetPeakMemory()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
