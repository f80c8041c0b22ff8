using Edge.Data;

namespace Edge.Training;

/// <summary>The counting bigram model of makemore part 1: smoothed counts turned into log-probabilities.</summary>
public static class BigramCounts
{
    /// <summary>
    /// table [V, V]: row p, column t becomes log((N[p, t] + k) / (sum_t N[p, t] + k V)), where N counts how
    /// often token t follows token p in <paramref name="examples"/> (inputs of length 1). Used as logits, the
    /// rows are already normalised, so the model's loss is the counts' negative log-likelihood.
    /// </summary>
    public static void Fit(Span<float> table, int vocabSize, ExampleSet examples, double smoothing)
    {
        if (examples.InputLength != 1 || examples.TargetLength != 1)
            throw new ArgumentException("bigram counts need examples of one input and one target token");
        var counts = new double[vocabSize * vocabSize];
        Span<int> input = stackalloc int[1], target = stackalloc int[1];
        for (int i = 0; i < examples.Count; i++)
        {
            examples.Fill(i, input, target);
            counts[input[0] * vocabSize + target[0]]++;
        }
        for (int p = 0; p < vocabSize; p++)
        {
            var row = counts.AsSpan(p * vocabSize, vocabSize);
            double total = smoothing * vocabSize;
            foreach (var c in row) total += c;
            for (int t = 0; t < vocabSize; t++)
                table[p * vocabSize + t] = total > 0 ? (float)Math.Log((row[t] + smoothing) / total) : 0f;
        }
    }
}
