using System.Globalization;
using System.Runtime.InteropServices;
using Edge.Formats;
using Edge.Quantization;
using Edge.Text;
using Edge.Training;

namespace Edge;

/// <summary>
/// A trained model on disk: a safetensors file whose tensors are the model's parameters under their
/// checkpoint names (F32), and whose metadata carries what is needed to rebuild it: the model name, the
/// tokenizer's vocabulary, the data layout, and training facts (step, validation loss, seed).
/// </summary>
public static class Checkpoint
{
    /// <summary>Metadata key of the model's declared name (<c>[LanguageModel("...")]</c>), by which a checkpoint finds its declaration.</summary>
    public const string ModelKey = "edge.model";
    /// <summary>Metadata key of the tokenizer's vocabulary (a character tokenizer's JSON).</summary>
    public const string TokenizerKey = "edge.tokenizer";
    /// <summary>Metadata key of the training step the checkpoint was written at.</summary>
    public const string StepKey = "edge.step";
    /// <summary>Metadata key of the validation loss at that step.</summary>
    public const string ValLossKey = "edge.val_loss";

    /// <summary>Metadata key of the trainer's state (step, random streams, optimiser steps, best loss) in a resumable checkpoint.</summary>
    public const string TrainStateKey = "edge.train_state";
    const string FirstMomentsName = "optimizer.exp_avg", SecondMomentsName = "optimizer.exp_avg_sq";

    /// <summary>Writes the weights and metadata (crash-safe: the old file survives a failed write).</summary>
    public static void Save(string path, LanguageModel model, CharTokenizer tokenizer, IReadOnlyDictionary<string, string>? extra = null) =>
        Write(path, model, tokenizer, extra, trainer: null);

    /// <summary>
    /// Writes the weights plus everything a resumed run needs: the optimiser's moments (AdamW's exp_avg and
    /// exp_avg_sq, laid out like the weight buffer) and the trainer's state in the metadata.
    /// </summary>
    public static void SaveForResume(string path, LanguageModel model, CharTokenizer tokenizer, Trainer trainer, IReadOnlyDictionary<string, string>? extra = null) =>
        Write(path, model, tokenizer, extra, trainer);

    static void Write(string path, LanguageModel model, CharTokenizer tokenizer, IReadOnlyDictionary<string, string>? extra, Trainer? trainer)
    {
        if (model.IsQuantized) throw new EdgeException($"{path}: {model.Name} has quantised weights; a checkpoint holds fp32 weights (use edge quantize on the fp32 one)");
        var tensors = model.Parameters.Select(p => (p.Name, DType.F32, p.Shape.Select(d => (long)d).ToArray())).ToList();
        var engine = trainer?.Engine;
        bool moments = engine is not null && !engine.FirstMoments.IsEmpty;
        if (moments)
        {
            tensors.Add((FirstMomentsName, DType.F32, [model.Layout.WeightLength]));
            tensors.Add((SecondMomentsName, DType.F32, [model.Layout.WeightLength]));
        }
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            [ModelKey] = model.Name,
            [TokenizerKey] = tokenizer.ToJson(),
            ["edge.context"] = model.Info.Context.ToString(CultureInfo.InvariantCulture),
            ["edge.parameters"] = model.ParameterCount.ToString(CultureInfo.InvariantCulture),
        };
        if (extra is not null)
            foreach (var (k, v) in extra) metadata[k] = v;
        if (trainer is not null) metadata[TrainStateKey] = FormatState(trainer.State);
        int count = model.Parameters.Count;
        SafeTensorsWriter.Write(path, tensors,
            i => MemoryMarshal.AsBytes(i < count
                ? (ReadOnlySpan<float>)model.Weights.Slice(model.Parameters[i].Offset, model.Parameters[i].Length)
                : i == count ? engine!.FirstMoments : engine!.SecondMoments),
            metadata);
    }

    /// <summary>A run to continue: the loaded checkpoint, the trainer state, and the optimiser moments (empty for SGD).</summary>
    public sealed record Resumable(Loaded Checkpoint, TrainingState State, float[] FirstMoments, float[] SecondMoments);

    /// <summary>Reads a checkpoint written by <see cref="SaveForResume"/>.</summary>
    public static Resumable LoadForResume(string path, IReadOnlyList<ModelInfo> models)
    {
        var loaded = Load(path, models);
        try
        {
            if (!loaded.Metadata.TryGetValue(TrainStateKey, out var json))
                throw new EdgeException($"{path}: has no training state to resume from ('{TrainStateKey}' is missing)");
            var state = ParseState(path, json);
            float[] m = [], v = [];
            using var file = SafeTensorsFile.Open(path);
            if (file.Find(FirstMomentsName) is { } tm && file.Find(SecondMomentsName) is { } tv)
            {
                if (tm.ElementCount != loaded.Model.Layout.WeightLength || tv.ElementCount != loaded.Model.Layout.WeightLength)
                    throw new EdgeException($"{path}: optimiser moments do not match the model's weight layout");
                m = new float[tm.ElementCount];
                v = new float[tv.ElementCount];
                file.ReadFloats(tm, m);
                file.ReadFloats(tv, v);
            }
            return new Resumable(loaded, state, m, v);
        }
        catch
        {
            loaded.Model.Dispose();
            throw;
        }
    }

    internal static string FormatState(TrainingState s)
    {
        static string[] R((ulong, ulong, ulong, ulong) r) => [.. new[] { r.Item1, r.Item2, r.Item3, r.Item4 }.Select(v => v.ToString(CultureInfo.InvariantCulture))];
        return EdgeJson.Write(new TrainingStateRecord(s.Step, R(s.BatchRng), R(s.DropoutRng), s.OptimizerSteps, double.IsFinite(s.BestVal) ? s.BestVal : null));
    }

    internal static TrainingState ParseState(string path, string json)
    {
        var malformed = new EdgeException($"{path}: the training state in '{TrainStateKey}' is malformed");
        TrainingStateRecord? r;
        try { r = EdgeJson.Read<TrainingStateRecord>(json); }
        catch (System.Text.Json.JsonException) { throw malformed; }
        (ulong, ulong, ulong, ulong) Rng(string[]? v) =>
            v is { Length: 4 } && v.All(x => ulong.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                ? (ulong.Parse(v[0], CultureInfo.InvariantCulture), ulong.Parse(v[1], CultureInfo.InvariantCulture),
                   ulong.Parse(v[2], CultureInfo.InvariantCulture), ulong.Parse(v[3], CultureInfo.InvariantCulture))
                : throw malformed;
        if (r is not { Step: >= 0 and int step, OptimizerSteps: >= 0 and int optimizerSteps }) throw malformed;
        return new TrainingState(step, Rng(r.BatchRng), Rng(r.DropoutRng), optimizerSteps, r.BestVal ?? double.PositiveInfinity);
    }

    /// <summary>A loaded checkpoint: the model (weights filled in), its tokenizer and the file's metadata.</summary>
    public sealed record Loaded(ModelInfo Info, LanguageModel Model, ITokenizer Tokenizer, IReadOnlyDictionary<string, string> Metadata)
    {
        /// <summary>The start/end marker of a line-data model (names), if it has one.</summary>
        public int? Marker => Tokenizer is CharTokenizer { MarkerId: int m } ? m : null;
    }

    /// <summary>A checkpoint file written by Edge, or a Hugging Face GPT-2-family model directory.</summary>
    /// <summary>
    /// A checkpoint file written by Edge, a Hugging Face folder (GPT-2 family, or Llama family: llama, qwen2), or a
    /// llama2.c checkpoint (.bin, with its tokenizer.bin beside it).
    /// </summary>
    public static Loaded LoadAny(string path, IReadOnlyList<ModelInfo> models, bool mapWeights = false) =>
        HuggingFaceLlama.IsModelDirectory(path) ? HuggingFaceLlama.Load(path, models)
        : HuggingFaceGpt2.IsModelDirectory(path) ? HuggingFaceGpt2.Load(path, models)
        : Directory.Exists(path) ? throw new EdgeException($"{path}: a folder without config.json (expected a checkpoint file or a Hugging Face model folder)")
        : Llama2cCheckpoint.IsCheckpoint(path) ? Llama2cCheckpoint.Load(path, models)
        : Load(path, models, mapWeights);

    /// <summary>
    /// Reads a checkpoint written by <see cref="Save"/>; <paramref name="models"/> are the models this program
    /// knows. With <paramref name="mapWeights"/>, a checkpoint whose F32 tensors lie in the model's own layout
    /// (every file <see cref="Save"/> writes) becomes the weight buffer itself: memory-mapped read-only, no
    /// copy, pages loaded on first use. Otherwise (or for other files) the weights are copied out.
    /// </summary>
    public static Loaded Load(string path, IReadOnlyList<ModelInfo> models, bool mapWeights = false)
    {
        var file = SafeTensorsFile.Open(path);
        LanguageModel? model = null;
        bool mapped = false;
        try
        {
            if (!file.Metadata.TryGetValue(ModelKey, out var name))
                throw new EdgeException($"{path}: not an Edge checkpoint (its metadata has no '{ModelKey}')");
            var info = models.FirstOrDefault(m => m.Name == name)
                ?? throw new EdgeException($"{path}: saved by model '{EdgeException.OneLine(name)}', which this build of edge does not have: " +
                    $"its declaration [LanguageModel(\"{EdgeException.OneLine(name)}\")] is missing from this program (models here: {KnownNames(models)})");
            if (!file.Metadata.TryGetValue(TokenizerKey, out var vocab))
                throw new EdgeException($"{path}: the checkpoint has no tokenizer ('{TokenizerKey}' is missing from its metadata)");
            CharTokenizer tokenizer;
            try { tokenizer = CharTokenizer.FromJson(vocab); }
            catch (EdgeException e) { throw new EdgeException($"{path}: bad tokenizer in the metadata: {e.Message}"); }

            model = info.Create(tokenizer.VocabSize);
            var tensors = FindTensors(file, path, model, p => file.Find(p.Name), info.Name, n => n is FirstMomentsName or SecondMomentsName);
            var quantized = QuantizedCheckpoint.Read(file, path, model, tensors);
            if (quantized is not null)
            {
                FillFp32(file, path, model, tensors, quantized);
                model.AttachQuantized(quantized, file);
                mapped = true; // the model owns the file now: the quantised blocks are read from the mapping
                return new Loaded(info, model, tokenizer, file.Metadata);
            }
            bool inLayout = tensors.Length > 0 && tensors.Select((t, i) => t.DType == DType.F32 && t.Offset == tensors[0].Offset + 4L * model.Parameters[i].Offset).All(ok => ok);
            if (mapWeights && inLayout)
            {
                unsafe { model.MapWeights((float*)file.Address(tensors[0]), file); }
                mapped = true;
            }
            else
                for (int i = 0; i < tensors.Length; i++)
                    file.ReadFloats(tensors[i], model.Weights.Slice(model.Parameters[i].Offset, model.Parameters[i].Length));
            for (int i = 0; i < tensors.Length; i++)
                CheckFinite(path, tensors[i].Name, model.Weights.Slice(model.Parameters[i].Offset, model.Parameters[i].Length));
            return new Loaded(info, model, tokenizer, file.Metadata);
        }
        catch
        {
            model?.Dispose(); // a mapped model also closes the file
            throw;
        }
        finally
        {
            if (!mapped) file.Dispose();
        }
    }

    /// <summary>
    /// The tensor of every parameter, in parameter order, each fp32 one with the parameter's shape (a quantised
    /// one, which has a record in the metadata, is checked by <see cref="QuantizedCheckpoint.Read"/>). The file must
    /// hold nothing else but what <paramref name="ignorable"/> allows (the optimiser's moments, a Hugging Face
    /// attention-mask buffer): a tensor the declaration has no place for means the file is of another model (more
    /// layers, biases the declaration lacks), and dropping it silently would compute something else.
    /// </summary>
    internal static TensorInfo[] FindTensors(SafeTensorsFile file, string path, LanguageModel model, Func<ParameterInfo, TensorInfo?> find, string who,
        Func<string, bool>? ignorable = null)
    {
        var tensors = new TensorInfo[model.Parameters.Count];
        for (int i = 0; i < tensors.Length; i++)
        {
            var p = model.Parameters[i];
            var t = find(p) ?? throw new EdgeException($"{path}: tensor '{p.Name}' is missing");
            if (!file.Metadata.ContainsKey(QuantizedCheckpoint.TensorKeyPrefix + p.Name))
            {
                if (t.DType == DType.U8)
                    throw new EdgeException($"{path}: tensor '{t.Name}' is U8 but the metadata has no '{QuantizedCheckpoint.TensorKeyPrefix}{p.Name}' record saying how it is quantised");
                if (!t.Shape.SequenceEqual(p.Shape.Select(d => (long)d)))
                    throw new EdgeException($"{path}: tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}], {who} needs {p.ShapeText}");
            }
            tensors[i] = t;
        }
        CheckNoneLeft(path, file.Tensors.Select(t => t.Name), tensors.Select(t => t.Name), who, ignorable);
        return tensors;
    }

    /// <summary>Refuses a file whose tensors include ones no parameter took (see <see cref="FindTensors"/>), naming a few.</summary>
    internal static void CheckNoneLeft(string path, IEnumerable<string> held, IEnumerable<string> taken, string who, Func<string, bool>? ignorable)
    {
        var used = taken.ToHashSet(StringComparer.Ordinal);
        var extra = held.Where(n => !used.Contains(n) && ignorable?.Invoke(n) != true).Order(StringComparer.Ordinal).ToList();
        if (extra.Count > 0)
            throw new EdgeException($"{path}: holds {extra.Count} tensor{(extra.Count == 1 ? "" : "s")} {who} has no place for " +
                $"({EdgeException.OneLine(string.Join(", ", extra.Take(4)))}{(extra.Count > 4 ? ", ..." : "")}); is it a checkpoint of another model?");
    }

    /// <summary>Copies (and checks) the fp32 tensors, those without an entry in <paramref name="quantized"/>.</summary>
    internal static void FillFp32(SafeTensorsFile file, string path, LanguageModel model, IReadOnlyList<TensorInfo> tensors, QuantizedMatrix?[]? quantized)
    {
        for (int i = 0; i < tensors.Count; i++)
        {
            if (quantized?[i] is not null) continue;
            var p = model.Parameters[i];
            var values = model.Weights.Slice(p.Offset, p.Length);
            file.ReadFloats(tensors[i], values);
            CheckFinite(path, tensors[i].Name, values);
        }
    }

    /// <summary>Refuses weights with NaN or Inf, naming the file, the tensor and the element (never trained on, never generated from).</summary>
    internal static void CheckFinite(string path, string tensor, ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new EdgeException($"{path}: tensor '{tensor}' holds a non-finite value ({values[i]}) at element {i}");
    }

    /// <summary>The model names of a registry, for messages: "a, b, c" (the first 12), or "none".</summary>
    static string KnownNames(IReadOnlyList<ModelInfo> models) =>
        models.Count == 0 ? "none"
        : string.Join(", ", models.Take(12).Select(m => m.Name)) + (models.Count > 12 ? $" and {models.Count - 12} more" : "");
}
