using Edge.Data;
using Edge.Training;

namespace Edge.Cli;

/// <summary>
/// <see cref="Trainer.Evaluate(LanguageModel, ExampleSet, int, int)"/> over a whole split, with a progress
/// bar: the same examples in the same batches and order, so the same number (pinned by a test).
/// </summary>
static class Scoring
{
    public static double Evaluate(LanguageModel model, ExampleSet set, int batch, bool quiet, string? status = null)
    {
        batch = Math.Min(batch, model.MaxBatch);
        // Sequence models score every position of a window, so windows a full context apart cover the split once.
        int count = model.IsSequenceModel ? Math.Max(1, set.Count / model.InputLength) : set.Count;
        double stride = (double)set.Count / count;
        var inputs = new int[batch * model.InputLength];
        var targets = new int[batch * model.TargetLength];
        using var bar = new ProgressBar(count, model.IsSequenceModel ? "windows" : "examples", quiet, status: status);
        double total = 0;
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            for (int b = 0; b < n; b++)
                set.Fill((int)((start + b) * stride), inputs.AsSpan(b * model.InputLength, model.InputLength),
                    targets.AsSpan(b * model.TargetLength, model.TargetLength));
            total += (double)model.Forward(inputs, targets, n) * n;
            bar.Report(start + n);
        }
        return total / count;
    }
}
