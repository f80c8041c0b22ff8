using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Edge.Files;
using Edge.Formats;
using Edge.Lora;
using Edge.Text;
using Edge.Training;

namespace Edge.Cli;

/// <summary>`edge lora train|info|merge`: adapters trained on a frozen base, described, and merged into it.</summary>
static class LoraCommand
{
    public const string Help = """
        edge lora: fine-tune a base model with a small LoRA adapter, describe adapters, merge one into its base.

        Usage: edge lora train|info|merge [options]
          edge lora train --base MODEL --data FILE [options]     train an adapter (see 'edge lora train --help')
          edge lora info DIR                                     what an adapter folder holds
          edge lora merge --base MODEL --adapter DIR[:SCALE]... --out FILE|DIR
                                                                 write the base with adapters merged into its weights

        Adapters are folders in PEFT's layout (adapter_model.safetensors + adapter_config.json): they load in PEFT for
        a GPT-2-family base, and PEFT's load here. Use them with 'edge generate --adapter DIR[:SCALE]' and 'edge chat'.

        Examples:
          edge lora train --base models/baby-gpt/model.safetensors --data ../shared/data/names.txt --out adapters/names
          edge lora info adapters/names
        """;

    /// <summary>What 'edge lora --help' prints: the overview, then each sub-command's options.</summary>
    public static readonly string FullHelp = Help + "\n\n" + TrainHelp + "\n\n" + MergeHelp;

    const string TrainHelp = """
        edge lora train: train a LoRA adapter on a frozen base (no weight gradients or optimiser state for the base).

        Usage: edge lora train --base MODEL --data FILE [options]

        Options:
          --base FILE|DIR        a checkpoint written by 'edge train', or a Hugging Face GPT-2-family folder
          --data FILE            UTF-8 text, or JSONL instruction pairs (.jsonl): "instruction"/"response", also
                                 "question"/"answer", "output", "completion" (an Alpaca "input" joins the instruction)
          --format text|jsonl    how to read --data (default: jsonl for .jsonl files, else text)
          --template TEXT        how a pair becomes text, {q} and {a} the parts, \n a newline; the end-of-text token
                                 follows (default "### Question:\n{q}\n\n### Answer:\n{a}")
          --full-loss            score the whole text of a pair (question and template too); by default only the
                                 answer's tokens and the end-of-text token that ends it are scored, as the course does
          --answer-only          the default (accepted for older scripts)
          --rank R               the rank r of A [r, in] and B [out, r] (default 8)
          --alpha A              the term is scaled by alpha / r (default 16)
          --dropout P            dropout on the adapter's input in training (default 0.05)
          --targets LIST         comma-separated modules in every block: attn.c_attn, attn.c_proj, mlp.c_fc,
                                 mlp.c_proj (c_attn, c_fc, c_proj also work; default attn.c_attn)
          --steps N              optimisation steps (default 200)
          --batch B              examples per step (default 8)
          --lr X                 peak learning rate, AdamW (default 1e-3)
          --warmup N             linear warm-up steps; a run shorter than 10 x N warms up for a tenth of its steps (default 20)
          --min-lr X             the rate at the last step, after cosine decay (default 0)
          --weight-decay W       AdamW decay on A and B (default 0)
          --grad-clip G          scale the adapter's gradients down to global norm G (default 1; 0: off)
          --eval-interval N      evaluate on the validation split every N steps (default 50)
          --eval-iters M         evaluate on M batches of validation examples (default: up to 1024 examples)
          --seed S               A's initialisation, batch order and dropout (default 1337)
          --split-seed S         shuffle of instruction pairs before the 90/10 split (default 42)
          --out DIR              the adapter folder (default adapters/NAME, NAME from --data)
          --force                replace the adapter a folder already holds
          --resume               continue the run saved in DIR/last.safetensors (its adapter, AdamW moments, step and
                                 random streams) exactly as if it had not stopped; the adapter's rank, alpha, dropout
                                 and targets are the run's, and --data must be the same file content
          --quiet                no progress bar
          --threads N            cores the kernels use (default: all; results do not depend on it)

        Text is split 90/10 (contiguous) into windows of the base's context; pairs are shuffled and split 90/10. Each pair
        ends with the end-of-text token (generate and chat stop there); a pair longer than the context is left out and
        counted in the header, never cut. The base's losses are printed first, so the adapter's can be compared with
        them. DIR gets adapter_model.safetensors (the best validation loss so far), adapter_config.json and log.csv. A
        folder that holds an adapter is refused unless --force; the adapter's two files are replaced as one unit.

        Examples:
          edge lora train --base models/baby-gpt/model.safetensors --data ../shared/data/names.txt --out adapters/names
          edge lora train --base path/to/distilgpt2 --data pairs.jsonl --rank 8 --alpha 16
        """;

    const string MergeHelp = """
        edge lora merge: add adapters' terms into a copy of the base's weights and write it as a model.

        Usage: edge lora merge --base MODEL --adapter DIR[:SCALE] [--adapter ...] --out FILE|DIR

        Options:
          --force                replace a folder that already holds files (a Hugging Face base's --out DIR)
          --threads N            cores the kernels use (default: all; results do not depend on it)

        An Edge checkpoint base gives an Edge checkpoint FILE, a llama2.c base a llama2.c FILE; a Hugging Face folder
        gives a folder DIR with the merged model.safetensors and the base's config and tokenizer files. The output is
        written crash-safe (a folder as one unit) and is never the base, an adapter, or a file inside them.
        """;

    public static int Run(string[] argv)
    {
        if (argv.Length == 0 || argv[0] is "--help" or "-h" or "help")
        {
            Console.WriteLine(Terminal.Help(FullHelp, Terminal.OutColour));
            return argv.Length == 0 ? 2 : 0;
        }
        var rest = argv.AsSpan(1);
        return argv[0] switch
        {
            "train" => Train(Args.Parse("lora train", rest, ["answer-only", "full-loss", "quiet", "force", "resume"], Args.OptionsIn(TrainHelp))),
            "info" => Info(Args.Parse("lora info", rest)),
            "merge" => Merge(Args.Parse("lora merge", rest, ["force"], Args.OptionsIn(MergeHelp + AdapterOptions.Help))),
            _ => throw new UsageException($"unknown lora command '{argv[0]}'{Args.Suggest(argv[0], ["train", "info", "merge"], "")} (lora commands: train, info, merge; see 'edge lora --help')"),
        };
    }

    static int Train(Args args)
    {
        if (Commands.ShowHelp(args, TrainHelp)) return 0;
        var basePath = args.String("base") ?? throw new UsageException("--base MODEL is required (a checkpoint or a Hugging Face GPT-2 folder)");
        var dataPath = args.String("data") ?? throw new UsageException("--data FILE is required (text, or JSONL instruction pairs)");
        bool jsonl = args.Choice("format", dataPath.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase), ("text", false), ("jsonl", true));
        string template = (args.Text("template") ?? LoraData.DefaultTemplate).Replace("\\n", "\n");
        bool fullLoss = args.Flag("full-loss");
        args.Flag("answer-only");   // the default since answers-only became it; still accepted
        bool answerOnly = !fullLoss;
        int rank = args.Int("rank", 8, min: 1, max: 4096);
        double alpha = args.Double("alpha", 16, min: 1e-6, max: 1e6);
        double dropout = args.Double("dropout", 0.05, min: 0, max: 0.95);
        var targetsText = args.String("targets");
        int steps = args.Int("steps", 200, min: 1, max: 100_000_000);
        int batch = args.Int("batch", 8, min: 1, max: 65_536);
        double lr = args.Double("lr", 1e-3, min: 0, max: 1e4);
        int warmup = args.Int("warmup", 20, min: 0);
        double minLr = args.Double("min-lr", 0, min: 0, max: 1e4);
        double weightDecay = args.Double("weight-decay", 0, min: 0, max: 1e4);
        double gradClip = args.Double("grad-clip", 1.0, min: 0, max: 1e6);
        int evalInterval = args.Int("eval-interval", Math.Min(50, steps), min: 1);
        int evalIters = args.Int("eval-iters", 0, min: 0, max: 1_000_000);
        ulong seed = args.ULong("seed", 1337);
        ulong splitSeed = args.ULong("split-seed", 42);
        string outDir = args.String("out") ?? Path.Combine("adapters", Path.GetFileNameWithoutExtension(dataPath));
        bool quiet = args.Flag("quiet");
        bool force = args.Flag("force");
        bool resume = args.Flag("resume");
        args.Threads();
        args.RejectUnknown(0);
        if (lr <= 0) throw new UsageException("option --lr: the learning rate must be positive");
        if (resume && force) throw new UsageException("--resume continues the adapter in --out and --force replaces it: give one");
        if (jsonl && (!template.Contains("{q}") || !template.Contains("{a}")))
            throw new UsageException("option --template: must contain {q} (the question) and then {a} (the answer)");
        if (fullLoss && !jsonl) throw new UsageException("--full-loss is for instruction pairs (--data FILE.jsonl or --format jsonl); text is always scored whole");
        var named = targetsText is null ? null : LoraConfig.ParseTargets(targetsText.Split(','));
        if (named is not null)
        {
            try { new LoraConfig(rank, alpha, dropout, named).Validate(); }
            catch (EdgeException e) { throw new UsageException($"option --targets: {e.Message}"); }
        }
        Edge.Files.SafeFile.CheckOutputFolder(outDir, "--out", basePath, dataPath);   // before the work; claimed once the data is read
        var loaded = Checkpoint.LoadAny(basePath, Catalog.All, mapWeights: true);
        using var model = loaded.Model;
        if (!model.IsSequenceModel) throw new EdgeException($"{basePath}: {model.Name} is not a transformer; LoRA targets the projections of transformer blocks");
        // The default targets are the base's family's: GPT-2's fused QKV projection, Llama's q_proj and v_proj.
        var config = new LoraConfig(rank, alpha, dropout, named ?? LoraConfig.DefaultTargetsFor(model.Layout)) { BaseModel = basePath }.Validate();
        string text = Edge.Data.TextCorpus.Read(dataPath);
        LoraData data;
        try
        {
            data = jsonl
                ? LoraData.FromPairs(LoraData.ParseJsonl(text, dataPath), loaded.Tokenizer, model.InputLength, template, answerOnly, splitSeed)
                : LoraData.FromText(text, loaded.Tokenizer, model.InputLength);
        }
        catch (EdgeException e) when (!e.Message.StartsWith(dataPath, StringComparison.Ordinal)) { throw new EdgeException($"{dataPath}: {e.Message}"); }
        string[] outputs = [AdapterFile.WeightsName, AdapterFile.ConfigName, "log.csv", AdapterResume.FileName];
        using var folder = OutputFolder.Claim(outDir, "--out", outputs,
            resume ? OutputFolder.Existing.Continue : force ? OutputFolder.Existing.Replace : OutputFolder.Existing.Refuse, basePath, dataPath);
        if (force)   // a new adapter: nothing of the old one may be left to mix with it
            foreach (var name in outputs) File.Delete(Path.Combine(outDir, name));

        // What the run trains on, so --resume can refuse other data (the splits would differ).
        var runMetadata = new Dictionary<string, string>
        {
            ["edge.data_hash"] = System.IO.Hashing.XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(text)).ToString("x16", CultureInfo.InvariantCulture),
        };
        string fingerprint = BaseFingerprint.Of(model);
        string lastPath = Path.Combine(outDir, AdapterResume.FileName);
        AdapterResume? resumed = null;
        if (resume)
        {
            if (!File.Exists(lastPath)) throw new EdgeException($"--resume: {lastPath} not found (nothing to resume in {outDir})");
            resumed = AdapterResume.Load(lastPath, model, fingerprint);
            if (resumed.Metadata.GetValueOrDefault("edge.data_hash") != runMetadata["edge.data_hash"])
            {
                resumed.Adapter.Dispose();
                throw new EdgeException($"--resume: {lastPath} was trained on other data; pass the same --data");
            }
            if (resumed.State.Step >= steps)
            {
                resumed.Adapter.Dispose();
                throw new EdgeException($"--resume: the run already reached step {resumed.State.Step}; ask for more --steps");
            }
            config = resumed.Adapter.Config;
            (rank, alpha, dropout) = (config.Rank, config.Alpha, config.Dropout);
        }
        using var adapter = resumed?.Adapter ?? LoraAdapter.Create(model.Layout, config, seed);
        adapter.BaseFingerprint = fingerprint;
        int effectiveWarmup = AdapterTraining.Warmup(steps, warmup);
        var options = new TrainOptions
        {
            Steps = steps, Batch = batch, Optimizer = OptimizerKind.AdamW, LearningRate = lr, Schedule = ScheduleKind.Cosine, Warmup = effectiveWarmup,
            MinLearningRate = minLr, WeightDecay = weightDecay, GradClip = gradClip, EvalInterval = evalInterval,
            EvalExamples = evalIters > 0 ? evalIters * batch : 1024, Dropout = model.Info.Recipe.Dropout, Seed = seed,
        };
        // The base is frozen: the context has activation gradients only, and the weights may stay memory-mapped.
        using var context = model.CreateTrainingContext(batch, frozenWeights: true);
        using var trainer = AdapterTraining.Create(context, adapter, data, options);
        var adapters = context.Adapters;
        EvalResult best = default;
        if (resumed is not null)
        {
            trainer.Restore(resumed.State);
            trainer.Optimizer.Restore(adapter.Weights.Length, resumed.State.OptimizerSteps, resumed.FirstMoments, resumed.SecondMoments);
            best = new EvalResult(resumed.State.Step, 0, resumed.State.BestVal, 0, 0);
        }
        int firstStep = trainer.Step;

        int blocks = adapter.Targets.Select(t => t.Module.Split('.')[1]).Distinct().Count();
        Console.WriteLine($"lora on {model.Name} ({model.ParameterCount:N0} parameters, frozen{(model.WeightsAreMapped ? ", memory-mapped read-only" : "")}): " +
            $"rank {rank}, alpha {alpha:G4}, dropout {dropout:G3} on {string.Join(", ", config.Targets)} in {blocks} blocks: " +
            $"{adapter.ParameterCount:N0} trainable parameters ({100.0 * adapter.ParameterCount / model.ParameterCount:0.00}%)");
        Console.WriteLine($"data {dataPath}: {data.Description}");
        Console.WriteLine($"adamw lr {lr:G4} (warm-up {effectiveWarmup}{(effectiveWarmup < warmup ? $", shortened from {warmup} for a {steps:N0}-step run" : "")}, cosine to {minLr:G3}), " +
            $"batch {batch}, {steps:N0} steps{(gradClip > 0 ? $", clip {gradClip:G3}" : "")}, seed {seed}" +
            (resumed is null ? "" : $", resuming at step {firstStep:N0}"));
        Console.WriteLine(Memory(model, context, adapter));
        context.Adapters = null;   // the base alone
        double baseVal = Trainer.Evaluate(context, data.Val, batch, options.EvalExamples);
        double baseTrain = Trainer.Evaluate(context, data.Train, batch, Trainer.EvaluationCount(data.Val, options.EvalExamples));
        context.Adapters = adapters;
        Console.WriteLine($"base          train {baseTrain:0.0000}  val {baseVal:0.0000}  ppl {Math.Exp(baseVal),7:0.00}");

        string logPath = Path.Combine(outDir, "log.csv");
        var log = new StringBuilder(resumed is not null && File.Exists(logPath)
            ? TrainCommand.TruncateLog(Edge.Files.SafeFile.ReadAllText(logPath), firstStep)
            : "step,train_loss,val_loss,val_perplexity,lr,seconds\n" +
              string.Create(CultureInfo.InvariantCulture, $"0,{baseTrain:R},{baseVal:R},{Math.Exp(baseVal):R},0,0\n"));   // step 0: the base alone
        using var progress = new ProgressBar(steps, "steps", quiet, valueName: "loss", start: firstStep);
        using var interrupt = Interrupt.OnCtrlC();
        var final = trainer.Run(
            onStep: (step, loss) => progress.Report(step, loss),
            onEval: (e, improved) =>
            {
                progress.Clear();
                Console.WriteLine($"step {e.Step,7:N0}  train {e.TrainLoss:0.0000}  val {e.ValLoss:0.0000}  ppl {e.ValPerplexity,7:0.00}  lr {e.LearningRate:0.0e+00}  {e.Seconds,6:0.0}s{(improved ? "  *" : "")}");
                log.Append(CultureInfo.InvariantCulture, $"{e.Step},{e.TrainLoss:R},{e.ValLoss:R},{e.ValPerplexity:R},{e.LearningRate:R},{e.Seconds:R}\n");
                if (improved)
                {
                    best = e;
                    AdapterFile.Save(outDir, adapter);
                }
                AdapterResume.Save(lastPath, adapter, trainer, runMetadata);
                Edge.Files.SafeFile.WriteAllText(logPath, log.ToString());
            },
            interrupt.Token);
        progress.Clear();
        long size = AdapterFile.SizeOnDisk(outDir);
        Console.WriteLine($"saved {outDir} (best val at step {best.Step:N0}): {AdapterFile.WeightsName} {Bytes(size)}, {final.Seconds:0.0}s");
        Console.WriteLine($"val {baseVal:0.0000} -> {best.ValLoss:0.0000} (ppl {Math.Exp(baseVal):0.00} -> {Math.Exp(best.ValLoss):0.00})");
        if (interrupt.Token.IsCancellationRequested)
        {
            Console.WriteLine($"interrupted at step {trainer.Step:N0}: the best adapter so far is saved; continue with the same command and --resume");
            return 130;
        }
        return 0;
    }

    /// <summary>What this run holds in memory, next to what full fine-tuning of the same model would add.</summary>
    static string Memory(LanguageModel model, ModelContext context, LoraAdapter adapter)
    {
        long weights = 4L * model.Layout.WeightLength, activations = context.MemoryBytes;
        long full = 3 * weights; // weight gradients + AdamW's two moments
        return $"memory: base weights {Bytes(weights)}{(model.WeightsAreMapped ? " (mapped, read-only)" : "")}, activations and their gradients {Bytes(activations)}, " +
               $"adapter {Bytes(adapter.MemoryBytes + 2 * 4L * adapter.ParameterCount)} (weights, gradients, AdamW moments, saved inputs); full fine-tuning would add {Bytes(full)}";
    }

    static int Info(Args args)
    {
        if (Commands.ShowHelp(args, "edge lora info: what an adapter folder holds (config, modules, shapes, base fingerprint, size).\n\nUsage: edge lora info DIR")) return 0;
        args.RejectUnknown(1);
        if (args.Positionals.Count == 0) throw new UsageException("give an adapter folder (see 'edge lora info --help')");
        Describe(args.Positionals[0], Console.Out);
        return 0;
    }

    /// <summary>Prints an adapter folder's summary without a base (used by `edge inspect` too).</summary>
    public static void Describe(string path, TextWriter o)
    {
        string dir = AdapterFile.FolderOf(path);
        var config = AdapterFile.ReadConfig(dir);
        string weights = Path.Combine(dir, AdapterFile.WeightsName);
        if (!Path.Exists(weights)) throw new EdgeException($"{weights}: file not found (the adapter's weights)");
        using var file = SafeTensorsFile.Open(weights);
        var modules = file.Tensors.Where(t => t.Name.EndsWith(".lora_A.weight", StringComparison.Ordinal)).ToList();
        AdapterFile.CheckTargetsAgree(weights, config, modules.Select(t => AdapterFile.ModuleOf(t.Name)));
        long parameters = file.Tensors.Sum(t => t.ElementCount);
        o.WriteLine($"adapter     {dir} ({AdapterFile.WeightsName} {Bytes(new FileInfo(weights).Length)})");
        o.WriteLine($"type        LoRA, PEFT layout");
        o.WriteLine($"base        {file.Metadata.GetValueOrDefault(AdapterFile.BaseModelKey, "(not recorded)")}" +
                    $"{(config.BaseModel.Length > 0 ? $" from {config.BaseModel}" : "")}");
        o.WriteLine($"fingerprint {file.Metadata.GetValueOrDefault(AdapterFile.FingerprintKey, "(none: checked by shapes when loaded)")}");
        o.WriteLine($"rank        {config.Rank}, alpha {config.Alpha:G6} (scaling {config.Scaling:G4}{(config.UseRsLora ? ", rsLoRA" : "")}), dropout {config.Dropout:G3}");
        o.WriteLine($"targets     {string.Join(", ", config.Targets)}: {modules.Count} modules");
        o.WriteLine($"parameters  {parameters.ToString("N0", CultureInfo.InvariantCulture)} ({Bytes(4 * parameters)} in fp32)");
        int width = file.Tensors.Count == 0 ? 4 : file.Tensors.Max(t => t.Name.Length);
        foreach (var t in file.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
            o.WriteLine($"  {t.Name.PadRight(width)}  {t.DType}  [{string.Join(", ", t.Shape)}]");
    }

    static int Merge(Args args)
    {
        if (Commands.ShowHelp(args, MergeHelp)) return 0;
        var basePath = args.String("base") ?? throw new UsageException("--base MODEL is required");
        var adapterSpecs = args.Strings("adapter");
        var outPath = args.String("out") ?? throw new UsageException("--out FILE is required");
        bool force = args.Flag("force");
        args.Threads();
        args.RejectUnknown(0);
        if (adapterSpecs.Count == 0) throw new UsageException("--adapter DIR[:SCALE] is required (repeatable)");
        ModelOutput.Check(basePath, outPath, force, [basePath, .. adapterSpecs.Select(s => AdapterOptions.Parse(s).Path)]);

        var loaded = Checkpoint.LoadAny(basePath, Catalog.All, mapWeights: false);   // a private copy: merging writes it
        using var model = loaded.Model;
        var adapters = AdapterOptions.Load(adapterSpecs, model);
        string written;
        try
        {
            for (int i = 0; i < adapters.Adapters.Count; i++)
                adapters.Adapters[i].Merge(model, adapters.Scale(i));
            FiniteCheck.Weights(model, "the merged weights");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["edge.merged_adapters"] = string.Join(", ", adapters.Adapters.Select((a, i) => $"{a.Name}:{adapters.Scale(i).ToString("G6", CultureInfo.InvariantCulture)}")),
            };
            if (Llama2cCheckpoint.IsCheckpoint(basePath))
            {
                Llama2cCheckpoint.Write(outPath, model);
                written = outPath;
            }
            else if (loaded.Tokenizer is CharTokenizer chars)
            {
                foreach (var key in new[] { "edge.seed", "edge.data", "edge.data_layout" })
                    if (loaded.Metadata.TryGetValue(key, out var v)) metadata[key] = v;
                Checkpoint.Save(outPath, model, chars, metadata);
                written = outPath;
            }
            else
            {
                metadata["format"] = "pt";
                var ps = model.Parameters;
                written = ModelOutput.Write(basePath, outPath, s => SafeTensorsWriter.WriteTo(s,
                    ps.Select(p => (p.Name, DType.F32, p.Shape.Select(d => (long)d).ToArray())).ToList(),
                    i => MemoryMarshal.AsBytes((ReadOnlySpan<float>)model.Weights.Slice(ps[i].Offset, ps[i].Length)), metadata));
            }
        }
        finally
        {
            foreach (var a in adapters.Adapters) a.Dispose();
        }
        Console.WriteLine($"merged {string.Join(", ", adapters.Adapters.Select((a, i) => $"{a.Name} (scale {adapters.Scale(i):G4})"))} into {model.Name}: wrote {written}");
        return 0;
    }

    internal static string Bytes(long n) =>
        n >= 1 << 30 ? $"{n / (double)(1 << 30):0.00} GiB" : n >= 1 << 20 ? $"{n / (double)(1 << 20):0.0} MiB" : n >= 1 << 10 ? $"{n / 1024.0:0.0} KiB" : $"{n:N0} bytes";
}

/// <summary>`--adapter DIR[:SCALE]` (repeatable) for generate, chat and merge: every adapter loaded for the base and switched on.</summary>
static class AdapterOptions
{
    public const string Help = """
          --adapter DIR[:SCALE]    a LoRA adapter folder (from 'edge lora train', or PEFT's) to apply, optionally scaled
                                   (default 1; repeatable: several adapters add up)
        """;

    /// <summary>The largest run-time scale |s| accepted: far beyond any useful blend, short of overflowing the products.</summary>
    const double MaxScale = 1000;

    /// <summary>"adapters/names:0.5" -> ("adapters/names", 0.5); a suffix that is not a number belongs to the path.</summary>
    public static (string Path, float Scale) Parse(string spec)
    {
        int colon = spec.LastIndexOf(':');
        if (colon > 0 && double.TryParse(spec[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var scale))
        {
            if (!double.IsFinite(scale) || Math.Abs(scale) > MaxScale)
                throw new UsageException($"option --adapter: the scale in '{spec}' must be a number from -{MaxScale} to {MaxScale}");
            return (spec[..colon], (float)scale);
        }
        // "adapters/names:inf", "adapters/names:1e": the folder exists without the suffix, so the suffix was meant as the scale.
        if (colon > 0 && !Directory.Exists(spec) && Directory.Exists(spec[..colon]))
            throw new UsageException($"option --adapter: the scale '{spec[(colon + 1)..]}' in '{spec}' is not a number");
        return (spec, 1f);
    }

    /// <summary>Loads every adapter (each checked against the base) into one set, all switched on at their scales.</summary>
    public static AdapterSet Load(IReadOnlyList<string> specs, LanguageModel model)
    {
        var adapters = new List<LoraAdapter>();
        var scales = new List<float>();
        string? fingerprint = null;
        try
        {
            foreach (var spec in specs)
            {
                var (path, scale) = Parse(spec);
                fingerprint ??= BaseFingerprint.Of(model);
                adapters.Add(AdapterFile.Load(path, model, fingerprint));
                scales.Add(scale);
            }
        }
        catch
        {
            foreach (var a in adapters) a.Dispose();
            throw;
        }
        var set = new AdapterSet(model.Layout, adapters);
        for (int i = 0; i < scales.Count; i++) set.Activate(i, scales[i]);
        return set;
    }
}
