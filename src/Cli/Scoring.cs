using Edge.Data;
using Edge.Training;

namespace Edge.Cli;

/// <summary><see cref="Trainer.Evaluate(LanguageModel, ExampleSet, int, int, Action{int})"/> over a whole split, with a progress bar.</summary>
static class Scoring
{
    public static double Evaluate(LanguageModel model, ExampleSet set, int batch, bool quiet, string? status = null)
    {
        using var bar = new ProgressBar(Trainer.EvaluationCount(model, set), model.IsSequenceModel ? "windows" : "examples", quiet, status: status);
        return Trainer.Evaluate(model, set, batch, progress: done => bar.Report(done));
    }
}
