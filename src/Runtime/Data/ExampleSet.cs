namespace Edge.Data;

/// <summary>
/// Examples for next-token prediction. Each has <see cref="InputLength"/> input tokens and
/// <see cref="TargetLength"/> targets: 1 (the next token, for MLP and bigram models) or one per input
/// position (for transformers). <see cref="Fill"/> writes one batch row and allocates nothing.
/// </summary>
public abstract class ExampleSet
{
    private protected ExampleSet() { }

    public abstract int Count { get; }
    public abstract int InputLength { get; }
    public abstract int TargetLength { get; }

    /// <summary>
    /// True for windows over running text with a target at every position: neighbouring examples share all but one
    /// target, so an evaluation that covers the set once takes windows a full length apart.
    /// </summary>
    public virtual bool OverlappingWindows => false;

    /// <summary>False when some targets are <see cref="Kernels.SoftmaxCrossEntropy.IgnoredTarget"/> (padding, prompts): a mean loss then weighs the scored targets.</summary>
    public virtual bool ScoresEveryTarget => true;

    /// <summary>Writes example <paramref name="index"/>: inputs [InputLength], targets [TargetLength].</summary>
    public abstract void Fill(int index, Span<int> inputs, Span<int> targets);

    /// <summary>
    /// Writes <paramref name="batch"/> examples drawn uniformly at random, with replacement (nanoGPT's get_batch), as
    /// rows of inputs [batch, InputLength] and targets [batch, TargetLength]; one <c>NextInt</c> of
    /// <paramref name="rng"/> per row, in row order (a training run's batch stream, which a resume replays).
    /// </summary>
    public void FillRandom(ref Rng rng, int batch, Span<int> inputs, Span<int> targets)
    {
        int inLen = InputLength, tLen = TargetLength;
        for (int b = 0; b < batch; b++)
            Fill(rng.NextInt(Count), inputs.Slice(b * inLen, inLen), targets.Slice(b * tLen, tLen));
    }

    /// <summary>
    /// Writes rows 0..n-1 of an evaluation that spreads <c>count</c> examples evenly over the set: row b is example
    /// (int)((start + b) * <paramref name="stride"/>), stride = Count / count.
    /// </summary>
    public void FillSpread(int start, int n, double stride, Span<int> inputs, Span<int> targets)
    {
        int inLen = InputLength, tLen = TargetLength;
        for (int b = 0; b < n; b++)
            Fill((int)((start + b) * stride), inputs.Slice(b * inLen, inLen), targets.Slice(b * tLen, tLen));
    }

    /// <summary>
    /// Sliding windows over running text: example i is tokens[i..i+L) -> tokens[i+L], or -> tokens[i+1..i+L+1)
    /// with <paramref name="sequenceTargets"/>. Count = tokens.Length - L. Keeps a reference to the tokens.
    /// </summary>
    public static ExampleSet FromStream(int[] tokens, int inputLength, bool sequenceTargets)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return FromStream(tokens.AsMemory(), inputLength, sequenceTargets);
    }

    internal static ExampleSet FromStream(ReadOnlyMemory<int> tokens, int inputLength, bool sequenceTargets)
    {
        CheckContext(inputLength);
        if (tokens.Length <= inputLength)
            throw new EdgeException($"the text is too short for a context of {inputLength}: it has {tokens.Length} tokens and needs at least {inputLength + 1}");
        return new StreamExamples(tokens, inputLength, sequenceTargets);
    }

    /// <summary>
    /// makemore's examples from line-per-example data: for each line w, ctx = [marker]*context; for each t in
    /// w followed by marker: (ctx -> t), then ctx = ctx[1:] + [t]. Count = sum of (line length + 1).
    /// </summary>
    public static ExampleSet FromLines(IReadOnlyList<int[]> lines, int context, int marker)
    {
        ArgumentNullException.ThrowIfNull(lines);
        CheckContext(context);
        if (lines.Count == 0) throw new EdgeException("there are no lines to make examples from");
        long count = 0;
        foreach (var w in lines) count += w.Length + 1;
        if (count * context > Array.MaxLength)
            throw new EdgeException($"the data makes {count} examples of {context} tokens, more than fit in memory at once");

        var inputs = new int[count * context];      // [Count, context]
        var targets = new int[count];               // [Count]
        int r = 0;
        foreach (var w in lines)
        {
            for (int t = 0; t <= w.Length; t++, r++)
            {
                var row = inputs.AsSpan(r * context, context);
                if (t == 0) row.Fill(marker);
                else
                {
                    inputs.AsSpan((r - 1) * context + 1, context - 1).CopyTo(row);
                    row[^1] = targets[r - 1];
                }
                targets[r] = t < w.Length ? w[t] : marker;
            }
        }
        return new LineExamples(inputs, targets, context);
    }

    static void CheckContext(int length)
    {
        if (length < 1) throw new EdgeException($"the context length must be at least 1 (got {length})");
    }

    private protected void CheckRow(int index, Span<int> inputs, Span<int> targets)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
        if (inputs.Length != InputLength || targets.Length != TargetLength)
            throw new ArgumentException($"expected spans of {InputLength} inputs and {TargetLength} targets");
    }

    sealed class StreamExamples(ReadOnlyMemory<int> tokens, int length, bool sequenceTargets) : ExampleSet
    {
        public override int Count => tokens.Length - length;
        public override int InputLength => length;
        public override int TargetLength => sequenceTargets ? length : 1;
        public override bool OverlappingWindows => sequenceTargets;

        public override void Fill(int index, Span<int> inputs, Span<int> targets)
        {
            CheckRow(index, inputs, targets);
            var t = tokens.Span;
            t.Slice(index, length).CopyTo(inputs);
            if (sequenceTargets) t.Slice(index + 1, length).CopyTo(targets);
            else targets[0] = t[index + length];
        }
    }

    sealed class LineExamples(int[] allInputs, int[] allTargets, int context) : ExampleSet
    {
        public override int Count => allTargets.Length;
        public override int InputLength => context;
        public override int TargetLength => 1;

        public override void Fill(int index, Span<int> inputs, Span<int> targets)
        {
            CheckRow(index, inputs, targets);
            allInputs.AsSpan(index * context, context).CopyTo(inputs);
            targets[0] = allTargets[index];
        }
    }
}
