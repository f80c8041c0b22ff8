using System.Runtime.InteropServices;

namespace Edge.Text;

// Pieces too long for encoder.py's rescans (a 40 MB run of letters is one piece): the bucket queue of
// BpeSymbolQueue, over the whole piece or, with GPT-2's kind of merge list, over a window at a time.
//
// Why windows are exact. Say a boundary b of a piece S = X ++ Y is final when no merge ever joins a symbol of X
// with one of Y. Then S's ids are X's ids followed by Y's: each side sees the same rounds in the same order as
// when it is encoded alone (a round's rank, the lowest over S, is the lowest over whichever side holds it).
// So a piece is encoded window by window if every window ends at a final boundary.
//
// Proving b final needs the merge list to be monotone: every pair that holds a token ranks after every merge
// that makes that token (GPT-2's vocab.bpe is; so is any list learned by counting). Rounds then run in
// strictly increasing rank, a symbol exists from the round that makes it until the round that merges it away,
// and the pair across b, (x, y), can only be merged in round rank(x, y) while both exist. x is one of the
// symbols that have ended X: its last byte, then each symbol that last byte became, until the last token t
// of X's ids; x is merged away (to its left) in a known round d(x), never for t. y is one of the tokens that
// spell a prefix of Y. So b is final when, for each such x and each token y that is a prefix of Y,
// rank(x, y) is undefined or at least d(x) (equal means x = y = its left neighbour, and encoder.py merges
// the left pair first). That history of x depends on t alone: t's boundaries are final, so it is the history
// of the last symbol when t's own bytes are encoded (its "spine", kept per token).
//
// A window of the piece that starts at f (a boundary already proved final) and ends at a content-defined point
// in [f + W/2, f + W) (BpeWindowCache) is merged, or found merged in the cache; its token boundaries are tried
// from the right end back to the window's middle (the window's own end included: Y is the rest of the piece,
// not of the window). The ids up to the first boundary that proves final are emitted and the next window
// starts there. A window with no provable boundary in its right half is doubled, up to the whole piece.
public sealed partial class BpeTokenizer
{
    /// <summary>Pieces longer than this (in bytes) merge with the bucket queue (linear in the merges) instead of encoder.py's rescans.</summary>
    internal int QueueThreshold { get; set; } = 128;

    /// <summary>A long piece is merged this many bytes at a time (with a monotone merge list).</summary>
    internal int Window { get; set; } = 1 << 14;

    /// <summary>Whether windows may be used: no pair holding a token ranks at or before a merge that makes it.</summary>
    internal bool MonotoneMerges => _monotone;

    sealed class PartnerTable(int[] start, int[] right, int[] rank)
    {
        public readonly int[] Start = start, Right = right, Rank = rank;     // left id -> [Start[id], Start[id + 1]) in rank order
    }

    /// <summary>
    /// What the bucket queue reads: the merge ranks grouped by left token and by right token (see
    /// <see cref="BpePartnerMap"/>), and per rank what one round needs in one place (a round costs a few cache
    /// misses, and a long piece of letters has a round for every six or so bytes).
    /// </summary>
    internal sealed class RankMaps(BpePartnerMap byLeft, BpePartnerMap byRight, RankMaps.Round[] rounds)
    {
        public readonly BpePartnerMap ByLeft = byLeft, ByRight = byRight;
        public readonly Round[] Rounds = rounds;

        /// <summary>Rank r merges (Left, Right) into Merged; the pairs it then makes are looked up in Merged's tables.</summary>
        public struct Round
        {
            public int Left, Right, Merged;
            public int AfterOffset, AfterMask;         // ByLeft's table of Merged: (Merged, next symbol)
            public int BeforeOffset, BeforeMask;       // ByRight's table of Merged: (previous symbol, Merged)
        }
    }

    PartnerTable? _partners;
    RankMaps? _rankMaps;
    readonly BpeWindowCache _windows = new();
    int[]?[]? _spines;
    long _provedBoundaries, _windowsMerged;

    /// <summary>How many window ends have been proved final so far (tests check that windows are used).</summary>
    internal long ProvedBoundaries => Interlocked.Read(ref _provedBoundaries);

    /// <summary>How many windows have been merged rather than found in the window cache.</summary>
    internal long WindowsMerged => Interlocked.Read(ref _windowsMerged);

    internal int ByteId(byte b) => _byteIds[b];

    internal long MergePair(int rank) => _mergePairs[rank];

    internal bool TryRank(int left, int right, out int rank) => _ranks.TryGetValue(Pair(left, right), out rank);

    /// <summary>Built on the first piece that needs them (a few megabytes for GPT-2).</summary>
    internal RankMaps Ranks
    {
        get
        {
            if (_rankMaps is { } maps) return maps;
            var merges = EffectiveMerges();
            var byLeft = new BpePartnerMap(_tokens.Length, merges, byLeft: true);
            var byRight = new BpePartnerMap(_tokens.Length, merges, byLeft: false);
            var rounds = new RankMaps.Round[_mergePairs.Length];
            for (int r = 0; r < rounds.Length; r++)
            {
                int merged = _mergeResults[r];
                (int afterOffset, int afterMask) = byLeft.Table(merged);
                (int beforeOffset, int beforeMask) = byRight.Table(merged);
                rounds[r] = new RankMaps.Round
                {
                    Left = (int)(_mergePairs[r] >> 32), Right = (int)_mergePairs[r], Merged = merged,
                    AfterOffset = afterOffset, AfterMask = afterMask, BeforeOffset = beforeOffset, BeforeMask = beforeMask,
                };
            }
            Interlocked.CompareExchange(ref _rankMaps, new RankMaps(byLeft, byRight, rounds), null);
            return _rankMaps;
        }
    }

    /// <summary>Each merge once, with the rank encoder.py's dict gives it (a repeated merge keeps its last rank), in rank order.</summary>
    List<(int Left, int Right, int Rank)> EffectiveMerges()
    {
        var merges = new List<(int, int, int)>(_mergePairs.Length);
        for (int r = 0; r < _mergePairs.Length; r++)
            if (_ranks.TryGetValue(_mergePairs[r], out int rank) && rank == r) merges.Add(((int)(_mergePairs[r] >> 32), (int)_mergePairs[r], r));
        return merges;
    }

    /// <summary>The rank of the pair of byte tokens (<paramref name="left"/>, <paramref name="right"/>), or int.MaxValue: every long piece starts with these.</summary>
    internal int BytePairRank(byte left, byte right) => _bytePairRanks[left << 8 | right];

    int[] BuildBytePairRanks()
    {
        var ranks = new int[256 * 256];
        for (int a = 0; a < 256; a++)
            for (int b = 0; b < 256; b++)
                ranks[a << 8 | b] = TryRank(_byteIds[a], _byteIds[b], out int r) ? r : int.MaxValue;
        return ranks;
    }

    /// <summary>Appends the ids of <paramref name="piece"/> (any length; the long-piece path).</summary>
    void MergeLong(ReadOnlySpan<byte> piece, List<int> into)
    {
        if (!_monotone || piece.Length <= Window)
        {
            var whole = BpeSymbolQueue.For(piece.Length, MergeCount);
            whole.Merge(this, piece);
            whole.AppendIds(into);
            return;
        }
        while (piece.Length > 0)
        {
            for (long width = Window; ; width *= 2)
            {
                var window = piece[..BpeWindowCache.End(piece, (int)Math.Min(width, piece.Length))];
                int first = into.Count;
                if (!_windows.TryGet(window, out var kept))
                {
                    var queue = BpeSymbolQueue.For(window.Length, MergeCount);
                    queue.Merge(this, window);
                    Interlocked.Increment(ref _windowsMerged);
                    if (_windows.Keeps()) _windows.Add(window, kept = queue.Ids());
                    else queue.AppendIds(into);                // the ids straight into the list, cut below
                }
                ReadOnlySpan<int> ids = kept ?? CollectionsMarshal.AsSpan(into)[first..];
                int count = ids.Length, end = window.Length;
                bool final = end == piece.Length || LastFinalBoundary(ids, piece, ref count, ref end);
                if (kept is null) CollectionsMarshal.SetCount(into, final ? first + count : first);
                else if (final) into.AddRange(kept.AsSpan(0, count));
                if (!final) continue;
                if (end < piece.Length) Interlocked.Increment(ref _provedBoundaries);
                piece = piece[end..];
                break;
            }
        }
    }

    /// <summary>
    /// Moves (<paramref name="count"/> ids, <paramref name="end"/> bytes) of a merged window back, a token at a time
    /// and no further than the window's middle, to the first boundary that is final for the whole <paramref name="piece"/>.
    /// </summary>
    bool LastFinalBoundary(ReadOnlySpan<int> ids, ReadOnlySpan<byte> piece, ref int count, ref int end)
    {
        for (int half = end / 2; end > half; end -= _offsets[ids[--count] + 1] - _offsets[ids[count]])
            if (IsFinalBoundary(ids[count - 1], piece[end..])) return true;
        return false;
    }

    /// <summary>Whether no merge can join token <paramref name="last"/>'s history to a token that begins <paramref name="after"/> (see above).</summary>
    internal bool IsFinalBoundary(int last, ReadOnlySpan<byte> after)
    {
        var spine = Spine(last);
        if (spine.Length == 0) return false;
        var partners = _partners ??= BuildPartners();
        for (int k = 0; k < spine.Length; k += 2)
        {
            int x = spine[k], death = spine[k + 1];
            for (int j = partners.Start[x]; j < partners.Start[x + 1] && partners.Rank[j] < death; j++)
            {
                int y = partners.Right[j];
                if (after.StartsWith(_tokenBytes.AsSpan(_offsets[y], _offsets[y + 1] - _offsets[y]))) return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Token <paramref name="id"/>'s spine: (symbol, rank of the round that merges it to its left) for each symbol
    /// that ends the token's bytes while they are encoded alone, the token itself last with int.MaxValue. Empty
    /// when the bytes do not encode to the token (it cannot then end a final boundary).
    /// </summary>
    internal int[] Spine(int id)
    {
        var spines = _spines;
        if (spines is null) Interlocked.CompareExchange(ref _spines, new int[]?[_tokens.Length], null);
        return (_spines![id] ??= ComputeSpine(id));
    }

    int[] ComputeSpine(int id)
    {
        var bytes = TokenBytes(id);
        var word = new List<int>(bytes.Length);
        foreach (byte b in bytes) word.Add(_byteIds[b]);
        var spine = new List<int>();
        while (word.Count > 1)
        {
            int best = int.MaxValue;
            for (int i = 0; i + 1 < word.Count; i++)
                if (TryRank(word[i], word[i + 1], out int r) && r < best) best = r;
            if (best == int.MaxValue) break;
            int a = (int)(_mergePairs[best] >> 32), b = (int)_mergePairs[best];
            var next = new List<int>(word.Count);
            bool lastMerged = false;
            for (int i = 0; i < word.Count;)
            {
                if (i + 1 < word.Count && word[i] == a && word[i + 1] == b)
                {
                    next.Add(_mergeResults[best]);
                    lastMerged |= i + 2 == word.Count;
                    i += 2;
                }
                else next.Add(word[i++]);
            }
            if (lastMerged) spine.AddRange([word[^1], best]);
            word = next;
        }
        if (word.Count != 1 || word[0] != id) return [];
        spine.AddRange([id, int.MaxValue]);
        return [.. spine];
    }

    /// <summary>For each left id, the (right id, rank) of its merges in rank order; repeated merges keep their last rank.</summary>
    PartnerTable BuildPartners()
    {
        var merges = EffectiveMerges();
        var start = new int[_tokens.Length + 1];
        foreach (var (left, _, _) in merges) start[left + 1]++;
        for (int i = 0; i < _tokens.Length; i++) start[i + 1] += start[i];
        var fill = start[..^1];
        var right = new int[merges.Count];
        var rank = new int[merges.Count];
        foreach (var (left, r, m) in merges)
        {
            int at = fill[left]++;
            right[at] = r;
            rank[at] = m;
        }
        return new PartnerTable(start, right, rank);
    }

    /// <summary>Every token's lowest rank as half of a pair is above the highest rank of a merge that makes it.</summary>
    bool ComputeMonotone()
    {
        var lastMade = new int[_tokens.Length];
        var firstUsed = new int[_tokens.Length];
        Array.Fill(lastMade, -1);
        Array.Fill(firstUsed, int.MaxValue);
        foreach (var (left, right, r) in EffectiveMerges())
        {
            lastMade[_mergeResults[r]] = r;
            firstUsed[left] = Math.Min(firstUsed[left], r);
            firstUsed[right] = Math.Min(firstUsed[right], r);
        }
        for (int id = 0; id < _tokens.Length; id++)
            if (firstUsed[id] <= lastMade[id]) return false;
        return true;
    }
}
