using System.Numerics;

namespace Edge.Text;

/// <summary>
/// (left id, right id) -> int, the merge ranks the encoder looks up for every adjacent pair: open addressing
/// with linear probing over a power-of-two table, about half full. Keys are never removed. A key and its value
/// share a slot, so a lookup that hits reads one cache line.
/// </summary>
sealed class BpePairMap
{
    const long Empty = -1;                         // pairs of non-negative ids are never negative
    readonly Slot[] _slots;
    readonly int _mask;

    struct Slot
    {
        public long Key;
        public int Value;
    }

    public BpePairMap(int capacity)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity * 2));
        _slots = new Slot[size];
        _mask = size - 1;
        for (int i = 0; i < size; i++) _slots[i].Key = Empty;
    }

    public static long Pair(int left, int right) => (long)left << 32 | (uint)right;

    // long.GetHashCode xors the halves, so every pair with the same left ^ right would collide; this mixes them.
    internal static int Hash(long key) => (int)((ulong)key * 0x9E3779B97F4A7C15UL >> 32);

    int Home(long key) => Hash(key) & _mask;

    public bool TryGetValue(long key, out int value)
    {
        var slots = _slots;
        for (int i = Home(key); ; i = (i + 1) & _mask)
        {
            long k = slots[i].Key;
            if (k == key) { value = slots[i].Value; return true; }
            if (k == Empty) { value = 0; return false; }
        }
    }

    /// <summary>Adds or replaces; the table must stay below its capacity.</summary>
    public void Set(long key, int value)
    {
        int i = Home(key);
        while (_slots[i].Key != Empty && _slots[i].Key != key) i = (i + 1) & _mask;
        _slots[i].Key = key;
        _slots[i].Value = value;
    }
}

/// <summary>For dictionaries keyed by <see cref="BpePairMap.Pair"/>: a hash that mixes both ids.</summary>
sealed class BpePairComparer : IEqualityComparer<long>
{
    public static readonly BpePairComparer Instance = new();
    public bool Equals(long x, long y) => x == y;
    public int GetHashCode(long pair) => BpePairMap.Hash(pair);
}
