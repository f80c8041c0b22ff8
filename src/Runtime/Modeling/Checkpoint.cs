using System.Globalization;
using System.Runtime.InteropServices;
using Edge.Formats;
using Edge.Text;

namespace Edge;

/// <summary>
/// A trained model on disk: a safetensors file whose tensors are the model's parameters under their
/// checkpoint names (F32), and whose metadata carries what is needed to rebuild it: the model name, the
/// tokenizer's vocabulary, the data layout, and training facts (step, validation loss, seed).
/// </summary>
public static class Checkpoint
{
    public const string ModelKey = "edge.model";
    public const string TokenizerKey = "edge.tokenizer";
    public const string StepKey = "edge.step";
    public const string ValLossKey = "edge.val_loss";

    /// <summary>Writes the weights and metadata (crash-safe: the old file survives a failed write).</summary>
    public static void Save(string path, LanguageModel model, CharTokenizer tokenizer, IReadOnlyDictionary<string, string>? extra = null)
    {
        var tensors = model.Parameters.Select(p => (p.Name, DType.F32, p.Shape.Select(d => (long)d).ToArray())).ToList();
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
        SafeTensorsWriter.Write(path, tensors,
            i => MemoryMarshal.AsBytes((ReadOnlySpan<float>)model.Weights.Slice(model.Parameters[i].Offset, model.Parameters[i].Length)),
            metadata);
    }

    /// <summary>A loaded checkpoint: the model (weights filled in), its tokenizer and the file's metadata.</summary>
    public sealed record Loaded(ModelInfo Info, LanguageModel Model, CharTokenizer Tokenizer, IReadOnlyDictionary<string, string> Metadata);

    /// <summary>Reads a checkpoint written by <see cref="Save"/>; <paramref name="models"/> are the models this program knows.</summary>
    public static Loaded Load(string path, IReadOnlyList<ModelInfo> models, int maxBatch = 1)
    {
        using var file = SafeTensorsFile.Open(path);
        if (!file.Metadata.TryGetValue(ModelKey, out var name))
            throw new EdgeException($"{path}: not an Edge checkpoint (its metadata has no '{ModelKey}')");
        var info = models.FirstOrDefault(m => m.Name == name)
            ?? throw new EdgeException($"{path}: saved by model '{name}', which this build of edge does not have");
        if (!file.Metadata.TryGetValue(TokenizerKey, out var vocab))
            throw new EdgeException($"{path}: the checkpoint has no tokenizer ('{TokenizerKey}' is missing from its metadata)");
        CharTokenizer tokenizer;
        try { tokenizer = CharTokenizer.FromJson(vocab); }
        catch (EdgeException e) { throw new EdgeException($"{path}: bad tokenizer in the metadata: {e.Message}"); }

        var model = info.Create(tokenizer.VocabSize, maxBatch);
        try
        {
            foreach (var p in model.Parameters)
            {
                var t = file.Find(p.Name) ?? throw new EdgeException($"{path}: tensor '{p.Name}' is missing");
                if (!t.Shape.SequenceEqual(p.Shape.Select(d => (long)d)))
                    throw new EdgeException($"{path}: tensor '{p.Name}' has shape [{string.Join(", ", t.Shape)}], the model needs {p.ShapeText}");
                var destination = model.Weights.Slice(p.Offset, p.Length);
                file.ReadFloats(t, destination);
                int bad = FirstNonFinite(destination);
                if (bad >= 0) throw new EdgeException($"{path}: tensor '{p.Name}' holds a non-finite value ({destination[bad]}) at element {bad}");
            }
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new Loaded(info, model, tokenizer, file.Metadata);
    }

    static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
