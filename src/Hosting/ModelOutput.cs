using Edge.Files;

namespace Edge.Cli;

/// <summary>
/// Where `quantize` and `lora merge` write a model: a checkpoint file for an Edge checkpoint (or a llama2.c file) input,
/// or, for a Hugging Face folder input, a folder with the new model.safetensors and the input's config and tokenizer
/// files, committed as one unit (a crash leaves the old folder or the new one, never a mix of the two models).
/// </summary>
static class ModelOutput
{
    /// <summary>The files of a Hugging Face model folder that travel with its weights (everything but the weights).</summary>
    static readonly string[] Companions =
    [
        "config.json", "generation_config.json", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
        "tokenizer.model", "special_tokens_map.json", "added_tokens.json", "encoder.json", "vocab.bpe",
    ];

    /// <summary>
    /// Checks <paramref name="output"/> for a model read from <paramref name="input"/> before any work is done: a file
    /// for a file input, a folder for a folder input (a folder holding files is refused unless <paramref name="force"/>),
    /// never one of <paramref name="inputs"/>.
    /// </summary>
    public static void Check(string input, string output, bool force, params string?[] inputs)
    {
        if (!IsFolder(input))
        {
            SafeFile.CheckOutput(output, "--out", inputs);
            if (Directory.Exists(output)) throw new EdgeException($"--out {output}: is a folder; give the output checkpoint's file name");
            return;
        }
        SafeFile.CheckOutputFolder(output, "--out", inputs);
        if (Directory.Exists(output) && !force)
        {
            var held = Directory.EnumerateFileSystemEntries(output).Select(Path.GetFileName).Where(n => n != OutputFolder.LockName).Order().ToList();
            if (held.Count > 0)
                throw new EdgeException($"--out {output}: already holds files ({string.Join(", ", held.Take(5))}{(held.Count > 5 ? ", ..." : "")}); " +
                    "pass --force to replace the folder, or choose a new one");
        }
    }

    /// <summary>Whether a model input is a Hugging Face folder (then its output is a folder too).</summary>
    public static bool IsFolder(string input) => HuggingFaceGpt2.IsModelDirectory(input);

    /// <summary>
    /// Writes the model: <paramref name="writeWeights"/> produces model.safetensors, into <paramref name="output"/> (a
    /// file), or into the folder <paramref name="output"/> with <paramref name="input"/>'s companion files. Returns the
    /// path of the weights written.
    /// </summary>
    public static string Write(string input, string output, Action<FileStream> writeWeights)
    {
        if (!IsFolder(input))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);   // as train creates its --out folder
            SafeFile.Write(output, writeWeights);
            return output;
        }
        var files = new List<(string Name, Action<FileStream> Write)> { ("model.safetensors", writeWeights) };
        foreach (var name in Companions)
        {
            string from = Path.Combine(input, name);
            if (FileKinds.OfTarget(from) != FileKind.Regular) continue;
            files.Add((name, s => s.Write(SafeFile.ReadAllBytes(from))));
        }
        SafeFile.CommitFolder(output, files, replaceAll: true);
        return Path.Combine(output, "model.safetensors");
    }
}
