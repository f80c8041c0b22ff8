using System.Runtime.InteropServices;
using Edge.Formats;
using Edge.Training;

namespace Edge.Lora;

/// <summary>
/// An adapter run to continue (`edge lora train --resume`): the adapter's weights, its AdamW moments and the trainer's
/// state (step, batch and dropout random streams, best validation loss), in DIR/last.safetensors beside the PEFT
/// files. A resumed run continues exactly as if it had not stopped: the same batches, the same dropout, the same steps.
/// </summary>
/// <remarks>
/// Tensors: "lora.weights" (every A and B, flat, in the adapter's layout), "optimizer.exp_avg" and
/// "optimizer.exp_avg_sq" (the same layout); metadata: the LoRA config as adapter_config.json writes it, the base's
/// fingerprint, and <see cref="Checkpoint.TrainStateKey"/>.
/// </remarks>
public sealed record AdapterResume(LoraAdapter Adapter, TrainingState State, float[] FirstMoments, float[] SecondMoments,
    IReadOnlyDictionary<string, string> Metadata)
{
    public const string FileName = "last.safetensors";
    const string WeightsName = "lora.weights", FirstName = "optimizer.exp_avg", SecondName = "optimizer.exp_avg_sq", ConfigKey = "edge.lora_config";
    /// <summary>The adapter's own dropout stream (on its inputs), as four numbers.</summary>
    const string DropoutKey = "edge.lora_dropout_rng";

    /// <summary>Writes the run's state (crash-safe: the previous file survives a failed write).</summary>
    /// <param name="extra">More metadata (what the run was trained on, so a resumed run can check it is the same).</param>
    public static void Save(string path, LoraAdapter adapter, Trainer trainer, IReadOnlyDictionary<string, string>? extra = null)
    {
        var adam = trainer.Optimizer as AdamWOptimizer ?? throw new ArgumentException("adapter training uses AdamW", nameof(trainer));
        long n = adapter.Weights.Length;
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            [ConfigKey] = AdapterFile.ConfigJson(adapter.Config, conv1d: false),
            [Checkpoint.TrainStateKey] = Checkpoint.FormatState(trainer.State),
            [DropoutKey] = string.Join(",", new[] { adapter.DropoutState.Item1, adapter.DropoutState.Item2, adapter.DropoutState.Item3, adapter.DropoutState.Item4 }
                .Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        };
        if (adapter.BaseFingerprint is { } fp) metadata[AdapterFile.FingerprintKey] = fp;
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) metadata[k] = v;
        SafeTensorsWriter.Write(path, [(WeightsName, DType.F32, [n]), (FirstName, DType.F32, [n]), (SecondName, DType.F32, [n])],
            i => MemoryMarshal.AsBytes((ReadOnlySpan<float>)(i switch { 0 => adapter.Weights, 1 => adam.FirstMoments, _ => adam.SecondMoments })),
            metadata);
    }

    /// <summary>Reads a run's state for <paramref name="model"/>, checking it was made on this base.</summary>
    public static AdapterResume Load(string path, LanguageModel model, string fingerprint)
    {
        using var file = SafeTensorsFile.Open(path);
        var meta = file.Metadata;
        if (!meta.TryGetValue(Checkpoint.TrainStateKey, out var stateJson) || !meta.TryGetValue(ConfigKey, out var configJson))
            throw new EdgeException($"{path}: not an adapter run's state (its metadata lacks '{Checkpoint.TrainStateKey}' or '{ConfigKey}')");
        if (meta.TryGetValue(AdapterFile.FingerprintKey, out var made) && made != fingerprint)
            throw new EdgeException($"{path}: this run trained an adapter for another base (fingerprint {EdgeException.OneLine(made)}, the loaded {model.Name} has {fingerprint})");
        var config = AdapterFile.ParseConfig(path, System.Text.Encoding.UTF8.GetBytes(configJson));
        var state = Checkpoint.ParseState(path, stateJson);
        var adapter = LoraAdapter.Create(model.Layout, config, seed: 0);
        try
        {
            int n = adapter.Weights.Length;
            Checkpoint.CheckNoneLeft(path, file.Tensors.Select(t => t.Name), [WeightsName, FirstName, SecondName], "an adapter run", null);
            var m = new float[n];
            var v = new float[n];
            foreach (var name in new[] { WeightsName, FirstName, SecondName })
            {
                var t = file.Get(name);
                if (t.DType != DType.F32 || t.ElementCount != n)
                    throw new EdgeException($"{path}: tensor '{name}' has {t.ElementCount} values, the adapter its config describes has {n}");
            }
            file.ReadFloats(file.Get(WeightsName), adapter.Weights);
            file.ReadFloats(file.Get(FirstName), m);
            file.ReadFloats(file.Get(SecondName), v);
            Checkpoint.CheckFinite(path, WeightsName, adapter.Weights);
            var rng = meta.GetValueOrDefault(DropoutKey)?.Split(',');
            if (rng is not { Length: 4 } || !rng.All(x => ulong.TryParse(x, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)))
                throw new EdgeException($"{path}: '{DropoutKey}' is missing or malformed");
            var r = rng.Select(x => ulong.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            adapter.DropoutState = (r[0], r[1], r[2], r[3]);
            adapter.BaseFingerprint = fingerprint;
            return new AdapterResume(adapter, state, m, v, new Dictionary<string, string>(meta));
        }
        catch
        {
            adapter.Dispose();
            throw;
        }
    }
}
