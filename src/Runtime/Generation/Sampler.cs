namespace Edge.Generation;

/// <summary>
/// Picks the next token from a row of logits, with the controls users expect, applied in this order:
/// repetition penalty and no-repeat n-gram (both over the tokens in the model's window), temperature
/// (0 means greedy: the arg-max, no division), top-k, top-p, then a seeded draw. Allocation-free after
/// construction: its scratch rows are sized for the vocabulary once.
/// </summary>
public sealed class Sampler
{
    readonly float[] _scratch;
    readonly float[] _select;
    readonly int[] _order;
    Rng _rng;

    public Sampler(int vocabSize, ulong seed, float temperature = 1f, int topK = 0, float topP = 1f)
    {
        if (vocabSize <= 0) throw new ArgumentOutOfRangeException(nameof(vocabSize));
        _scratch = new float[vocabSize];
        _select = new float[vocabSize];
        _order = new int[vocabSize];
        _rng = new Rng(seed);
        Temperature = temperature;
        TopK = topK;
        TopP = topP;
    }

    /// <summary>0 (or less) means greedy: always the arg-max.</summary>
    public float Temperature { get; set; }
    /// <summary>Keep only the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; set; }
    /// <summary>Keep the smallest set of most likely tokens whose probabilities reach p; 1 keeps all.</summary>
    public float TopP { get; set; } = 1f;
    /// <summary>Divides positive logits (multiplies negative ones) of tokens already in the window; 1 is off.</summary>
    public float RepetitionPenalty { get; set; } = 1f;
    /// <summary>Never complete an n-gram of this size that already occurs in the window; 0 is off.</summary>
    public int NoRepeatNgram { get; set; }

    public int VocabSize => _scratch.Length;

    /// <summary>logits: [V], one row; history: the tokens before this one (for the repetition controls).</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history = default)
    {
        if (logits.Length != _scratch.Length)
            throw new ArgumentException($"expected {_scratch.Length} logits, got {logits.Length}");
        var p = _scratch.AsSpan();
        logits.CopyTo(p);
        if (RepetitionPenalty != 1f)
            foreach (var t in history)
                if ((uint)t < (uint)p.Length && !float.IsNegativeInfinity(p[t]))
                {
                    // Each token once, however often it occurs: mark it by moving it past the penalty only once.
                    float original = logits[t];
                    if (p[t] == original) p[t] = original > 0 ? original / RepetitionPenalty : original * RepetitionPenalty;
                }
        if (NoRepeatNgram > 0) BanRepeatedNgrams(p, history, NoRepeatNgram);

        if (Temperature <= 0f) return ArgMax(p);

        float inv = 1f / Temperature;
        for (int i = 0; i < p.Length; i++) p[i] *= inv;
        if (TopK > 0 && TopK < p.Length) KeepTopK(p, TopK);

        float max = float.NegativeInfinity;
        foreach (var v in p) max = MathF.Max(max, v);
        if (float.IsNegativeInfinity(max)) return ArgMax(logits); // everything banned: fall back to the model's choice
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = float.IsNegativeInfinity(p[i]) ? 0f : MathF.Exp(p[i] - max);
            sum += p[i];
        }
        if (TopP < 1f) sum = KeepTopP(p, sum, TopP);

        double r = _rng.NextDouble() * sum, cumulative = 0;
        int last = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] == 0f) continue;
            cumulative += p[i];
            last = i;
            if (r < cumulative) return i;
        }
        return last; // rounding left r just above the total
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }

    /// <summary>Bans every token that would complete an n-gram already present in the history.</summary>
    static void BanRepeatedNgrams(Span<float> p, ReadOnlySpan<int> history, int n)
    {
        if (history.Length < n) return;
        if (n == 1)
        {
            foreach (var t in history) if ((uint)t < (uint)p.Length) p[t] = float.NegativeInfinity;
            return;
        }
        var prefix = history[^(n - 1)..];
        for (int i = 0; i + n <= history.Length; i++)
            if (history.Slice(i, n - 1).SequenceEqual(prefix) && (uint)history[i + n - 1] < (uint)p.Length)
                p[history[i + n - 1]] = float.NegativeInfinity;
    }

    /// <summary>Sets all but the k largest entries to -inf; ties at the boundary go to the lower token id.</summary>
    void KeepTopK(Span<float> p, int k)
    {
        var s = _select.AsSpan();
        p.CopyTo(s);
        float threshold = Select(s, k - 1); // the k-th largest value
        int greater = 0;
        foreach (var v in p) if (v > threshold) greater++;
        int equalAllowed = k - greater;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] > threshold) continue;
            if (p[i] == threshold && equalAllowed > 0) { equalAllowed--; continue; }
            p[i] = float.NegativeInfinity;
        }
    }

    /// <summary>
    /// p: unnormalised probabilities summing to <paramref name="sum"/>. Zeroes all but the smallest set of
    /// most likely tokens whose share reaches <paramref name="topP"/>; returns the new sum.
    /// </summary>
    double KeepTopP(Span<float> p, double sum, float topP)
    {
        var keys = _select.AsSpan();
        var order = _order.AsSpan();
        for (int i = 0; i < p.Length; i++) { keys[i] = -p[i]; order[i] = i; }
        keys.Sort(order); // most likely first (ties: stable enough for a draw; the set reached is the same)
        double target = topP * sum, cumulative = 0;
        int kept = 0;
        while (kept < order.Length && cumulative < target)
            cumulative += p[order[kept++]];
        for (int i = kept; i < order.Length; i++) p[order[i]] = 0f;
        return cumulative;
    }

    /// <summary>The value that would sit at index <paramref name="n"/> if <paramref name="s"/> were sorted descending (quickselect, in place).</summary>
    static float Select(Span<float> s, int n)
    {
        int lo = 0, hi = s.Length - 1;
        while (lo < hi)
        {
            float pivot = s[(lo + hi) >>> 1];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (s[i] > pivot) i++;
                while (s[j] < pivot) j--;
                if (i <= j) { (s[i], s[j]) = (s[j], s[i]); i++; j--; }
            }
            if (n <= j) hi = j;
            else if (n >= i) lo = i;
            else return s[n];
        }
        return s[n];
    }
}
