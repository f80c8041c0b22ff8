namespace Edge.Data;

/// <summary>Train, validation and (for line data) test examples.</summary>
public sealed record DataSplits(ExampleSet Train, ExampleSet Val, ExampleSet? Test)
{
    /// <summary>
    /// Running text, split as nanoGPT does: the first <paramref name="trainFraction"/> of the tokens train,
    /// the rest validate; no test split.
    /// </summary>
    public static DataSplits FromText(int[] tokens, int inputLength, bool sequenceTargets, double trainFraction = 0.9)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (!(trainFraction > 0 && trainFraction < 1))
            throw new EdgeException($"the train fraction must be between 0 and 1 (got {trainFraction})");
        if (inputLength < 1) throw new EdgeException($"the context length must be at least 1 (got {inputLength})");

        long need = inputLength + 1L;                // tokens each part needs for one example
        bool Fits(long n) => (long)(trainFraction * n) >= need && n - (long)(trainFraction * n) >= need;
        int split = (int)(trainFraction * tokens.Length);
        if (!Fits(tokens.Length))
        {
            long total = Math.Max(1, (long)Math.Max(need / trainFraction, (need - 1) / (1 - trainFraction)) - 1);  // a lower bound; Fits is monotone
            while (!Fits(total)) total++;
            throw new EdgeException(
                $"the data is too small: {tokens.Length} tokens split {trainFraction * 100:0.##}/{(1 - trainFraction) * 100:0.##} give " +
                $"{split} train and {tokens.Length - split} validation tokens, but a context of {inputLength} needs at least " +
                $"{need} in each ({total} tokens in all)");
        }
        return new(ExampleSet.FromStream(tokens.AsMemory(0, split), inputLength, sequenceTargets),
                   ExampleSet.FromStream(tokens.AsMemory(split), inputLength, sequenceTargets), null);
    }

    /// <summary>
    /// Line-per-example data, split as makemore does: the lines shuffled with <c>new Rng(seed)</c>, then the
    /// first 80% train, the next 10% validate and the last 10% test.
    /// </summary>
    public static DataSplits FromLines(IReadOnlyList<int[]> lines, int context, int marker, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var shuffled = lines.ToArray();
        var rng = new Rng(seed);
        rng.Shuffle(shuffled.AsSpan());

        static (int, int) Bounds(int n) => ((int)(0.8 * n), (int)(0.9 * n));
        static bool Fits(int n) => Bounds(n) is var (a, b) && a > 0 && b > a && n > b;
        int n = shuffled.Length;
        var (n1, n2) = Bounds(n);
        if (!Fits(n))
        {
            int need = 1;
            while (!Fits(need)) need++;
            throw new EdgeException(
                $"the data is too small: {n} lines split 80/10/10 give {n1} train, {n2 - n1} validation and {n - n2} test lines; " +
                $"at least {need} non-empty lines are needed");
        }
        return new(ExampleSet.FromLines(shuffled[..n1], context, marker),
                   ExampleSet.FromLines(shuffled[n1..n2], context, marker),
                   ExampleSet.FromLines(shuffled[n2..], context, marker));
    }
}
