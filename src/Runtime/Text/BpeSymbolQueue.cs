using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Edge.Text;

/// <summary>
/// encoder.py's <c>bpe()</c> for one span of bytes, in time linear in the merges made: the symbols form a list
/// linked through their sizes, and candidate pairs wait in a bucket queue indexed by merge rank.
///
/// Shapes, for a span of n bytes, one <c>Node</c> per byte: a symbol covering bytes [i, i + s) has
/// <c>Size = s</c> at nodes i and i + s - 1 (boundary tags: the next symbol starts at i + s, the previous one at
/// i - the Size of node i - 1), its id in <c>Sym</c> of node i, and in <c>Rank</c> the rank of the pair (symbol at
/// i, the next symbol), or None. Bucket r is a singly linked list of entries (position &lt;&lt; 32 | next entry);
/// an entry is a candidate only while the Rank at its position still says r, so stale entries cost nothing to
/// leave behind. The pair at a position never repeats (the symbols there only grow), so no position is listed
/// twice in one bucket, and at most n - 1 + 2 x merges entries are ever made: the pool is sized 3n once. A
/// node's fields share a cache line, as an entry's do: a merge touches a few nodes and entries, not six arrays.
///
/// A round takes the lowest non-empty bucket r, as encoder.py takes the lowest-ranked pair, and merges every
/// occurrence of its pair (a, b) in the word as the round found it. Pairs a merge creates hold the merged
/// symbol, so they are never (a, b) and never join bucket r during its round; one that ranks below r is picked
/// by the next round, as encoder.py's next min() would. Occurrences of (a, b) overlap only when a = b, in a run
/// of a's: encoder.py pairs such a run from its left end ("aaa" gives "aa" "a"), so a candidate inside a run
/// first walks back to the run's start and the whole run is paired left to right. The order of the other
/// candidates in a bucket does not matter: they do not overlap.
///
/// The ranks of the pairs a merge creates come from the tokenizer's tables grouped by the merged token's side
/// (<see cref="BpePartnerMap"/>), which one round's lookups share; a long piece's time goes mostly to them.
///
/// Non-empty buckets are bits in a two-level bitmap (a word per 64 ranks, a summary bit per word); every bucket
/// is empty again when a merge ends, so one queue serves every call on its thread without clearing.
/// </summary>
sealed class BpeSymbolQueue
{
    const int None = int.MaxValue;

    /// <summary>Spans up to this many bytes reuse the thread's queue; longer ones get a queue of their own.</summary>
    internal const int KeptBytes = 1 << 16;

    [ThreadStatic] static BpeSymbolQueue? t_queue;

    struct Node
    {
        public int Sym, Size, Rank;
    }

    Node[] _nodes = [];
    long[] _entries = [];                          // position << 32 | next entry (-1 ends a bucket)
    int[] _head = [];                              // rank -> first entry, or -1
    ulong[] _bits = [], _summary = [];
    int _n, _count, _low;

    /// <summary>The calling thread's queue, sized for <paramref name="bytes"/> and <paramref name="merges"/>; a fresh one past <see cref="KeptBytes"/>.</summary>
    public static BpeSymbolQueue For(int bytes, int merges)
    {
        var queue = bytes <= KeptBytes ? t_queue ??= new BpeSymbolQueue() : new BpeSymbolQueue();
        queue.Reserve(bytes, merges);
        return queue;
    }

    void Reserve(int bytes, int merges)
    {
        if (_nodes.Length < bytes)
        {
            int n = Math.Max(bytes, Math.Min(KeptBytes, 2 * _nodes.Length));   // grown by doubling, up to the kept size
            _nodes = new Node[n];
            _entries = new long[3L * n];
        }
        if (_head.Length < merges)
        {
            _head = new int[merges];
            Array.Fill(_head, -1);
            _bits = new ulong[(merges + 63) >> 6];
            _summary = new ulong[(_bits.Length + 63) >> 6];
        }
    }

    /// <summary>Merges <paramref name="bytes"/> as encoder.py would; then <see cref="Ids"/> or <see cref="AppendIds"/> give the symbols.</summary>
    public void Merge(BpeTokenizer bpe, ReadOnlySpan<byte> bytes)
    {
        int n = _n = bytes.Length;
        _count = 0;
        _low = 0;
        var ranks = bpe.Ranks;
        if (_nodes.Length < n || _entries.Length < 3L * n || _head.Length < ranks.Rounds.Length) throw new InvalidOperationException("the queue was not reserved for this span");
        // Past the check above every index below is in range (positions below n, entries below 3n, ranks below
        // the merge count), so the arrays are read without bounds checks: a long piece is a few loads per merge.
        ref Node nodes = ref MemoryMarshal.GetArrayDataReference(_nodes);
        ref long entries = ref MemoryMarshal.GetArrayDataReference(_entries);
        ref int head = ref MemoryMarshal.GetArrayDataReference(_head);
        ref readonly var rounds = ref MemoryMarshal.GetArrayDataReference(ranks.Rounds);
        for (int i = 0; i < n; i++)
        {
            ref Node node = ref Unsafe.Add(ref nodes, i);
            node.Sym = bpe.ByteId(bytes[i]);
            node.Size = 1;
            node.Rank = i + 1 < n ? List(ref entries, ref head, i, bpe.BytePairRank(bytes[i], bytes[i + 1])) : None;
        }

        for (int r = NextRank(0); r != None; r = NextRank(_low))
        {
            ref int first = ref Unsafe.Add(ref head, r);
            int e = first;
            first = -1;
            ClearBit(r);
            _low = r + 1;                                      // a pair made below r lowers it in List
            ref readonly var round = ref Unsafe.Add(ref Unsafe.AsRef(in rounds), r);
            if (Sse.IsSupported) Prefetch(ref head, in rounds, ranks, r, in round);
            bool run = round.Left == round.Right;
            while (e >= 0)
            {
                long entry = Unsafe.Add(ref entries, e);
                int p = (int)(entry >> 32);
                e = (int)entry;
                if (Unsafe.Add(ref nodes, p).Rank != r) continue;     // merged, absorbed or re-paired since it was listed
                if (!run)
                {
                    MergeAt(ref nodes, ref entries, ref head, ranks, p, in round);
                    continue;
                }
                while (p > 0 && Unsafe.Add(ref nodes, p - Unsafe.Add(ref nodes, p - 1).Size).Rank == r) p -= Unsafe.Add(ref nodes, p - 1).Size;
                for (; p < n && Unsafe.Add(ref nodes, p).Rank == r; p += Unsafe.Add(ref nodes, p).Size) MergeAt(ref nodes, ref entries, ref head, ranks, p, in round);
            }
        }
    }

    /// <summary>Appends the ids of the symbols, in order.</summary>
    public void AppendIds(List<int> into)
    {
        int first = into.Count, k = first;
        CollectionsMarshal.SetCount(into, first + _n);         // room for the most symbols there can be, then cut
        var ids = CollectionsMarshal.AsSpan(into);
        var nodes = _nodes;
        for (int i = 0; i < _n; i += nodes[i].Size) ids[k++] = nodes[i].Sym;
        CollectionsMarshal.SetCount(into, k);
    }

    /// <summary>The ids of the symbols, in order.</summary>
    public int[] Ids()
    {
        int count = 0;
        for (int i = 0; i < _n; i += _nodes[i].Size) count++;
        var ids = new int[count];
        for (int i = 0, k = 0; i < _n; i += _nodes[i].Size) ids[k++] = _nodes[i].Sym;
        return ids;
    }

    /// <summary>
    /// A round's loads are scattered over tables of megabytes: the bucket's head and the next round's record, which
    /// are asked for one round ahead (the next non-empty bucket, unless this round lists a lower one), and the
    /// merged token's tables of partners, asked for before this round's first merge looks them up.
    /// </summary>
    unsafe void Prefetch(ref int head, in BpeTokenizer.RankMaps.Round rounds, BpeTokenizer.RankMaps ranks, int r, in BpeTokenizer.RankMaps.Round round)
    {
        int next = NextRank(r + 1);
        if (next != None)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref head, next)));
            ref byte record = ref Unsafe.As<BpeTokenizer.RankMaps.Round, byte>(ref Unsafe.Add(ref Unsafe.AsRef(in rounds), next));
            Sse.Prefetch0(Unsafe.AsPointer(ref record));
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref record, Unsafe.SizeOf<BpeTokenizer.RankMaps.Round>() - 1)));
        }
        ranks.ByLeft.Prefetch(round.AfterOffset, round.AfterMask);
        ranks.ByRight.Prefetch(round.BeforeOffset, round.BeforeMask);
    }

    /// <summary>(symbol at p, symbol after it) -> merged, with the pairs on both sides re-ranked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void MergeAt(ref Node nodes, ref long entries, ref int head, BpeTokenizer.RankMaps ranks, int p, in BpeTokenizer.RankMaps.Round round)
    {
        ref Node at = ref Unsafe.Add(ref nodes, p);
        ref Node absorbed = ref Unsafe.Add(ref nodes, p + at.Size);
        int size = at.Size + absorbed.Size;
        absorbed.Rank = None;
        at.Sym = round.Merged;
        at.Size = size;
        Unsafe.Add(ref nodes, p + size - 1).Size = size;
        int next = p + size;
        at.Rank = next < _n && ranks.ByLeft.TryGetRank(round.AfterOffset, round.AfterMask, Unsafe.Add(ref nodes, next).Sym, out int r)
            ? List(ref entries, ref head, p, r) : None;
        if (p > 0)
        {
            int left = p - Unsafe.Add(ref nodes, p - 1).Size;
            ref Node before = ref Unsafe.Add(ref nodes, left);
            before.Rank = ranks.ByRight.TryGetRank(round.BeforeOffset, round.BeforeMask, before.Sym, out r) ? List(ref entries, ref head, left, r) : None;
        }
    }

    /// <summary>Lists <paramref name="pos"/> in bucket <paramref name="r"/> (unless r is None); returns r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    int List(ref long entries, ref int head, int pos, int r)
    {
        if (r == None) return None;
        int e = _count++;
        ref int first = ref Unsafe.Add(ref head, r);
        Unsafe.Add(ref entries, e) = (long)pos << 32 | (uint)first;
        if (first < 0) SetBit(r);
        first = e;
        if (r < _low) _low = r;
        return r;
    }

    void SetBit(int r)
    {
        _bits[r >> 6] |= 1UL << r;
        _summary[r >> 12] |= 1UL << (r >> 6);
    }

    void ClearBit(int r)
    {
        if ((_bits[r >> 6] &= ~(1UL << r)) == 0) _summary[r >> 12] &= ~(1UL << (r >> 6));
    }

    /// <summary>The lowest non-empty bucket at or above <paramref name="from"/>, or None.</summary>
    int NextRank(int from)
    {
        int w = from >> 6;
        if (w >= _bits.Length) return None;
        ulong bits = _bits[w] & (~0UL << from);
        if (bits != 0) return (w << 6) + BitOperations.TrailingZeroCount(bits);
        int next = w + 1;                                       // the next non-empty word, through the summary
        for (int s = next >> 6; s < _summary.Length; s++)
        {
            ulong words = _summary[s] & (s == next >> 6 ? ~0UL << next : ~0UL);
            if (words == 0) continue;
            int word = (s << 6) + BitOperations.TrailingZeroCount(words);
            return (word << 6) + BitOperations.TrailingZeroCount(_bits[word]);
        }
        return None;
    }
}
