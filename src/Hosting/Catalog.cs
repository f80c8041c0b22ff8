namespace Edge.Cli;

/// <summary>
/// The models the commands know: the host's registry (<see cref="Edge.Hosting.EdgeCli"/>),
/// or the built-in models of Edge.Models when no host chose (the `edge` binary, edge-gpu, the tests).
/// </summary>
static class Catalog
{
    public static IReadOnlyList<ModelInfo> All { get; set; } = Edge.Models.ModelCatalog.All;

    public static ModelInfo? Find(string name) => All.FirstOrDefault(m => m.Name == name);
}
