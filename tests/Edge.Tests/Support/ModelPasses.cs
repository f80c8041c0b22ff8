namespace Edge.Tests;

/// <summary>One-shot passes for tests that only need a result: each runs in a fresh context of its own.</summary>
static class ModelPasses
{
    /// <summary>The logits of inputs [batch, length] (see <see cref="ModelContext.Logits"/>), copied out.</summary>
    public static float[] Logits(this LanguageModel model, ReadOnlySpan<int> inputs, int batch, int length = 0, ProjectionAdapters? adapters = null)
    {
        using var context = model.CreateInferenceContext(batch);
        context.Adapters = adapters;
        return context.Logits(inputs, batch, length).ToArray();
    }
}
