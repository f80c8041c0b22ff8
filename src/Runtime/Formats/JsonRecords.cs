using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Edge.Formats;

// Every small JSON document Edge reads or writes, as a record, and one source-generated System.Text.Json context for all
// of them (no reflection: NativeAOT-clean). Readers deserialize into the record, then check values with messages that
// name the file and the field; a value of the wrong JSON type is reported through the exception's path (FieldOf).
// Large JSON (a BPE vocabulary of 50,257 entries) streams through Utf8JsonReader/Writer instead.

/// <summary>A character tokenizer's vocabulary, stored in a checkpoint's metadata: <c>{"symbols":["\n"," ","a",...],"marker":0}</c>.</summary>
internal sealed record CharVocabularyRecord(
    [property: JsonPropertyName("symbols")] List<string>? Symbols,
    [property: JsonPropertyName("marker")] int? Marker);

/// <summary>Where a training run stands (in last.safetensors' metadata); random streams as decimal strings (JSON numbers lose 64-bit integers).</summary>
internal sealed record TrainingStateRecord(
    [property: JsonPropertyName("step")] int? Step,
    [property: JsonPropertyName("batch_rng")] string[]? BatchRng,
    [property: JsonPropertyName("dropout_rng")] string[]? DropoutRng,
    [property: JsonPropertyName("optimizer_steps")] int? OptimizerSteps,
    [property: JsonPropertyName("best_val")] double? BestVal);

/// <summary>A quantised tensor's record in a quantised checkpoint's metadata (see docs/QUANTIZATION.md).</summary>
internal sealed record QuantizedTensorRecord(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("shape")] int[]? Shape,
    [property: JsonPropertyName("rows")] int Rows,
    [property: JsonPropertyName("cols")] int Cols,
    [property: JsonPropertyName("xxh64")] string? Xxh64);

/// <summary>PEFT's adapter_config.json, the fields Edge writes and reads (target_modules may be a list or one string).</summary>
internal sealed record AdapterConfigRecord(
    [property: JsonPropertyName("peft_type")] string? PeftType,
    [property: JsonPropertyName("task_type")] string? TaskType,
    [property: JsonPropertyName("base_model_name_or_path")] string? BaseModel,
    [property: JsonPropertyName("r")] int? Rank,
    [property: JsonPropertyName("lora_alpha")] double? Alpha,
    [property: JsonPropertyName("lora_dropout")] double? Dropout,
    [property: JsonPropertyName("target_modules")] JsonElement? TargetModules,
    [property: JsonPropertyName("bias")] string? Bias,
    [property: JsonPropertyName("fan_in_fan_out")] bool? FanInFanOut,
    [property: JsonPropertyName("use_rslora")] bool? UseRsLora,
    [property: JsonPropertyName("inference_mode")] bool? InferenceMode,
    [property: JsonPropertyName("modules_to_save")] string[]? ModulesToSave);

/// <summary>A Hugging Face GPT-2 config.json: the fields that fix the shape (n_ctx is the older name of n_positions).</summary>
internal sealed record Gpt2ConfigRecord(
    [property: JsonPropertyName("model_type")] string? ModelType,
    [property: JsonPropertyName("n_layer")] int? Layers,
    [property: JsonPropertyName("n_head")] int? Heads,
    [property: JsonPropertyName("n_embd")] int? Width,
    [property: JsonPropertyName("n_positions")] int? Positions,
    [property: JsonPropertyName("n_ctx")] int? Context,
    [property: JsonPropertyName("vocab_size")] int? VocabSize,
    [property: JsonPropertyName("activation_function")] string? Activation,
    [property: JsonPropertyName("layer_norm_epsilon")] double? LayerNormEpsilon,
    [property: JsonPropertyName("tie_word_embeddings")] bool? TieWordEmbeddings);

/// <summary>A Hugging Face Llama-family config.json (LlamaForCausalLM, Qwen2ForCausalLM): the fields that fix the shape.</summary>
internal sealed record LlamaConfigRecord(
    [property: JsonPropertyName("model_type")] string? ModelType,
    [property: JsonPropertyName("hidden_size")] int? Width,
    [property: JsonPropertyName("intermediate_size")] int? MlpHidden,
    [property: JsonPropertyName("num_hidden_layers")] int? Layers,
    [property: JsonPropertyName("num_attention_heads")] int? Heads,
    [property: JsonPropertyName("num_key_value_heads")] int? KvHeads,
    [property: JsonPropertyName("head_dim")] int? HeadDim,
    [property: JsonPropertyName("max_position_embeddings")] int? Context,
    [property: JsonPropertyName("vocab_size")] int? VocabSize,
    [property: JsonPropertyName("rms_norm_eps")] double? NormEpsilon,
    [property: JsonPropertyName("rope_theta")] double? RopeTheta,
    [property: JsonPropertyName("rope_scaling")] JsonElement? RopeScaling,
    [property: JsonPropertyName("tie_word_embeddings")] bool? TieWordEmbeddings,
    [property: JsonPropertyName("hidden_act")] string? Activation,
    [property: JsonPropertyName("attention_bias")] bool? AttentionBias,
    [property: JsonPropertyName("mlp_bias")] bool? MlpBias);

/// <summary>model.safetensors.index.json of a sharded checkpoint: which file holds each tensor.</summary>
internal sealed record ShardIndexRecord([property: JsonPropertyName("weight_map")] Dictionary<string, string>? WeightMap);

[JsonSerializable(typeof(CharVocabularyRecord))]
[JsonSerializable(typeof(TrainingStateRecord))]
[JsonSerializable(typeof(QuantizedTensorRecord))]
[JsonSerializable(typeof(AdapterConfigRecord))]
[JsonSerializable(typeof(Gpt2ConfigRecord))]
[JsonSerializable(typeof(LlamaConfigRecord))]
[JsonSerializable(typeof(ShardIndexRecord))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class EdgeJson : JsonSerializerContext
{
    /// <summary>The largest config.json, adapter_config.json or shard index read (real ones are a few KB; an index of a
    /// large sharded model is well under a megabyte): a bigger file is refused before it is parsed.</summary>
    public const long MaxConfigBytes = 16 << 20;

    // Non-ASCII stays readable (the JSON is never embedded in HTML); files people open are indented.
    // Created on first use: the generated half's static Default may not be set yet while this half's statics initialise.
    static JsonSerializerOptions? s_compact, s_indented;
    static JsonSerializerOptions Compact => s_compact ??= new()
    {
        TypeInfoResolver = Default,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };
    static JsonSerializerOptions Indented => s_indented ??= new(Compact) { WriteIndented = true };

    public static string Write<T>(T value, bool indented = false) =>
        JsonSerializer.Serialize(value, (JsonTypeInfo<T>)(indented ? Indented : Compact).GetTypeInfo(typeof(T)));

    /// <summary>The record in <paramref name="json"/>; null for a JSON null. Throws JsonException for malformed JSON or a field of the wrong type.</summary>
    public static T? Read<T>(string json) => Read<T>(System.Text.Encoding.UTF8.GetBytes(json));

    public static T? Read<T>(ReadOnlySpan<byte> utf8)
    {
        // Syntax first (a malformed document fails here, with no field), so that a failure of the typed read below is
        // always a field of the wrong type.
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        while (reader.Read()) { }
        try { return JsonSerializer.Deserialize(utf8, (JsonTypeInfo<T>)Compact.GetTypeInfo(typeof(T))); }
        catch (InvalidOperationException e) { throw new JsonException($"a string is not valid UTF-8 ({e.Message})"); }
    }

    public static JsonElement ToElement(string[] values) =>
        JsonSerializer.SerializeToElement(values, (JsonTypeInfo<string[]>)Compact.GetTypeInfo(typeof(string[])));

    /// <summary>The top-level field a JsonException from <see cref="Read{T}(ReadOnlySpan{byte})"/> is about ("$.marker" -> "marker"), or null for malformed JSON.</summary>
    public static string? FieldOf(JsonException e) =>
        e.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal)
            ? path[2..].Split('.', '[')[0]
            : null;
}
