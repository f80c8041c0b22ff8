namespace Edge.Diagnostics;

/// <summary>
/// How many floating-point operations a model's step does, counted from its parameter table: every matrix
/// used in a product costs 2 FLOPs per weight per row forward and twice that backward; causal attention
/// costs 2 T^2 C per sequence and layer forward (the two products over the unmasked half). Element-wise work
/// is not counted, as is usual for these figures (llm.c, nanoGPT's MFU).
/// </summary>
public static class FlopCount
{
    /// <summary>Forward FLOPs for <paramref name="batch"/> examples of <paramref name="length"/> tokens.</summary>
    public static double Forward(LanguageModel model, int batch, int length)
    {
        int rows = model.IsSequenceModel ? batch * length : batch;
        bool tied = model.IsSequenceModel && model.Layout.Find("lm_head.weight") is null;
        double flops = 0;
        foreach (var p in model.Parameters)
        {
            if (p.Shape.Length != 2) continue;
            bool lookup = p.Name is "wpe.weight" or "table.weight" || (p.Name == "wte.weight" && !tied);
            if (!lookup) flops += 2.0 * rows * p.Length;
        }
        if (model.IsSequenceModel)
        {
            int layers = model.Parameters.Count(p => p.Name.EndsWith(".attn.c_attn.weight", StringComparison.Ordinal));
            int width = model.Parameters.First(p => p.Name == "wte.weight").Shape[1];
            flops += 2.0 * batch * length * length * width * layers;
        }
        return flops;
    }

    /// <summary>Forward, backward (twice the forward) and nothing for the optimiser's element-wise update.</summary>
    public static double TrainingStep(LanguageModel model, int batch, int length) => 3 * Forward(model, batch, length);
}
