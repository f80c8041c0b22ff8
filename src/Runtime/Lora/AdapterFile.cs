using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.Formats;

namespace Edge.Lora;

/// <summary>
/// LoRA adapters on disk in PEFT's layout, so an adapter trained here loads in PEFT for a GPT-2-family base and the
/// other way round: a folder with
///   adapter_model.safetensors   base_model.model.transformer.h.N.attn.c_attn.lora_A.weight [r, In]
///                               base_model.model.transformer.h.N.attn.c_attn.lora_B.weight [Out, r]   (F32)
///   adapter_config.json         peft_type "LORA", r, lora_alpha, lora_dropout, target_modules, bias "none",
///                               fan_in_fan_out (true for GPT-2's Conv1D, W [In, Out]), base_model_name_or_path, ...
/// A Llama-family base's modules are under "base_model.model.model.layers.N.self_attn.q_proj" (fan_in_fan_out false).
/// The safetensors metadata also holds the base's fingerprint (<see cref="BaseFingerprint"/>): an adapter made for
/// another base is refused by it, and one without it (from PEFT) is checked by its shapes.
/// </summary>
public static class AdapterFile
{
    public const string WeightsName = "adapter_model.safetensors";
    public const string ConfigName = "adapter_config.json";
    public const string FingerprintKey = "edge.base_fingerprint";
    public const string BaseModelKey = "edge.base_model";
    const string Prefix = "base_model.model.", Transformer = "transformer.";

    /// <summary>PEFT's tensor name for a target's A or B.</summary>
    /// <summary>
    /// PEFT's tensor name for a target's A or B: the module's path inside the Hugging Face model (GPT2LMHeadModel's blocks
    /// are under "transformer.", LlamaForCausalLM's under "model.", which Edge's Llama names already carry).
    /// </summary>
    public static string TensorName(string module, char which) =>
        $"{Prefix}{(module.StartsWith("model.", StringComparison.Ordinal) ? "" : Transformer)}{module}.lora_{which}.weight";

    /// <summary>
    /// Writes the folder (created if needed). The weights and the config are committed as one unit
    /// (<see cref="Files.SafeFile.CommitFolder"/>): a crash leaves the old adapter or the new one, never a mix.
    /// </summary>
    public static void Save(string dir, LoraAdapter adapter)
    {
        var tensors = new List<(string, DType, long[])>();
        var spans = new List<(int Offset, int Length)>();
        foreach (var t in adapter.Targets)
        {
            tensors.Add((TensorName(t.Module, 'A'), DType.F32, [adapter.Rank, t.In]));
            spans.Add((t.AOffset, adapter.Rank * t.In));
            tensors.Add((TensorName(t.Module, 'B'), DType.F32, [t.Out, adapter.Rank]));
            spans.Add((t.BOffset, t.Out * adapter.Rank));
        }
        var metadata = new Dictionary<string, string> { ["format"] = "pt", [BaseModelKey] = adapter.ModelName };
        if (adapter.BaseFingerprint is { } fp) metadata[FingerprintKey] = fp;
        // GPT-2's Conv1D stores W [in, out] (PEFT's fan_in_fan_out); Llama's torch.nn.Linear stores [out, in].
        bool conv1d = adapter.Targets.All(t => !t.Module.StartsWith("model.", StringComparison.Ordinal));
        byte[] config = Encoding.UTF8.GetBytes(ConfigJson(adapter.Config, conv1d));
        Files.SafeFile.CommitFolder(dir,
        [
            (WeightsName, s => SafeTensorsWriter.WriteTo(s, tensors,
                i => MemoryMarshal.AsBytes((ReadOnlySpan<float>)adapter.Weights.Slice(spans[i].Offset, spans[i].Length)), metadata)),
            (ConfigName, s => s.Write(config)),
        ]);
        adapter.Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
    }

    internal static string ConfigJson(LoraConfig c, bool conv1d) => Formats.EdgeJson.Write(new Formats.AdapterConfigRecord(
        PeftType: "LORA", TaskType: "CAUSAL_LM", BaseModel: c.BaseModel, Rank: c.Rank, Alpha: c.Alpha, Dropout: c.Dropout,
        TargetModules: Formats.EdgeJson.ToElement([.. c.Targets]),
        Bias: "none", FanInFanOut: conv1d, UseRsLora: c.UseRsLora, InferenceMode: true, ModulesToSave: null), indented: true) + "\n";

    /// <summary>The adapter folder of a path: the folder itself, or the folder of an adapter_model.safetensors.</summary>
    public static string FolderOf(string path) =>
        File.Exists(path) && Path.GetFileName(path) == WeightsName ? Path.GetDirectoryName(Path.GetFullPath(path))! : path;

    /// <summary>Reads adapter_config.json; anything missing or wrong is one message naming the file.</summary>
    public static LoraConfig ReadConfig(string dir)
    {
        dir = FolderOf(dir);
        if (!Directory.Exists(dir)) throw new EdgeException($"{dir}: adapter folder not found");
        string path = Path.Combine(dir, ConfigName);
        if (!Path.Exists(path)) throw new EdgeException($"{path}: file not found (a LoRA adapter folder has {ConfigName} and {WeightsName})");
        return ParseConfig(path, Files.SafeFile.ReadAllBytes(path, Formats.EdgeJson.MaxConfigBytes));
    }

    /// <summary>An adapter_config.json's bytes (<paramref name="path"/> names where they came from in messages).</summary>
    internal static LoraConfig ParseConfig(string path, byte[] json)
    {
        Formats.AdapterConfigRecord? c;
        try { c = Formats.EdgeJson.Read<Formats.AdapterConfigRecord>(json); }
        catch (JsonException e) when (Formats.EdgeJson.FieldOf(e) is string field)
        {
            throw new EdgeException($"{path}: '{field}' has the wrong type");
        }
        catch (JsonException e) { throw new EdgeException($"{path}: not valid JSON ({EdgeException.OneLine(e.Message)})"); }
        if (c is null) throw new EdgeException($"{path}: not a JSON object");
        if (c.PeftType is { } type && type != "LORA")
            throw new EdgeException($"{path}: peft_type '{EdgeException.OneLine(type)}' is not a LoRA adapter (expected \"LORA\")");
        if (c.Rank is not int rank) throw new EdgeException($"{path}: 'r' (the rank) is missing or not an integer");
        if (c.Bias is { } bias && bias != "none")
            throw new EdgeException($"{path}: bias '{EdgeException.OneLine(bias)}' is not supported (Edge adapters train no biases: \"none\")");
        var targets = new List<string>();
        if (c.TargetModules is { } tm)
        {
            try
            {
                if (tm.ValueKind == JsonValueKind.Array) targets.AddRange(tm.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : ""));
                else if (tm.ValueKind == JsonValueKind.String) targets.Add(tm.GetString()!);
                else if (tm.ValueKind != JsonValueKind.Null) throw new EdgeException($"{path}: 'target_modules' must be a list of module names");
            }
            catch (InvalidOperationException) { throw new EdgeException($"{path}: 'target_modules' holds text that is not valid UTF-8"); }
        }
        if (targets.Count == 0) throw new EdgeException($"{path}: 'target_modules' is missing or empty (it names the modules the adapter's tensors adapt)");
        // PEFT's default alpha is 8, its default r.
        var config = new LoraConfig(rank, c.Alpha ?? rank, c.Dropout ?? 0, LoraConfig.ParseTargets(targets))
        { UseRsLora = c.UseRsLora == true, BaseModel = c.BaseModel ?? "" };
        try { return config.Validate(); }
        catch (EdgeException e) { throw new EdgeException($"{path}: {e.Message}"); }
    }

    /// <summary>
    /// Loads the adapter in <paramref name="dir"/> for <paramref name="model"/>, checking everything before it can be
    /// used: the config, every tensor's name (a module the base has) and shape, finite values, A and B for every
    /// target, and the base's fingerprint when the file has one. The model itself is only read.
    /// </summary>
    public static LoraAdapter Load(string dir, LanguageModel model, string? fingerprint = null)
    {
        dir = FolderOf(dir);
        var config = ReadConfig(dir);
        string path = Path.Combine(dir, WeightsName);
        if (!Path.Exists(path)) throw new EdgeException($"{path}: file not found (the adapter's weights)");
        using var file = SafeTensorsFile.Open(path);
        var layout = model.Layout;
        var meta = file.Metadata;
        string? made = meta.GetValueOrDefault(BaseModelKey);
        if (meta.TryGetValue(FingerprintKey, out var expected))
        {
            fingerprint ??= BaseFingerprint.Of(model);
            if (expected != fingerprint)
                throw new EdgeException($"{path}: this adapter was made for another base{(made is null ? "" : $" (a {EdgeException.OneLine(made)})")}: " +
                    $"its base fingerprint is {EdgeException.OneLine(expected)}, the loaded {model.Name} has {fingerprint}");
        }
        else if (made is not null && made != model.Name)
            throw new EdgeException($"{path}: this adapter was made for '{EdgeException.OneLine(made)}', not {model.Name}");

        // Which sites the tensors name, and their rank.
        var byModule = new Dictionary<string, (TensorInfo? A, TensorInfo? B)>(StringComparer.Ordinal);
        foreach (var t in file.Tensors)
        {
            var (module, which) = ParseName(path, t.Name);
            var site = layout.FindProjection(module);
            if (site is null || !LoraConfig.IsBlockSite(site.Name))
                throw new EdgeException($"{path}: tensor '{EdgeException.OneLine(t.Name)}' names module '{EdgeException.OneLine(module)}', which {model.Name} does not have (is the adapter for another base?)");
            byModule.TryGetValue(module, out var pair);
            byModule[module] = which == 'A' ? (t, pair.B) : (pair.A, t);
        }
        if (byModule.Count == 0) throw new EdgeException($"{path}: holds no lora_A / lora_B tensors");
        var sites = new List<ProjectionInfo>();
        foreach (var (module, pair) in byModule)
        {
            if (pair.A is null || pair.B is null)
                throw new EdgeException($"{path}: module '{EdgeException.OneLine(module)}' has lora_{(pair.A is null ? 'A' : 'B')}.weight missing");
            sites.Add(layout.FindProjection(module)!);
        }
        sites.Sort((x, y) => x.Index.CompareTo(y.Index));
        CheckTargetsAgree(path, config, sites.Select(s => s.Name));
        // Shapes first, against the tensors the file really holds: a config's rank alone allocates nothing.
        foreach (var site in sites)
        {
            var (a, b) = byModule[site.Name];
            CheckShape(path, a!, [config.Rank, site.In], model.Name);
            CheckShape(path, b!, [site.Out, config.Rank], model.Name);
        }
        LoraAdapter adapter;
        try { adapter = LoraAdapter.Empty(layout, config, sites); }
        catch (EdgeException e) { throw new EdgeException($"{path}: {e.Message}"); }
        try
        {
            foreach (var t in adapter.Targets)
            {
                var (a, b) = byModule[t.Module];
                file.ReadFloats(a!, adapter.A(t));
                file.ReadFloats(b!, adapter.B(t));
                Checkpoint.CheckFinite(path, a!.Name, adapter.A(t));
                Checkpoint.CheckFinite(path, b!.Name, adapter.B(t));
            }
            adapter.BaseFingerprint = expected ?? fingerprint;
            adapter.Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
            return adapter;
        }
        catch
        {
            adapter.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The config's target_modules must be exactly the modules the tensors adapt: a config that names more (or fewer)
    /// would be reported wrongly by `lora info` and merged wrongly by PEFT.
    /// </summary>
    public static void CheckTargetsAgree(string path, LoraConfig config, IEnumerable<string> modules)
    {
        var adapted = modules.Select(m => LoraConfig.TargetOf(m) ?? m).Distinct().Order(StringComparer.Ordinal).ToList();
        var declared = config.Targets.Distinct().Order(StringComparer.Ordinal).ToList();
        if (!adapted.SequenceEqual(declared))
            throw new EdgeException($"{path}: {ConfigName} names target_modules {EdgeException.OneLine(string.Join(", ", declared))}, " +
                $"but the tensors adapt {EdgeException.OneLine(string.Join(", ", adapted))}");
    }

    static void CheckShape(string path, TensorInfo t, long[] shape, string model)
    {
        if (!t.Shape.SequenceEqual(shape))
            throw new EdgeException($"{path}: tensor '{EdgeException.OneLine(t.Name)}' has shape [{string.Join(", ", t.Shape)}], {model} with the config's rank needs [{string.Join(", ", shape)}] (is the adapter for another base?)");
    }

    /// <summary>"base_model.model.transformer.h.0.attn.c_attn.lora_A.weight" -> ("h.0.attn.c_attn", 'A'); the prefixes are optional.</summary>
    /// <summary>The module a LoRA tensor adapts: "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight" -> "h.0.attn.c_attn".</summary>
    public static string ModuleOf(string tensorName) => ParseName("adapter", tensorName).Module;

    static (string Module, char Which) ParseName(string path, string name)
    {
        string n = name;
        if (n.StartsWith(Prefix, StringComparison.Ordinal)) n = n[Prefix.Length..];
        if (n.StartsWith(Transformer, StringComparison.Ordinal)) n = n[Transformer.Length..];
        foreach (char which in "AB")
        {
            string suffix = $".lora_{which}.weight";
            if (n.EndsWith(suffix, StringComparison.Ordinal)) return (n[..^suffix.Length], which);
            // PEFT before 0.7 saved the adapter's name in the key: ".lora_A.default.weight"
            suffix = $".lora_{which}.default.weight";
            if (n.EndsWith(suffix, StringComparison.Ordinal)) return (n[..^suffix.Length], which);
        }
        throw new EdgeException($"{path}: tensor '{EdgeException.OneLine(name)}' is not a LoRA weight (expected names ending in .lora_A.weight or .lora_B.weight)");
    }

    /// <summary>Bytes of the adapter's files on disk.</summary>
    public static long SizeOnDisk(string dir)
    {
        dir = FolderOf(dir);
        return new FileInfo(Path.Combine(dir, WeightsName)).Length;
    }

    internal static string Invariant(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>
/// A short identity of a base model's weights: SHA-256 over the model name, the vocabulary size, every parameter's
/// name and shape, and 64 values sampled evenly from each parameter. Two bases of the same shape trained apart
/// differ in it; the same weights loaded from an Edge checkpoint or a Hugging Face folder agree.
/// Reads a few pages of a mapped model, not the whole file.
/// </summary>
public static class BaseFingerprint
{
    public static string Of(LanguageModel model)
    {
        // A quantised model answers with the fingerprint of the fp32 weights it was made from (recorded in its file),
        // so adapters trained on that base apply to it.
        if (model.QuantizedFromFingerprint is { } recorded) return recorded;
        var w = model.Weights;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{model.Name}|{model.VocabSize}|"));
        Span<float> sample = stackalloc float[64];
        foreach (var p in model.Parameters)
        {
            sha.AppendData(Encoding.UTF8.GetBytes($"{p.Name}{p.ShapeText};"));
            int n = Math.Min(sample.Length, p.Length);
            for (int i = 0; i < n; i++) sample[i] = w[p.Offset + (int)((long)i * p.Length / n)];
            sha.AppendData(MemoryMarshal.AsBytes(sample[..n]));
        }
        return "sha256:" + Convert.ToHexString(sha.GetHashAndReset().AsSpan(0, 12)).ToLowerInvariant();
    }
}
