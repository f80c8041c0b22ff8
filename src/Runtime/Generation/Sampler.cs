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
    readonly int[] _candidates; // top-k: the kept token ids, in increasing order
    readonly float[] _weights;  // top-k: their unnormalised probabilities
    Rng _rng;

    /// <param name="vocabSize">The model's vocabulary size V: the length of every logits row.</param>
    /// <param name="seed">Seeds the sampler's random stream: the same seed and logits give the same tokens.</param>
    /// <param name="temperature">Divides the logits; 0 (or less) is greedy (<see cref="Temperature"/>).</param>
    /// <param name="topK">Keep only the k most likely tokens; 0 keeps all (<see cref="TopK"/>).</param>
    /// <param name="topP">Nucleus sampling threshold; 1 keeps all (<see cref="TopP"/>).</param>
    public Sampler(int vocabSize, ulong seed, float temperature = 1f, int topK = 0, float topP = 1f)
    {
        if (vocabSize <= 0) throw new ArgumentOutOfRangeException(nameof(vocabSize));
        _scratch = new float[vocabSize];
        _select = new float[vocabSize];
        _order = new int[vocabSize];
        _candidates = new int[vocabSize];
        _weights = new float[vocabSize];
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

    /// <summary>The vocabulary size this sampler was made for.</summary>
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
        System.Numerics.Tensors.TensorPrimitives.Multiply(p, inv, p); // one rounding per element, as p[i] *= inv
        if (TopK > 0 && TopK < p.Length) return SampleTopK(p, logits);

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
        return Draw(p, sum);
    }

    /// <summary>
    /// Top-k, then top-p and the draw, over the k kept tokens only: the rest of the row would weigh 0, so the
    /// softmax, the sums (in token order) and the draw are those of the whole row, in k steps instead of V.
    /// </summary>
    int SampleTopK(Span<float> p, ReadOnlySpan<float> logits)
    {
        var kept = _candidates.AsSpan(0, KeepTopK(p, TopK, _candidates));
        var w = _weights.AsSpan(0, kept.Length);
        float max = float.NegativeInfinity;
        foreach (int i in kept) max = MathF.Max(max, p[i]);
        if (float.IsNegativeInfinity(max)) return ArgMax(logits);
        double sum = 0;
        for (int j = 0; j < kept.Length; j++)
        {
            float v = p[kept[j]];
            w[j] = float.IsNegativeInfinity(v) ? 0f : MathF.Exp(v - max);
            sum += w[j];
        }
        if (TopP < 1f) sum = KeepTopP(w, sum, TopP);
        return kept[Draw(w, sum)];
    }

    /// <summary>A seeded draw from unnormalised probabilities <paramref name="p"/> summing to <paramref name="sum"/>: an index of p.</summary>
    int Draw(ReadOnlySpan<float> p, double sum)
    {
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

    /// <summary>The index of the largest logit (the first of equal ones): greedy decoding.</summary>
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

    /// <summary>
    /// The ids of the k largest entries of <paramref name="p"/>, in increasing order, into <paramref name="kept"/>;
    /// ties at the boundary go to the lower token id. Returns how many (k). The k-th largest value is found in one
    /// pass with a min-heap of k entries (most entries are below its top and cost one comparison).
    /// </summary>
    int KeepTopK(ReadOnlySpan<float> p, int k, Span<int> kept)
    {
        var heap = _select.AsSpan(0, k);
        p[..k].CopyTo(heap);
        for (int i = k / 2 - 1; i >= 0; i--) SiftDown(heap, i);
        for (int i = k; i < p.Length; i++)
            if (p[i] > heap[0])
            {
                heap[0] = p[i];
                SiftDown(heap, 0);
            }
        float threshold = heap[0]; // the k-th largest value
        int greater = 0;
        foreach (var v in p) if (v > threshold) greater++;
        int equalAllowed = k - greater, count = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] > threshold) kept[count++] = i;
            else if (p[i] == threshold && equalAllowed > 0) { equalAllowed--; kept[count++] = i; }
        }
        return count;
    }

    static void SiftDown(Span<float> heap, int i)
    {
        while (true)
        {
            int smallest = i, left = 2 * i + 1, right = left + 1;
            if (left < heap.Length && heap[left] < heap[smallest]) smallest = left;
            if (right < heap.Length && heap[right] < heap[smallest]) smallest = right;
            if (smallest == i) return;
            (heap[i], heap[smallest]) = (heap[smallest], heap[i]);
            i = smallest;
        }
    }

    /// <summary>
    /// p: unnormalised probabilities summing to <paramref name="sum"/>. Zeroes all but the smallest set of
    /// most likely tokens whose share reaches <paramref name="topP"/>; returns the new sum.
    /// </summary>
    double KeepTopP(Span<float> p, double sum, float topP)
    {
        var keys = _select.AsSpan(0, p.Length);
        var order = _order.AsSpan(0, p.Length);
        for (int i = 0; i < p.Length; i++) { keys[i] = -p[i]; order[i] = i; }
        keys.Sort(order); // most likely first (ties: stable enough for a draw; the set reached is the same)
        double target = topP * sum, cumulative = 0;
        int kept = 0;
        while (kept < order.Length && cumulative < target)
            cumulative += p[order[kept++]];
        for (int i = kept; i < order.Length; i++) p[order[i]] = 0f;
        return cumulative;
    }
}
