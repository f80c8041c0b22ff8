using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Edge.Text;

/// <summary>
/// The merged windows of long pieces, kept by their bytes as short pieces' ids are, and where windows end.
///
/// A window of width W that starts at a proved boundary ends at the first anchor in [W/2, W): a byte where a gear
/// hash of the 64 bytes before it has its top <see cref="AnchorBits"/> bits clear (FastCDC's content-defined
/// chunking), or at W when there is none. An anchor depends on nothing but the bytes around it, so when a long
/// word repeats itself (a run of a pattern, a text pasted twice) its windows fall at the same places again and
/// each distinct window is merged once; the boundaries proved inside it are still checked against what follows
/// it every time. Entries are (window bytes -> the ids of merging them alone); past <see cref="ByteBudget"/>
/// (keys and ids together) the cache starts again empty. A cache that filled up without a single hit (a word that
/// never repeats, random letters) turns sparse: a merged window is then added only one time in
/// <see cref="SparseKeep"/>, the others go straight to the caller's list, so a word that repeats nothing does
/// not copy and keep every window it merges; a repeat still hits one of the windows kept, and the first hit
/// makes the cache keep every window again.
/// </summary>
sealed class BpeWindowCache
{
    const int AnchorBits = 12;                     // an anchor every 4 KB on average
    const long ByteBudget = 32L << 20;
    const int SparseKeep = 16;
    static readonly ulong[] Gear = BuildGear();

    readonly ConcurrentDictionary<byte[], int[]> _windows = new(BpeTokenizer.ByteArrayComparer.Instance);
    readonly ConcurrentDictionary<byte[], int[]>.AlternateLookup<ReadOnlySpan<byte>> _lookup;
    long _bytes;
    long _passed;                                  // windows offered while sparse
    volatile bool _hit;                            // a lookup has hit since the cache last started empty
    volatile bool _sparse;                         // it last filled up without a hit, and nothing has hit since

    public BpeWindowCache() => _lookup = _windows.GetAlternateLookup<ReadOnlySpan<byte>>();

    /// <summary>How long the window of width <paramref name="width"/> at the start of <paramref name="span"/> is (all of a shorter span).</summary>
    public static int End(ReadOnlySpan<byte> span, int width)
    {
        if (span.Length <= width) return span.Length;
        int from = width / 2;
        ulong h = 0;
        for (int i = Math.Max(0, from - 64); i < width; i++)
        {
            h = (h << 1) + Gear[span[i]];
            if (i >= from && h >> (64 - AnchorBits) == 0) return i + 1;
        }
        return width;
    }

    public bool TryGet(ReadOnlySpan<byte> window, [NotNullWhen(true)] out int[]? ids)
    {
        if (!_lookup.TryGetValue(window, out ids)) return false;
        if (!_hit) _hit = true;
        if (_sparse) _sparse = false;
        return true;
    }

    /// <summary>Whether a window just merged should be added: every one, or one in <see cref="SparseKeep"/> while the cache is sparse.</summary>
    public bool Keeps() => !_sparse || Interlocked.Increment(ref _passed) % SparseKeep == 0;

    public void Add(ReadOnlySpan<byte> window, int[] ids)
    {
        if (!_lookup.TryAdd(window, ids)) return;
        if (Interlocked.Add(ref _bytes, window.Length + 4L * ids.Length) > ByteBudget)
        {
            _sparse = !_hit;
            _hit = false;
            _windows.Clear();
            Interlocked.Exchange(ref _bytes, 0);
        }
    }

    /// <summary>256 fixed pseudo-random words (SplitMix64 from a constant seed), one per byte value.</summary>
    static ulong[] BuildGear()
    {
        var gear = new ulong[256];
        ulong state = 0x243F6A8885A308D3;
        for (int i = 0; i < gear.Length; i++)
        {
            ulong z = state += 0x9E3779B97F4A7C15;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            gear[i] = z ^ (z >> 31);
        }
        return gear;
    }
}
