namespace Edge.Generation;

/// <summary>
/// Picks the next token from a row of logits: greedy when the temperature is 0, otherwise a draw from
/// softmax(logits / temperature), optionally restricted to the k most likely tokens. Seeded, and
/// allocation-free after construction (its scratch row is sized for the vocabulary once).
/// </summary>
public sealed class Sampler
{
    readonly float[] _scratch;
    readonly float[] _select;
    Rng _rng;

    public Sampler(int vocabSize, ulong seed, float temperature = 1f, int topK = 0)
    {
        if (vocabSize <= 0) throw new ArgumentOutOfRangeException(nameof(vocabSize));
        _scratch = new float[vocabSize];
        _select = new float[vocabSize];
        _rng = new Rng(seed);
        Temperature = temperature;
        TopK = topK;
    }

    /// <summary>0 (or less) means greedy: always the arg-max.</summary>
    public float Temperature { get; set; }
    /// <summary>Keep only the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; set; }

    public int VocabSize => _scratch.Length;

    /// <summary>logits: [V], one row.</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        if (logits.Length != _scratch.Length)
            throw new ArgumentException($"expected {_scratch.Length} logits, got {logits.Length}");
        if (Temperature <= 0f) return ArgMax(logits);

        var p = _scratch.AsSpan();
        float inv = 1f / Temperature;
        for (int i = 0; i < p.Length; i++) p[i] = logits[i] * inv;
        if (TopK > 0 && TopK < p.Length) KeepTopK(p, TopK);

        float max = float.NegativeInfinity;
        foreach (var v in p) max = MathF.Max(max, v);
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = float.IsNegativeInfinity(p[i]) ? 0f : MathF.Exp(p[i] - max);
            sum += p[i];
        }
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
