using System.Numerics;

namespace Edge.Text;

/// <summary>
/// (left id, right id) -> int, the merge ranks the encoder looks up for every adjacent pair: open addressing
/// with linear probing over a power-of-two table, about half full. Keys are never removed.
/// </summary>
sealed class BpePairMap
{
    const long Empty = -1;                         // pairs of non-negative ids are never negative
    readonly long[] _keys;
    readonly int[] _values;
    readonly int _mask;

    public BpePairMap(int capacity)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity * 2));
        _keys = new long[size];
        _values = new int[size];
        _mask = size - 1;
        Array.Fill(_keys, Empty);
    }

    public static long Pair(int left, int right) => (long)left << 32 | (uint)right;

    // long.GetHashCode xors the halves, so every pair with the same left ^ right would collide; this mixes them.
    internal static int Hash(long key) => (int)((ulong)key * 0x9E3779B97F4A7C15UL >> 32);

    int Slot(long key) => Hash(key) & _mask;

    public bool TryGetValue(long key, out int value)
    {
        for (int i = Slot(key); ; i = (i + 1) & _mask)
        {
            long k = _keys[i];
            if (k == key) { value = _values[i]; return true; }
            if (k == Empty) { value = 0; return false; }
        }
    }

    /// <summary>Adds or replaces; the table must stay below its capacity.</summary>
    public void Set(long key, int value)
    {
        int i = Slot(key);
        while (_keys[i] != Empty && _keys[i] != key) i = (i + 1) & _mask;
        _keys[i] = key;
        _values[i] = value;
    }
}

/// <summary>For dictionaries keyed by <see cref="BpePairMap.Pair"/>: a hash that mixes both ids.</summary>
sealed class BpePairComparer : IEqualityComparer<long>
{
    public static readonly BpePairComparer Instance = new();
    public bool Equals(long x, long y) => x == y;
    public int GetHashCode(long pair) => BpePairMap.Hash(pair);
}
