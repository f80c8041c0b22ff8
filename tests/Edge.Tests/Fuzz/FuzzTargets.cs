using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Edge.Data;
using Edge.Formats;
using Edge.Tests.Models;
using Edge.Text;
using Edge.Training;

namespace Edge.Tests.Fuzz;

/// <summary>
/// One parser under fuzz: the fuzzer writes a mutated <paramref name="FileName"/> into a folder that
/// <paramref name="Seeds"/> has prepared (writing any companion files the parser needs there, valid) and calls
/// <paramref name="Parse"/> with its path. <paramref name="Seeds"/> returns the valid contents the mutations start
/// from. <paramref name="Parse"/> must release what it loads.
/// </summary>
public sealed record FuzzTarget(string Name, string FileName, Func<string, byte[][]> Seeds, Action<string> Parse)
{
    public override string ToString() => Name;
}

/// <summary>Every file parser of the runtime, with seed files written by the project's own writers.</summary>
static class FuzzTargets
{
    static readonly ModelInfo[] Models = [TinyGpt.Descriptor, TinyDeepMlp.Descriptor, TinyBigram.Descriptor];

    /// <summary>Add a parser here: a name, the file it reads, its seeds and the call that parses it.</summary>
    public static readonly FuzzTarget[] All =
    [
        new("safetensors", "file.safetensors", SafeTensorsSeeds, ReadSafeTensors),
        new("checkpoint", "model.safetensors", CheckpointSeeds, path => Checkpoint.Load(path, Models).Model.Dispose()),
        new("checkpoint-mapped", "model.safetensors", CheckpointSeeds, path => Checkpoint.Load(path, Models, mapWeights: true).Model.Dispose()),
        new("checkpoint-resume", "last.safetensors", ResumeSeeds, path => Checkpoint.LoadForResume(path, Models).Checkpoint.Model.Dispose()),
        new("char-tokenizer-metadata", "tokenizer.json", CharTokenizerSeeds, LoadWithCharTokenizer),
        new("bpe-vocab.json", "vocab.json", BpeSeeds("vocab.json"), path => BpeTokenizer.FromHuggingFace(path, Sibling(path, "merges.txt"))),
        new("bpe-merges.txt", "merges.txt", BpeSeeds("merges.txt"), path => BpeTokenizer.FromHuggingFace(Sibling(path, "vocab.json"), path)),
        new("bpe-encoder.json", "encoder.json", BpeSeeds("encoder.json"), path => BpeTokenizer.FromGpt2Files(path, Sibling(path, "vocab.bpe"))),
        new("bpe-vocab.bpe", "vocab.bpe", BpeSeeds("vocab.bpe"), path => BpeTokenizer.FromGpt2Files(Sibling(path, "encoder.json"), path)),
        new("bpe-tokenizer.json", "tokenizer.json", TokenizerJsonSeeds, path => BpeTokenizer.FromTokenizerJson(path)),
        new("sp-tokenizer.model", "tokenizer.model", FixtureSeeds("sp/tokenizer.model", "sp-collapse/tokenizer.model"), LoadAndEncode),
        new("llama2c-tokenizer.bin", "tokenizer.bin", FixtureSeeds("llama2c/tokenizer.bin"), LoadAndEncode),
        new("hf-tokenizer.json-byte-fallback", "tokenizer.json", FixtureSeeds("hf-llama/tokenizer.json", "hf-llama-metaspace/tokenizer.json"), LoadAndEncode),
        new("hf-tokenizer.json-byte-level", "tokenizer.json", FixtureSeeds("hf-smollm/tokenizer.json", "hf-qwen2/tokenizer.json"), LoadAndEncode),
        new("hf-config.json", "config.json", HuggingFaceSeeds("config.json"), LoadHuggingFace),
        new("hf-model.safetensors", "model.safetensors", HuggingFaceSeeds("model.safetensors"), LoadHuggingFace),
        new("text-corpus", "data.txt", TextSeeds, ReadCorpus),
        new("quantized-checkpoint", "model.safetensors", QuantizedSeeds, LoadQuantized),
        new("lora-adapter_model.safetensors", "adapter_model.safetensors", AdapterSeeds("adapter_model.safetensors"), LoadAdapter),
        new("lora-adapter_config.json", "adapter_config.json", AdapterSeeds("adapter_config.json"), LoadAdapter),
    ];

    static string Sibling(string path, string name) => Path.Combine(Path.GetDirectoryName(path)!, name);

    const string Text = "the keeper lit the lamp; the baker baked the bread; the sea rose and the bell rang over the bay\n";

    // ---- safetensors ----

    static byte[][] SafeTensorsSeeds(string dir)
    {
        var rng = new Rng(5);
        (string, DType, long[])[] specs =
        [
            ("w", DType.F32, [2, 3]), ("h", DType.F16, [4]), ("bf", DType.BF16, [2, 2]), ("empty", DType.F32, [0, 5]),
            ("scale", DType.F32, []), ("d", DType.F64, [2]), ("ids", DType.I64, [3]), ("mask", DType.BOOL, [1, 2]), ("u", DType.U8, [5]),
        ];
        var data = specs.Select(s => Enumerable.Range(0, (int)(s.Item3.Aggregate(1L, (a, b) => a * b) * s.Item2.SizeOf()))
            .Select(_ => (byte)rng.NextInt(256)).ToArray()).ToArray();
        return
        [
            WriteSafeTensors(dir, specs, data, new() { ["format"] = "pt", ["note"] = "héllo \"quoted\"" }),
            WriteSafeTensors(dir, [("a", DType.F32, [3]), ("b", DType.F32, [1, 2])], [new byte[12], new byte[8]], null),
            CheckpointSeeds(dir)[0],
        ];
    }

    static byte[] WriteSafeTensors(string dir, (string, DType, long[])[] specs, byte[][] data, Dictionary<string, string>? metadata)
    {
        string path = Path.Combine(dir, "seed.safetensors");
        SafeTensorsWriter.Write(path, specs, i => data[i], metadata);
        return File.ReadAllBytes(path);
    }

    /// <summary>Opens the file and reads every tensor: as floats where the dtype converts, else as bytes.</summary>
    static void ReadSafeTensors(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        foreach (var t in file.Tensors)
        {
            if (t.DType is DType.F32 or DType.F16 or DType.BF16 or DType.F64) file.ReadFloats(t, new float[t.ElementCount]);
            else _ = file.GetBytes(t).Length;
        }
        _ = file.Metadata.Count;
    }

    // ---- checkpoints ----

    static byte[][] CheckpointSeeds(string dir)
    {
        string path = Path.Combine(dir, "seed.safetensors");
        var seeds = new List<byte[]>();
        foreach (var (info, layout) in new[] { (TinyDeepMlp.Descriptor, DataLayout.Lines), (TinyGpt.Descriptor, DataLayout.Text), (TinyBigram.Descriptor, DataLayout.Lines) })
        {
            var tokenizer = TrainingData.BuildTokenizer(Text, layout);
            using var model = info.Create(tokenizer.VocabSize);
            model.Initialize(3);
            Checkpoint.Save(path, model, tokenizer, new Dictionary<string, string> { [Checkpoint.StepKey] = "10", [Checkpoint.ValLossKey] = "2.5" });
            seeds.Add(File.ReadAllBytes(path));
        }
        return [.. seeds];
    }

    static byte[][] ResumeSeeds(string dir)
    {
        string path = Path.Combine(dir, "seed.safetensors");
        var text = string.Concat(Enumerable.Repeat(Text, 4));
        var seeds = new List<byte[]>();
        foreach (var optimizer in new[] { OptimizerKind.AdamW, OptimizerKind.Sgd })
        {
            var tokenizer = TrainingData.BuildTokenizer(text, DataLayout.Text);
            var splits = TrainingData.Split(text, tokenizer, TinyGpt.Descriptor, DataLayout.Text, splitSeed: 42);
            using var model = TinyGpt.Descriptor.Create(tokenizer.VocabSize);
            model.Initialize(4);
            using var context = model.CreateTrainingContext(2);
            using var trainer = new Trainer(context, splits.Train, splits.Val, new TrainOptions
            {
                Steps = 3, Batch = 2, Optimizer = optimizer, LearningRate = 1e-3, EvalInterval = 100,
            });
            for (int i = 0; i < 2; i++) trainer.TrainStep();
            Checkpoint.SaveForResume(path, model, tokenizer, trainer);
            seeds.Add(File.ReadAllBytes(path));
        }
        return [.. seeds];
    }

    // ---- the character tokenizer, as it travels in a checkpoint's metadata ----

    static byte[][] CharTokenizerSeeds(string dir) =>
    [
        Encoding.UTF8.GetBytes(TrainingData.BuildTokenizer(Text, DataLayout.Lines).ToJson()),
        Encoding.UTF8.GetBytes(TrainingData.BuildTokenizer(Text + "snow ☃ 🤖 café\r\n", DataLayout.Text).ToJson()),
    ];

    /// <summary>
    /// A checkpoint of the tiny MLP whose metadata carries the fuzzed tokenizer JSON, with weights sized for the
    /// vocabulary it holds when it parses (else for the first seed's), so that edits to the symbols reach the load.
    /// </summary>
    static void LoadWithCharTokenizer(string path)
    {
        string json = File.ReadAllText(path);
        string checkpoint = Sibling(path, "with-tokenizer.safetensors");
        int vocab;
        try { vocab = Math.Min(CharTokenizer.FromJson(json).VocabSize, 100_000); }
        catch (EdgeException) { vocab = TrainingData.BuildTokenizer(Text, DataLayout.Lines).VocabSize; }
        var tensors = TinyDeepMlp.Descriptor.Describe(vocab).Parameters.Select(p => (p.Name, DType.F32, p.Shape.Select(d => (long)d).ToArray())).ToArray();
        SafeTensorsWriter.Write(checkpoint, tensors, i => new byte[tensors[i].Item3.Aggregate(4L, (a, b) => a * b)],
            new Dictionary<string, string> { [Checkpoint.ModelKey] = TinyDeepMlp.Descriptor.Name, [Checkpoint.TokenizerKey] = json });
        Checkpoint.Load(checkpoint, Models).Model.Dispose();
    }

    // ---- GPT-2 byte-level BPE files ----

    static BpeTokenizer TinyBpe() => BpeTokenizer.Train(string.Concat(Enumerable.Repeat(Text, 3)) + "Hello world, it's 2026! 🤖 café", 300, ["<|endoftext|>"]);

    /// <summary>Writes a tiny trained vocabulary under both layouts' names and returns the seeds of <paramref name="name"/>.</summary>
    static Func<string, byte[][]> BpeSeeds(string name) => dir =>
    {
        TinyBpe().SaveHuggingFace(dir);
        File.Copy(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "encoder.json"), overwrite: true);
        File.Copy(Path.Combine(dir, "merges.txt"), Path.Combine(dir, "vocab.bpe"), overwrite: true);
        var seed = File.ReadAllBytes(Path.Combine(dir, name));
        // A second seed in another spelling of the same format: CRLF line ends, or a BOM and indentation.
        var other = name.EndsWith(".json")
            ? [.. "\uFEFF"u8, .. Encoding.UTF8.GetBytes(JsonSerializer.Serialize(JsonDocument.Parse(seed).RootElement, new JsonSerializerOptions { WriteIndented = true }))]
            : Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(seed).Replace("\n", "\r\n"));
        return [seed, other];
    };

    static byte[][] TokenizerJsonSeeds(string dir)
    {
        TinyBpe().SaveHuggingFace(dir);
        using var vocab = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "vocab.json")));
        var merges = File.ReadAllLines(Path.Combine(dir, "merges.txt")).Where(l => l.Length > 0 && !l.StartsWith("#version")).ToArray();
        int eot = vocab.RootElement.GetProperty("<|endoftext|>").GetInt32();
        byte[] Json(bool pairs)
        {
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteStartArray("added_tokens");
                w.WriteStartObject(); w.WriteNumber("id", eot); w.WriteString("content", "<|endoftext|>"); w.WriteBoolean("special", true); w.WriteEndObject();
                w.WriteEndArray();
                w.WriteStartObject("model");
                w.WriteString("type", "BPE");
                w.WritePropertyName("vocab");
                vocab.RootElement.WriteTo(w);
                w.WriteStartArray("merges");
                foreach (var m in merges)
                {
                    if (!pairs) { w.WriteStringValue(m); continue; }
                    w.WriteStartArray();
                    foreach (var s in m.Split(' ')) w.WriteStringValue(s);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteEndObject();
            }
            return buffer.ToArray();
        }
        return [Json(pairs: false), Json(pairs: true)];
    }

    // ---- the Llama family's tokenizer files (the fixtures of Text/LlamaTokenizerTests) ----

    static Func<string, byte[][]> FixtureSeeds(params string[] files) => _ =>
        [.. files.Select(f => File.ReadAllBytes(Path.Combine(Edge.Tests.Text.TokenizerReference.Fixtures, f)))];

    /// <summary>
    /// Loads the file by its name, then encodes and decodes varied text with what it loaded (and reads every token's
    /// bytes where ids have no gaps: a byte-level vocabulary may have them).
    /// </summary>
    static void LoadAndEncode(string path)
    {
        var tokenizer = TokenizerFiles.LoadFile(path);
        var ids = tokenizer.Encode("ROMEO: the keeper's lamp, 1887 \t\n  café e\u0301 日本 🤖 <s></s><|endoftext|> ▁x");
        _ = tokenizer.Decode(ids);
        if (tokenizer is SentencePieceBpe)
            for (int id = 0; id < tokenizer.VocabSize; id++) _ = tokenizer.TokenBytes(id).Length;
    }

    // ---- a Hugging Face GPT-2 model folder ----

    /// <summary>config.json, vocab.json + merges.txt and model.safetensors for the tiny GPT-2 of the test models.</summary>
    static Func<string, byte[][]> HuggingFaceSeeds(string name) => dir =>
    {
        var bpe = TinyBpe();
        bpe.SaveHuggingFace(dir);
        int vocab = bpe.VocabSize;
        var layout = TinyGpt2.Descriptor.Describe(vocab);
        var spec = TinyGpt2.Descriptor.Transformer!;
        File.WriteAllText(Path.Combine(dir, "config.json"), $$"""
            {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": {{spec.Layers}}, "n_head": {{spec.Heads}},
             "n_embd": {{spec.Width}}, "n_positions": {{spec.Context}}, "n_ctx": {{spec.Context}}, "vocab_size": {{vocab}},
             "activation_function": "gelu_new", "layer_norm_epsilon": 1e-05, "tie_word_embeddings": true}
            """);
        var rng = new Rng(8);
        var tensors = layout.Parameters.Select(p => ("transformer." + p.Name, DType.F32, p.Shape.Select(d => (long)d).ToArray())).ToArray();
        var values = tensors.Select(t => Enumerable.Range(0, (int)t.Item3.Aggregate(1L, (a, b) => a * b)).Select(_ => rng.NextGaussian() * 0.02f).ToArray()).ToArray();
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors, i => MemoryMarshal.AsBytes(values[i].AsSpan()),
            new Dictionary<string, string> { ["format"] = "pt" });
        var seed = File.ReadAllBytes(Path.Combine(dir, name));
        return [seed];
    };

    static void LoadHuggingFace(string path) =>
        HuggingFaceGpt2.Load(Path.GetDirectoryName(path)!, [TinyGpt2.Descriptor]).Model.Dispose();

    // ---- quantised checkpoints: every format, loaded and run for one decoding step ----

    static byte[][] QuantizedSeeds(string dir)
    {
        string path = Path.Combine(dir, "seed.safetensors");
        var tokenizer = TrainingData.BuildTokenizer(Text, DataLayout.Text);
        using var model = TinyQuantGpt.Descriptor.Create(tokenizer.VocabSize);
        model.Initialize(3);
        var metadata = new Dictionary<string, string> { [Checkpoint.ModelKey] = model.Name, [Checkpoint.TokenizerKey] = tokenizer.ToJson() };
        return [.. new[] { Edge.Quantization.QuantType.Q8_0, Edge.Quantization.QuantType.Q4_0, Edge.Quantization.QuantType.Q4_1 }.Select(type =>
        {
            Edge.Quantization.QuantizedCheckpoint.Write(path, model, type, metadata);
            return File.ReadAllBytes(path);
        })];
    }

    static void LoadQuantized(string path)
    {
        using var model = Checkpoint.Load(path, [TinyQuantGpt.Descriptor]).Model;
        using var context = model.CreateDecodingContext();
        context.Prefill([0, 1]);
        context.DecodeStep(2);
    }

    // ---- LoRA adapter folders (PEFT layout) for a fixed tiny base ----

    static LanguageModel AdapterBase()
    {
        var model = TinyGpt.Descriptor.Create(11);
        model.Initialize(3);
        return model;
    }

    static Func<string, byte[][]> AdapterSeeds(string name) => dir =>
    {
        using var model = AdapterBase();
        var seeds = new List<byte[]>();
        // Same shapes in every seed (the other file of the folder stays the last seed's): configs and values differ.
        ulong seed = 5;
        foreach (var config in new[] { new Edge.Lora.LoraConfig(4, 8, 0.05, Edge.Lora.LoraConfig.ValidTargets), new Edge.Lora.LoraConfig(4, 16, 0, Edge.Lora.LoraConfig.ValidTargets) })
        {
            using var adapter = Edge.Lora.LoraAdapter.Create(model.Layout, config, seed++);
            adapter.BaseFingerprint = Edge.Lora.BaseFingerprint.Of(model);
            Edge.Lora.AdapterFile.Save(dir, adapter);
            seeds.Add(File.ReadAllBytes(Path.Combine(dir, name)));
        }
        return [.. seeds];
    };

    static void LoadAdapter(string path)
    {
        using var model = AdapterBase();
        using var adapter = Edge.Lora.AdapterFile.Load(Path.GetDirectoryName(path)!, model);
        using var context = model.CreateInferenceContext();
        context.Adapters = new Edge.Lora.AdapterSet(model.Layout, [adapter]);
        _ = context.Logits([1, 2, 3], 1, 3);
    }

    // ---- training text ----

    static byte[][] TextSeeds(string dir) =>
    [
        Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(Text, 8))),
        Encoding.UTF8.GetBytes("emma\r\nolivia\r\nava\r\nisabella\r\nsophia\r\ncharlotte\r\nmia\r\namelia\r\nharper\r\nevelyn\r\n"),
        [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("snow ☃ and a robot 🤖\nin the café, ümlaut;\n日本語のテキスト\n", 4)))],
    ];

    /// <summary>
    /// What `edge train` does with a text file: read it, build the vocabulary, encode and split it (both layouts),
    /// naming the file in a refusal of its content as the CLI does.
    /// </summary>
    static void ReadCorpus(string path)
    {
        string text = TextCorpus.Read(path);
        foreach (var layout in new[] { DataLayout.Text, DataLayout.Lines })
        {
            try
            {
                var tokenizer = TrainingData.BuildTokenizer(text, layout);
                _ = TrainingData.Split(text, tokenizer, layout == DataLayout.Lines ? TinyDeepMlp.Descriptor : TinyGpt.Descriptor, layout, splitSeed: 1);
            }
            catch (EdgeException e) { throw new EdgeException($"{path}: {e.Message}", e); }
        }
    }
}
