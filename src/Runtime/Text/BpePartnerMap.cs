using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Edge.Text;

/// <summary>
/// Merge ranks grouped by one side of the pair: for each token, a small open-addressed table of (other token,
/// rank) for the merges it takes part in on that side, all tables in one array. A round of the bucket queue merges
/// every occurrence of one pair into the same token m, then looks up (m, right neighbour) and (left neighbour, m)
/// for each: in a map keyed by m's side those lookups stay in m's few cache lines, where the whole-vocab table
/// (<see cref="BpePairMap"/>) scatters them over a megabyte. A token in no merge on that side answers at once.
/// Slots are ulong (other id &lt;&lt; 32 | rank), empty = ulong.MaxValue; a table holds twice its entries, rounded
/// up to a power of two.
/// </summary>
sealed class BpePartnerMap
{
    const ulong Empty = ulong.MaxValue;
    readonly int[] _offset;                        // token -> its table's first slot
    readonly int[] _mask;                          // token -> its table's size - 1, or -1 (no merges on this side)
    readonly ulong[] _slots;

    /// <param name="merges">Each effective merge once: (left, right, rank).</param>
    /// <param name="byLeft">Key each merge by its left token (else by its right one).</param>
    public BpePartnerMap(int vocabSize, IReadOnlyList<(int Left, int Right, int Rank)> merges, bool byLeft)
    {
        var count = new int[vocabSize];
        foreach (var (left, right, _) in merges) count[byLeft ? left : right]++;
        _offset = new int[vocabSize];
        _mask = new int[vocabSize];
        int total = 0;
        for (int t = 0; t < vocabSize; t++)
        {
            if (count[t] == 0) { _mask[t] = -1; continue; }
            int size = (int)BitOperations.RoundUpToPowerOf2((uint)(2 * count[t]));
            _offset[t] = total;
            _mask[t] = size - 1;
            total += size;
        }
        _slots = new ulong[total];
        Array.Fill(_slots, Empty);
        foreach (var (left, right, rank) in merges)
        {
            int key = byLeft ? left : right, other = byLeft ? right : left;
            int mask = _mask[key], offset = _offset[key];
            int i = Hash(other) & mask;
            while (_slots[offset + i] != Empty) i = (i + 1) & mask;
            _slots[offset + i] = (ulong)(uint)other << 32 | (uint)rank;
        }
    }

    static int Hash(int id) => (int)((uint)id * 0x9E3779B9u >> 8);

    /// <summary>The rank of the merge of <paramref name="key"/> (on this map's side) with <paramref name="other"/>.</summary>
    public bool TryGetRank(int key, int other, out int rank) => TryGetRank(_offset[key], _mask[key], other, out rank);

    /// <summary><paramref name="key"/>'s table, for callers that look up many pairs with one key (<see cref="TryGetRank(int, int, int, out int)"/>).</summary>
    public (int Offset, int Mask) Table(int key) => (_offset[key], _mask[key]);

    /// <summary>Asks for the first and last cache lines of the table at <paramref name="offset"/> (all of a small one).</summary>
    public unsafe void Prefetch(int offset, int mask)
    {
        if (mask < 0) return;
        ref ulong table = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), offset);
        Sse.Prefetch0(Unsafe.AsPointer(ref table));
        Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref table, mask)));
    }

    /// <summary>The rank of (the table's key, <paramref name="other"/>), from the table at <paramref name="offset"/> with <paramref name="mask"/>.</summary>
    public bool TryGetRank(int offset, int mask, int other, out int rank)
    {
        if (mask >= 0)
        {
            // The table at offset is in _slots (Table gave both), and probing stops at its first empty slot.
            ref ulong table = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), offset);
            for (int i = Hash(other) & mask; ; i = (i + 1) & mask)
            {
                ulong slot = Unsafe.Add(ref table, i);
                if (slot == Empty) break;
                if ((uint)(slot >> 32) == (uint)other) { rank = (int)(uint)slot; return true; }
            }
        }
        rank = 0;
        return false;
    }
}
