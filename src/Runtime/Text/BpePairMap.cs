using System.Numerics;

namespace Edge.Text;

/// <summary>
/// (left id, right id) -> rank, which the encoder looks up for every adjacent pair: open addressing with linear
/// probing over a power-of-two table, about half full. Keys are never removed. With ranks below 65535 (GPT-2 has
/// 50,000) a slot is one ulong, (left: 24 bits, right: 24 bits, rank: 16 bits), so GPT-2's table is 1 MB and a
/// lookup reads one cache line; a long piece's merges are bound by these lookups. Larger merge lists keep a key
/// and its value side by side in 16 bytes. Ids are below 2^24 (the tokenizer refuses others).
/// </summary>
sealed class BpePairMap
{
    const ulong EmptyPacked = ulong.MaxValue;      // would be pair (2^24 - 1, 2^24 - 1) at rank 65535, never stored
    const long EmptyWide = -1;                     // pairs of non-negative ids are never negative
    readonly ulong[]? _packed;
    readonly Slot[]? _wide;
    readonly int _mask;

    struct Slot
    {
        public long Key;
        public int Value;
    }

    /// <param name="capacity">The most keys the map will hold.</param>
    /// <param name="maxValue">The largest value that will be stored.</param>
    public BpePairMap(int capacity, int maxValue)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity * 2));
        _mask = size - 1;
        if (maxValue < 0xFFFF)
        {
            _packed = new ulong[size];
            Array.Fill(_packed, EmptyPacked);
        }
        else
        {
            _wide = new Slot[size];
            for (int i = 0; i < size; i++) _wide[i].Key = EmptyWide;
        }
    }

    public static long Pair(int left, int right) => (long)left << 32 | (uint)right;

    // long.GetHashCode xors the halves, so every pair with the same left ^ right would collide; this mixes them.
    internal static int Hash(long key) => (int)((ulong)key * 0x9E3779B97F4A7C15UL >> 32);

    static ulong PackedKey(long key) => (ulong)(key >> 32) << 40 | (ulong)(uint)key << 16;

    public bool TryGetValue(long key, out int value)
    {
        int i = Hash(key) & _mask;
        if (_packed is { } packed)
        {
            ulong k = PackedKey(key);
            for (; ; i = (i + 1) & _mask)
            {
                ulong slot = packed[i];
                if ((slot & ~0xFFFFUL) == k && slot != EmptyPacked) { value = (int)(slot & 0xFFFF); return true; }
                if (slot == EmptyPacked) { value = 0; return false; }
            }
        }
        var wide = _wide!;
        for (; ; i = (i + 1) & _mask)
        {
            long k = wide[i].Key;
            if (k == key) { value = wide[i].Value; return true; }
            if (k == EmptyWide) { value = 0; return false; }
        }
    }

    /// <summary>Adds or replaces; the table must stay below its capacity.</summary>
    public void Set(long key, int value)
    {
        int i = Hash(key) & _mask;
        if (_packed is { } packed)
        {
            ulong k = PackedKey(key);
            while (packed[i] != EmptyPacked && (packed[i] & ~0xFFFFUL) != k) i = (i + 1) & _mask;
            packed[i] = k | (uint)value;
            return;
        }
        var wide = _wide!;
        while (wide[i].Key != EmptyWide && wide[i].Key != key) i = (i + 1) & _mask;
        wide[i].Key = key;
        wide[i].Value = value;
    }
}

/// <summary>For dictionaries keyed by <see cref="BpePairMap.Pair"/>: a hash that mixes both ids.</summary>
sealed class BpePairComparer : IEqualityComparer<long>
{
    public static readonly BpePairComparer Instance = new();
    public bool Equals(long x, long y) => x == y;
    public int GetHashCode(long pair) => BpePairMap.Hash(pair);
}
