using System.Text;

namespace Edge.Text;

// Byte-level BPE training in the manner of minbpe's RegexTokenizer, with GPT-2's split pattern: ids 0-255 are
// the bytes, then each step merges the most frequent adjacent pair within pieces (ties: the lowest pair of
// ids) until the vocab is full; special tokens come last. Counting is incremental: a step touches only the
// distinct pieces that hold the chosen pair, and a lazy max-heap finds the next pair.
public sealed partial class BpeTokenizer
{
    /// <summary>Learns a vocab of exactly <paramref name="vocabSize"/> tokens (256 bytes, merges, then the specials) from <paramref name="text"/>.</summary>
    public static BpeTokenizer Train(string text, int vocabSize, IEnumerable<string>? specialTokens = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var specials = (specialTokens ?? []).ToList();
        foreach (var s in specials)
            if (string.IsNullOrEmpty(s)) throw new EdgeException("special tokens must be non-empty text");
        if (specials.Distinct().Count() != specials.Count) throw new EdgeException("special tokens must be distinct");
        if (vocabSize < 256 + specials.Count)
            throw new EdgeException($"vocab size {vocabSize} is too small: byte-level BPE needs 256 byte tokens + {specials.Count} special tokens");

        // Distinct pieces and how often each occurs; the specials' text is cut out so that no merge learns it.
        var pieceCounts = new Dictionary<byte[], long>(ByteArrayComparer.Instance);
        var lookup = pieceCounts.GetAlternateLookup<ReadOnlySpan<byte>>();
        var specialBytes = specials.Select((s, i) => (Encoding.UTF8.GetBytes(s), i)).ToArray();
        ReadOnlySpan<byte> rest = Encoding.UTF8.GetBytes(text);
        while (rest.Length > 0)
        {
            int at = NextSpecial(rest, specialBytes, out int length, out _);
            var chunk = at < 0 ? rest : rest[..at];
            for (int i = 0, end; i < chunk.Length; i = end)
            {
                end = BpePreTokenizer.PieceEnd(chunk, i);
                lookup.TryGetValue(chunk[i..end], out long c);
                lookup[chunk[i..end]] = c + 1;
            }
            rest = at < 0 ? [] : rest[(at + length)..];
        }

        var words = new List<int[]>(pieceCounts.Count);
        var lengths = new List<int>(pieceCounts.Count);
        var freqs = new List<long>(pieceCounts.Count);
        foreach (var (piece, count) in pieceCounts)
        {
            words.Add(Array.ConvertAll(piece, b => (int)b));
            lengths.Add(piece.Length);
            freqs.Add(count);
        }

        var tokens = Enumerable.Range(0, 256).Select(b => BpePreTokenizer.ByteChars[b].ToString()).ToList();
        var ids = tokens.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i);
        var merges = new List<(string, string)>();
        var counts = new Dictionary<long, long>(BpePairComparer.Instance);
        var where = new Dictionary<long, List<int>>(BpePairComparer.Instance);                     // pair -> pieces that may hold it
        for (int w = 0; w < words.Count; w++)
            for (int i = 0; i + 1 < lengths[w]; i++)
            {
                long p = Pair(words[w][i], words[w][i + 1]);
                counts[p] = counts.GetValueOrDefault(p) + freqs[w];
                Where(where, p).Add(w);
            }
        // Highest count first, then the lowest pair; an entry whose count has since changed is re-queued when popped.
        var heap = new PriorityQueue<long, (long NegCount, long Pair)>();
        foreach (var (p, c) in counts) heap.Enqueue(p, (-c, p));

        var delta = new Dictionary<long, long>(BpePairComparer.Instance);
        var seen = new int[words.Count];
        int target = vocabSize - specials.Count;
        for (int step = 1; tokens.Count < target; )
        {
            if (!heap.TryDequeue(out long pair, out var queued))
                throw new EdgeException($"the text has too few distinct pairs for a vocab of {vocabSize}: it ran out at {tokens.Count + specials.Count} tokens");
            long current = counts.GetValueOrDefault(pair);
            if (current != -queued.NegCount)
            {
                if (current > 0) heap.Enqueue(pair, (-current, pair));
                continue;
            }
            int a = (int)(pair >> 32), b = (int)pair;
            string merged = tokens[a] + tokens[b];
            if (!ids.TryGetValue(merged, out int id))                        // else another pair already spells it
            {
                ids[merged] = id = tokens.Count;
                tokens.Add(merged);
            }
            merges.Add((tokens[a], tokens[b]));

            foreach (int w in where[pair])
            {
                if (seen[w] == step) continue;
                seen[w] = step;
                int[] word = words[w];
                int n = lengths[w];
                long f = freqs[w];
                for (int i = 0; i + 1 < n; i++) Add(delta, Pair(word[i], word[i + 1]), -f);
                int o = 0;
                for (int i = 0; i < n; o++)
                {
                    if (i + 1 < n && word[i] == a && word[i + 1] == b) { word[o] = id; i += 2; }
                    else word[o] = word[i++];
                }
                lengths[w] = n = o;
                for (int i = 0; i + 1 < n; i++)
                {
                    long p = Pair(word[i], word[i + 1]);
                    Add(delta, p, f);
                    if (word[i] == id || word[i + 1] == id) Where(where, p).Add(w);
                }
            }
            where.Remove(pair);
            foreach (var (p, d) in delta)
            {
                if (d == 0) continue;
                long c = counts.GetValueOrDefault(p) + d;
                if (c == 0) counts.Remove(p); else counts[p] = c;
                if (d > 0) heap.Enqueue(p, (-c, p));
            }
            delta.Clear();
            step++;
        }

        foreach (var s in specials)
        {
            if (!ids.TryAdd(s, tokens.Count)) throw new EdgeException($"special token {Quote(s)} is also an ordinary token of the trained vocab");
            tokens.Add(s);
        }
        return new BpeTokenizer("trained vocab", "trained merges", tokens.Select((t, i) => (t, i)).ToList(), merges, null);
    }

    static void Add(Dictionary<long, long> delta, long pair, long d) => delta[pair] = delta.GetValueOrDefault(pair) + d;

    static List<int> Where(Dictionary<long, List<int>> where, long pair)
    {
        if (!where.TryGetValue(pair, out var list)) where[pair] = list = [];
        return list;
    }

    /// <summary>Where the first special token starts in <paramref name="s"/> (the longest one there), or -1.</summary>
    static int NextSpecial(ReadOnlySpan<byte> s, (byte[] Bytes, int Id)[] specials, out int length, out int id)
    {
        int at = -1;
        length = id = 0;
        foreach (var (bytes, sid) in specials)
        {
            int i = (at < 0 ? s : s[..Math.Min(s.Length, at + bytes.Length)]).IndexOf(bytes);
            if (i >= 0 && (at < 0 || i < at || i == at && bytes.Length > length)) (at, length, id) = (i, bytes.Length, sid);
        }
        return at;
    }
}
