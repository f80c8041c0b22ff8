using Edge.Cli;

namespace Edge.Hosting;

/// <summary>
/// The `edge` command line as a library: a program whose Main is <c>return EdgeCli.Run(args, Edge.Generated.ModelRegistry.All);</c>
/// is a full `edge` (train, generate, chat, eval, logits, lora, quantize, bench, ...) for the models declared in its own
/// assembly. The registry is the list the Edge source generator writes for every assembly with <c>[LanguageModel]</c>
/// declarations, so models are found without reflection and the program publishes with NativeAOT.
/// </summary>
public static class EdgeCli
{
    /// <summary>The models compiled into Edge itself (char-mlp, names-mlp, baby-gpt, gpt2, ...).</summary>
    public static IReadOnlyList<ModelInfo> BuiltInModels => Edge.Models.ModelCatalog.All;

    /// <summary>
    /// Runs one command line against <paramref name="models"/> (and the built-in models too when
    /// <paramref name="includeBuiltIns"/>) and returns the exit code: 0 done, 1 bad input, 2 bad command line,
    /// 3 internal error, 130 a training run stopped by Ctrl-C. Errors are one line on stderr, prefixed by <paramref name="name"/>.
    /// </summary>
    /// <param name="args">The program's arguments, e.g. <c>train my-model --steps 200</c>.</param>
    /// <param name="models">The host's models: <c>Edge.Generated.ModelRegistry.All</c> in the host's assembly.</param>
    /// <param name="includeBuiltIns">Also offer Edge's built-in models (a host's model of the same name wins).</param>
    /// <param name="name">The program name errors are prefixed with.</param>
    public static int Run(string[] args, IReadOnlyList<ModelInfo> models, bool includeBuiltIns = false, string name = "edge")
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(models);
        Catalog.All = includeBuiltIns ? Merge(models, BuiltInModels) : models;
        return Host.Run(name, () => Commands.Run(args));
    }

    /// <summary>Runs one command line against Edge's built-in models only (what the `edge` binary is).</summary>
    public static int Run(string[] args) => Run(args, BuiltInModels);

    static ModelInfo[] Merge(IReadOnlyList<ModelInfo> first, IReadOnlyList<ModelInfo> then)
    {
        var all = new List<ModelInfo>(first);
        foreach (var m in then)
            if (!all.Exists(x => x.Name == m.Name)) all.Add(m);
        return [.. all];
    }
}
