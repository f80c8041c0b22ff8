namespace Edge.Diagnostics;

/// <summary>
/// How many floating-point operations a model's step does, counted from its projection sites: every weight-matrix
/// product costs 2 FLOPs per weight per row forward and twice that backward; causal attention
/// costs 2 T^2 C per sequence and layer forward (the two products over the unmasked half). Element-wise work
/// is not counted, as is usual for these figures (llm.c, nanoGPT's MFU).
/// </summary>
public static class FlopCount
{
    /// <summary>Forward FLOPs for <paramref name="batch"/> examples of <paramref name="length"/> tokens.</summary>
    public static double Forward(LanguageModel model, int batch, int length)
    {
        int rows = model.IsSequenceModel ? batch * length : batch;
        // Every weight-matrix product is a projection site (the head included); embedding lookups are not products.
        double flops = model.Layout.Projections.Sum(p => 2.0 * rows * p.In * p.Out);
        if (Attention(model) is var (layers, width) && layers > 0)
            flops += 2.0 * batch * length * length * width * layers;
        return flops;
    }

    /// <summary>A transformer's attention layers and width (query heads x head size); (0, 0) for other models.</summary>
    public static (int Layers, int Width) Attention(LanguageModel model) =>
        model.Info.Transformer is { } t ? (t.Layers, t.Width) : model.Info.Llama is { } l ? (l.Layers, l.Width) : (0, 0);

    /// <summary>Forward, backward (twice the forward) and nothing for the optimiser's element-wise update.</summary>
    public static double TrainingStep(LanguageModel model, int batch, int length) => 3 * Forward(model, batch, length);
}
