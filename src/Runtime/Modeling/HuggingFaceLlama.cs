using System.Text.Json;
using Edge.Formats;
using Edge.Quantization;
using Edge.Text;

namespace Edge;

/// <summary>
/// Hugging Face Llama-family folders (LlamaForCausalLM: Llama, TinyLlama, SmolLM; Qwen2ForCausalLM, which adds q/k/v
/// biases): config.json picks the declared model of the same shape (<see cref="LlamaShape"/>), model.safetensors (or the
/// shards a model.safetensors.index.json lists) fills it by tensor name (F32, F16 or BF16, copied as fp32), and the
/// folder's tokenizer files give the tokenizer. Hub checkpoints store q/k with the half-rotation RoPE layout.
/// </summary>
public static class HuggingFaceLlama
{
    /// <summary>The shape read from config.json (the head is tied when tie_word_embeddings is true).</summary>
    public sealed record Config(int Layers, int Heads, int KvHeads, int Width, int MlpHidden, int Context, int VocabSize,
        double RopeTheta, double NormEpsilon, bool QkvBias, bool TiedHead);

    static readonly string[] Types = ["llama", "qwen2"];

    /// <summary>True for a folder whose config.json names a Llama-family model_type.</summary>
    public static bool IsModelDirectory(string dir) =>
        Directory.Exists(dir) && File.Exists(Path.Combine(dir, "config.json")) && Types.Contains(ModelType(Path.Combine(dir, "config.json")));

    static string? ModelType(string path)
    {
        try { return EdgeJson.Read<LlamaConfigRecord>(Files.SafeFile.ReadAllBytes(path, EdgeJson.MaxConfigBytes))?.ModelType; }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException) { return null; }
    }

    public static Config ReadConfig(string dir)
    {
        string path = Path.Combine(dir, "config.json");
        Files.SafeFile.CheckInput(path);
        LlamaConfigRecord? c;
        try { c = EdgeJson.Read<LlamaConfigRecord>(Files.SafeFile.ReadAllBytes(path, EdgeJson.MaxConfigBytes)); }
        catch (JsonException e) when (EdgeJson.FieldOf(e) is string field) { throw new EdgeException($"{path}: '{field}' has the wrong type"); }
        catch (JsonException e) { throw new EdgeException($"{path}: not valid JSON ({EdgeException.OneLine(e.Message)})"); }
        if (c is null) throw new EdgeException($"{path}: not a JSON object");
        if (!Types.Contains(c.ModelType))
            throw new EdgeException($"{path}: model_type '{EdgeException.OneLine(c.ModelType ?? "(none)")}' is not a Llama-family model (llama, qwen2)");
        int Positive(int? value, string name) => value switch
        {
            null => throw new EdgeException($"{path}: '{name}' is missing"),
            > 0 and int v => v,
            _ => throw new EdgeException($"{path}: '{name}' must be a positive integer"),
        };
        if (c.Activation is { } act && act != "silu")
            throw new EdgeException($"{path}: hidden_act '{EdgeException.OneLine(act)}' is not supported (Llama's MLP is SwiGLU: \"silu\")");
        if (c.RopeScaling is { ValueKind: not JsonValueKind.Null })
            throw new EdgeException($"{path}: rope_scaling is not supported (Edge's rotary positions are unscaled)");
        if (c.MlpBias == true) throw new EdgeException($"{path}: mlp_bias is not supported");
        int width = Positive(c.Width, "hidden_size"), heads = Positive(c.Heads, "num_attention_heads");
        if (c.HeadDim is int headDim && headDim != width / heads)
            throw new EdgeException($"{path}: head_dim {headDim} is not hidden_size / num_attention_heads ({width / heads})");
        bool qwen = c.ModelType == "qwen2";
        return new Config(Positive(c.Layers, "num_hidden_layers"), heads, c.KvHeads is int kv ? Positive(kv, "num_key_value_heads") : heads,
            width, Positive(c.MlpHidden, "intermediate_size"), Positive(c.Context, "max_position_embeddings"), Positive(c.VocabSize, "vocab_size"),
            c.RopeTheta ?? 10000, c.NormEpsilon ?? 1e-6, QkvBias: qwen || c.AttentionBias == true, TiedHead: c.TieWordEmbeddings ?? false);
    }

    /// <summary>The declared model config.json describes: the same shape, the half RoPE layout, and a context no longer than the config's.</summary>
    public static ModelInfo Match(Config config, IReadOnlyList<ModelInfo> models, string where)
    {
        static bool Near(double a, double b) => Math.Abs(a - b) <= 1e-9 * Math.Max(Math.Abs(a), Math.Abs(b));
        return models.FirstOrDefault(m => m.Llama is { } s && s.Layers == config.Layers && s.Heads == config.Heads && s.KvHeads == config.KvHeads
                   && s.Width == config.Width && s.MlpHidden == config.MlpHidden && s.Context <= config.Context && s.Rope == RopeLayout.Half
                   && Near(s.RopeTheta, config.RopeTheta) && Near(s.NormEpsilon, config.NormEpsilon) && Near(s.FinalNormEpsilon, config.NormEpsilon)
                   && s.QkvBias == config.QkvBias && s.TiedHead == config.TiedHead)
               ?? throw new EdgeException($"{where}: no declared model has {config.Layers} layers, {config.Heads} heads over {config.KvHeads} kv heads, " +
                   $"width {config.Width}, MLP {config.MlpHidden}{(config.QkvBias ? ", q/k/v biases" : "")}{(config.TiedHead ? ", a tied head" : "")}, " +
                   $"rope theta {config.RopeTheta}, rms eps {config.NormEpsilon} (declared Llama models: " +
                   $"{string.Join(", ", models.Where(m => m.Llama is not null).Select(m => m.Name))}); declare it with [LlamaBlocks]");
    }

    /// <summary>Builds the matching declared model and fills it; <paramref name="tokenizer"/> null reads the folder's.</summary>
    public static Checkpoint.Loaded Load(string dir, IReadOnlyList<ModelInfo> models, ITokenizer? tokenizer = null)
    {
        var config = ReadConfig(dir);
        var info = Match(config, models, Path.Combine(dir, "config.json"));
        tokenizer ??= TokenizerFiles.Load(dir);
        if (tokenizer.VocabSize > config.VocabSize)
            throw new EdgeException($"{dir}: the tokenizer has {tokenizer.VocabSize} tokens but config.json says vocab_size {config.VocabSize}");
        var (model, metadata) = HuggingFaceWeights.Load(dir, info, config.VocabSize, name => name);
        metadata["edge.source"] = dir;
        return new Checkpoint.Loaded(info, model, tokenizer, metadata);
    }
}

/// <summary>
/// Filling a declared model from a Hugging Face folder's safetensors: model.safetensors, or the shards that
/// model.safetensors.index.json maps tensor names to. Every parameter must be there with its shape; quantised files
/// (written by edge quantize into a folder) attach their blocks.
/// </summary>
internal static class HuggingFaceWeights
{
    /// <param name="name">The file's name for a parameter's checkpoint name (a prefix, or the name itself).</param>
    public static (LanguageModel Model, Dictionary<string, string> Metadata) Load(string dir, ModelInfo info, int vocab, Func<string, string> name)
    {
        string single = Path.Combine(dir, "model.safetensors"), index = Path.Combine(dir, "model.safetensors.index.json");
        var shards = new Dictionary<string, string>();   // tensor name -> file
        if (File.Exists(index) && !File.Exists(single))
        {
            ShardIndexRecord? record;
            try { record = EdgeJson.Read<ShardIndexRecord>(Files.SafeFile.ReadAllBytes(index, EdgeJson.MaxConfigBytes)); }
            catch (JsonException e) { throw new EdgeException($"{index}: not a shard index ({EdgeException.OneLine(e.Message)})"); }
            foreach (var (tensor, file) in record?.WeightMap ?? throw new EdgeException($"{index}: no weight_map"))
            {
                if (file.Contains('/') || file.Contains('\\') || file.StartsWith('.'))
                    throw new EdgeException($"{index}: shard '{EdgeException.OneLine(file)}' is not a file name in the folder");
                shards[tensor] = Path.Combine(dir, file);
            }
        }
        else if (!File.Exists(single))
            throw new EdgeException($"{single}: file not found (Edge reads safetensors; convert a pytorch_model.bin first)");
        if (shards.Count == 0)
            return LoadFile(single, info, vocab, name);

        // Sharded: every file opened once, each parameter copied from the one that holds it.
        var model = info.Create(vocab);
        var files = new Dictionary<string, SafeTensorsFile>();
        try
        {
            Checkpoint.CheckNoneLeft(index, shards.Keys, model.Parameters.Select(p => name(p.Name)), info.Name, Ignorable(info));
            foreach (var p in model.Parameters)
            {
                string n = name(p.Name);
                if (!shards.TryGetValue(n, out var path)) throw new EdgeException($"{index}: tensor '{n}' is missing");
                if (!files.TryGetValue(path, out var file)) files[path] = file = SafeTensorsFile.Open(path);
                var t = file.Find(n) ?? throw new EdgeException($"{path}: tensor '{n}' is missing (the index names this file)");
                if (!t.Shape.SequenceEqual(p.Shape.Select(d => (long)d)))
                    throw new EdgeException($"{path}: tensor '{n}' has shape [{string.Join(", ", t.Shape)}], {info.Name} needs {p.ShapeText}");
                var values = model.Weights.Slice(p.Offset, p.Length);
                file.ReadFloats(t, values);
                Checkpoint.CheckFinite(path, n, values);
            }
            return (model, new Dictionary<string, string>());
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            foreach (var f in files.Values) f.Dispose();
        }
    }

    /// <summary>What a Llama checkpoint may hold beyond the parameters: rotary buffers some exports keep, and a copy of the tied head.</summary>
    static Func<string, bool> Ignorable(ModelInfo info) => n =>
        n.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || (n == "lm_head.weight" && info.Llama?.TiedHead == true);

    static (LanguageModel, Dictionary<string, string>) LoadFile(string path, ModelInfo info, int vocab, Func<string, string> name)
    {
        var file = SafeTensorsFile.Open(path);
        var model = info.Create(vocab);
        bool owned = false;
        try
        {
            var tensors = Checkpoint.FindTensors(file, path, model, p => file.Find(name(p.Name)) ?? file.Find(p.Name), info.Name, Ignorable(info));
            var quantized = QuantizedCheckpoint.Read(file, path, model, tensors);
            Checkpoint.FillFp32(file, path, model, tensors, quantized);
            if (quantized is not null)
            {
                model.AttachQuantized(quantized, file); // the blocks are read from the mapping: the model owns the file
                owned = true;
            }
            return (model, new Dictionary<string, string>(file.Metadata));
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            if (!owned) file.Dispose();
        }
    }
}
