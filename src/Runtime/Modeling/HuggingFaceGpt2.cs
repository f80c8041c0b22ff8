using System.Text.Json;
using Edge.Formats;
using Edge.Quantization;
using Edge.Text;

namespace Edge;

/// <summary>
/// Loads a Hugging Face GPT-2-family model directory (`config.json`, `model.safetensors`, and the tokenizer
/// files: `vocab.json` + `merges.txt`, `tokenizer.json`, or OpenAI's `encoder.json` + `vocab.bpe`) into the
/// declared model of the same shape. The generated GPT-2 blocks already use Hugging Face's tensor names and
/// Conv1D's [in, out] orientation, so the mapping is one to one: no transposes, no renames beyond an optional
/// `transformer.` prefix. The attention-mask buffers (`h.N.attn.bias`) and a tied `lm_head.weight` are skipped.
/// </summary>
public static class HuggingFaceGpt2
{
    /// <summary>The shape read from config.json; ExactGelu for activation_function "gelu" (erf), else the tanh form.</summary>
    public sealed record Config(int Layers, int Heads, int Width, int Context, int VocabSize, bool ExactGelu = false);

    /// <summary>A folder with a config.json (of any kind: reading it then says what is wrong with one that is not a file).</summary>
    public static bool IsModelDirectory(string path) => Directory.Exists(path) && Path.Exists(Path.Combine(path, "config.json"));

    public static Config ReadConfig(string dir)
    {
        string path = Path.Combine(dir, "config.json");
        Gpt2ConfigRecord? c;
        try { c = EdgeJson.Read<Gpt2ConfigRecord>(Files.SafeFile.ReadAllBytes(path, EdgeJson.MaxConfigBytes)); }
        catch (JsonException e) when (EdgeJson.FieldOf(e) is string field)
        {
            throw new EdgeException(field is "n_layer" or "n_head" or "n_embd" or "n_positions" or "n_ctx" or "vocab_size"
                ? $"{path}: '{field}' must be a positive integer" : $"{path}: '{field}' has the wrong type");
        }
        catch (JsonException e) { throw new EdgeException($"{path}: not valid JSON ({EdgeException.OneLine(e.Message)})"); }
        if (c is null) throw new EdgeException($"{path}: not a JSON object");
        string type = c.ModelType ?? "(none)";
        if (type != "gpt2")
            throw new EdgeException($"{path}: unsupported architecture '{EdgeException.OneLine(type)}' (Edge loads GPT-2-family models, model_type \"gpt2\", and Llama-family ones: \"llama\", \"qwen2\")");
        int Positive(int? value, string name) => value switch
        {
            null => throw new EdgeException($"{path}: '{name}' is missing"),
            > 0 and int v => v,
            _ => throw new EdgeException($"{path}: '{name}' must be a positive integer"),
        };
        // GPT-2's tanh GELU under its three Hugging Face names, or the exact erf one ("gelu"); absent means gelu_new.
        bool exactGelu = c.Activation switch
        {
            null or "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => false,
            "gelu" => true,
            var other => throw new EdgeException($"{path}: activation_function '{EdgeException.OneLine(other)}' is not supported (gelu_new, gelu_pytorch_tanh, gelu_fast or gelu)"),
        };
        if (c.LayerNormEpsilon is double eps && Math.Abs(eps - 1e-5) > 1e-12)
            throw new EdgeException($"{path}: layer_norm_epsilon {eps} is not supported (GPT-2 uses 1e-5)");
        if (c.TieWordEmbeddings == false)
            throw new EdgeException($"{path}: untied output embeddings are not supported (GPT-2 ties lm_head to wte)");
        return new Config(Positive(c.Layers, "n_layer"), Positive(c.Heads, "n_head"), Positive(c.Width, "n_embd"),
            Positive(c.Positions ?? c.Context, "n_positions"), Positive(c.VocabSize, "vocab_size"), exactGelu);
    }

    /// <summary>Builds the matching declared model and fills it from model.safetensors.</summary>
    public static Checkpoint.Loaded Load(string dir, IReadOnlyList<ModelInfo> models)
    {
        var config = ReadConfig(dir);
        var info = models.FirstOrDefault(m => m.Transformer is { Bias: true, TiedHead: true, MlpRatio: 4 } s
                && s.Layers == config.Layers && s.Heads == config.Heads && s.Width == config.Width && s.Context == config.Context
                && s.ExactGelu == config.ExactGelu)
            ?? throw new EdgeException($"{Path.Combine(dir, "config.json")}: no declared model has {config.Layers} layers, {config.Heads} heads, " +
                $"width {config.Width} and context {config.Context}{(config.ExactGelu ? " with the exact GELU" : "")} " +
                $"(declared: {string.Join(", ", models.Where(m => m.Transformer is not null).Select(m => $"{m.Name} {m.Transformer!.Layers}/{m.Transformer.Heads}/{m.Transformer.Width}/{m.Transformer.Context}{(m.Transformer.ExactGelu ? " exact GELU" : "")}"))})");
        var tokenizer = BpeTokenizer.FromDirectory(dir);
        if (tokenizer.VocabSize != config.VocabSize)
            throw new EdgeException($"{dir}: the tokenizer has {tokenizer.VocabSize} tokens but config.json says vocab_size {config.VocabSize}");

        string weights = Path.Combine(dir, "model.safetensors");
        if (!File.Exists(weights))
            throw new EdgeException($"{weights}: file not found (Edge reads safetensors; convert a pytorch_model.bin first)");
        var file = SafeTensorsFile.Open(weights);
        var model = info.Create(config.VocabSize);
        bool owned = false;
        try
        {
            // Skipped: the causal-mask buffers (h.N.attn.bias, h.N.attn.masked_bias) and the head tied to wte.
            var tensors = Checkpoint.FindTensors(file, weights, model, p => file.Find(p.Name) ?? file.Find("transformer." + p.Name), info.Name,
                n => n == "lm_head.weight" || n.EndsWith(".attn.bias", StringComparison.Ordinal) || n.EndsWith(".attn.masked_bias", StringComparison.Ordinal));
            var quantized = QuantizedCheckpoint.Read(file, weights, model, tensors);
            Checkpoint.FillFp32(file, weights, model, tensors, quantized);
            if (quantized is not null)
            {
                model.AttachQuantized(quantized, file); // the blocks are read from the mapping: the model owns the file
                owned = true;
            }
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
        var metadata = new Dictionary<string, string>(file.Metadata) { ["edge.source"] = dir };
        return new Checkpoint.Loaded(info, model, tokenizer, metadata);
    }
}
