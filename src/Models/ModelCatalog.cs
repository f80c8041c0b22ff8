namespace Edge.Models;

/// <summary>The models of this assembly, as the generator registered them (no reflection).</summary>
public static class ModelCatalog
{
    public static IReadOnlyList<ModelInfo> All => Edge.Generated.ModelRegistry.All;

    public static ModelInfo? Find(string name) => All.FirstOrDefault(m => m.Name == name);
}
