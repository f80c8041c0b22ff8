using Edge.Data;
using Edge.Training;

namespace Edge.Cli;

/// <summary><see cref="Trainer.Evaluate(IModelContext, ExampleSet, int, int, Action{int})"/> over a whole split, with a progress bar.</summary>
static class Scoring
{
    /// <summary>Activations a scoring context may take: evaluation is as fast at a batch whose activations fit in this.</summary>
    const long Budget = 64L << 20;

    /// <summary>An inference context at the largest batch up to <paramref name="wanted"/> whose activations fit in 64 MiB.</summary>
    public static IModelContext CreateContext(LanguageModel model, int wanted) =>
        Backend.Current.CreateInference(model, model.Info.FittingBatch(model.VocabSize, wanted, ContextKind.Inference, Budget));

    public static double Evaluate(IModelContext context, ExampleSet set, bool quiet, string? status = null)
    {
        using var bar = new ProgressBar(Trainer.EvaluationCount(set), context.Model.IsSequenceModel ? "windows" : "examples", quiet, status: status);
        return Trainer.Evaluate(context, set, context.MaxBatch, progress: done => bar.Report(done));
    }
}
