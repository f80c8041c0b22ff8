using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;

namespace Edge.Text;

/// <summary>
/// GPT-2's byte-level BPE, encoding exactly as OpenAI's encoder.py: text is split by GPT-2's regex
/// (<see cref="BpePreTokenizer"/>), each piece's UTF-8 bytes start as byte tokens, and merges apply by
/// rank, lowest first, every occurrence of the chosen pair left to right, until no pair has a rank.
/// Any byte string round-trips: <c>DecodeBytes(Encode(bytes))</c> gives the bytes back, valid UTF-8 or not.
/// Special tokens (<c>&lt;|endoftext|&gt;</c>) are vocab entries that no merge produces, or a tokenizer.json's
/// added tokens; with <c>allowSpecial</c> their text becomes their id. Encoding is thread-safe.
/// </summary>
public sealed partial class BpeTokenizer
{
    readonly string?[] _tokens;                    // id -> vocab string; null where the ids have a gap
    readonly Dictionary<string, int> _ids;
    readonly byte[] _tokenBytes;                   // every token's bytes, token i at [_offsets[i], _offsets[i + 1])
    readonly int[] _offsets;
    readonly int[] _byteIds = new int[256];        // byte -> id of its one-byte token
    readonly BpePairMap _ranks;                    // Pair(left, right) -> rank
    readonly long[] _mergePairs;                   // rank -> Pair(left, right)
    readonly int[] _mergeResults;                  // rank -> merged id
    readonly (byte[] Bytes, int Id)[] _specials;
    readonly bool _monotone;                       // see BpeTokenizer.LongPieces.cs
    readonly int[] _bytePairRanks;                 // (byte << 8 | byte) -> rank of the pair of byte tokens, or int.MaxValue
    // Piece -> ids. Most pieces are short, and a ulong key (the bytes, the length on top) hashes and compares
    // much faster than a byte span. _cached counts additions since the last clear (Count locks every bucket).
    readonly ConcurrentDictionary<ulong, int[]> _shortCache = new();
    readonly ConcurrentDictionary<byte[], int[]> _cache = new(ByteArrayComparer.Instance);
    readonly ConcurrentDictionary<byte[], int[]>.AlternateLookup<ReadOnlySpan<byte>> _cacheLookup;
    int _cached;
    const int CacheLimit = 1 << 18, ShortPiece = 7, CachedPiece = 64;

    static long Pair(int left, int right) => BpePairMap.Pair(left, right);

    /// <summary>
    /// From parsed files: <paramref name="vocab"/> as (string, id), <paramref name="merges"/> in rank order,
    /// <paramref name="added"/> from tokenizer.json (null: specials are the tokens no merge produces).
    /// Problems with the vocab name <paramref name="vocabPath"/>, problems with a merge <paramref name="mergesPath"/>.
    /// </summary>
    BpeTokenizer(string vocabPath, string mergesPath, List<(string Token, int Id)> vocab,
        List<(string Left, string Right)> merges, List<(string Token, int Id)>? added)
    {
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (vocab.Count == 0) throw new EdgeException($"{vocabPath}: the vocab is empty");
        if (merges.Count == 0) throw new EdgeException($"{mergesPath}: there are no merges");

        int maxId = 0;
        foreach (var (_, id) in vocab) maxId = Math.Max(maxId, id);
        foreach (var (_, id) in added ?? []) maxId = Math.Max(maxId, id);
        if (maxId >= 1 << 24) throw new EdgeException($"{vocabPath}: token id {maxId} is out of range (ids must be below {1 << 24})");
        _tokens = new string?[maxId + 1];
        _ids = new Dictionary<string, int>(vocab.Count);
        foreach (var (token, id) in vocab)
        {
            if (id < 0) throw new EdgeException($"{vocabPath}: token {Quote(token)} has a negative id ({id})");
            if (_tokens[id] is string other) throw new EdgeException($"{vocabPath}: duplicate id {id} (tokens {Quote(other)} and {Quote(token)})");
            if (!_ids.TryAdd(token, id)) throw new EdgeException($"{vocabPath}: duplicate token {Quote(token)}");
            _tokens[id] = token;
        }

        for (int b = 0; b < 256; b++)
            if (!_ids.TryGetValue(BpePreTokenizer.ByteChars[b].ToString(), out _byteIds[b]))
                throw new EdgeException($"{vocabPath}: the vocab lacks the byte-level token {Quote(BpePreTokenizer.ByteChars[b].ToString())} for byte 0x{b:X2}; this is not a GPT-2 style byte-level BPE vocab");

        _ranks = new BpePairMap(merges.Count, merges.Count - 1);
        _mergePairs = new long[merges.Count];
        _mergeResults = new int[merges.Count];
        var produced = new bool[_tokens.Length];
        for (int r = 0; r < merges.Count; r++)
        {
            var (a, b) = merges[r];
            string ab = a + b;
            string? missing = !_ids.ContainsKey(a) ? a : !_ids.ContainsKey(b) ? b : !_ids.ContainsKey(ab) ? ab : null;
            if (missing is not null)
                throw new EdgeException($"{mergesPath}: vocab does not cover merge {r + 1}: {Quote(a + " " + b)} (no token {Quote(missing)})");
            long pair = Pair(_ids[a], _ids[b]);
            _ranks.Set(pair, r);                   // a repeated merge keeps its last rank, as in encoder.py's dict
            _mergePairs[r] = pair;
            produced[_mergeResults[r] = _ids[ab]] = true;
        }
        foreach (int id in _byteIds) produced[id] = true;
        _monotone = ComputeMonotone();
        _bytePairRanks = BuildBytePairRanks();

        var specials = new List<(byte[], int)>();
        if (added is null)
        {
            for (int id = 0; id < _tokens.Length; id++)
                if (_tokens[id] is { Length: > 0 } s && !produced[id]) specials.Add((Encoding.UTF8.GetBytes(s), id));
        }
        else
        {
            foreach (var (token, id) in added)
            {
                if (id < 0) throw new EdgeException($"{vocabPath}: added token {Quote(token)} has a negative id ({id})");
                if (_ids.TryGetValue(token, out int known) && known != id)
                    throw new EdgeException($"{vocabPath}: added token {Quote(token)} has id {id} but the vocab gives it {known}");
                if (_tokens[id] is string other && other != token)
                    throw new EdgeException($"{vocabPath}: added token {Quote(token)} has id {id}, which the vocab gives to {Quote(other)}");
                _tokens[id] = token;
                _ids[token] = id;
                if (token.Length > 0) specials.Add((Encoding.UTF8.GetBytes(token), id));
            }
        }
        _specials = [.. specials];
        if (_ids.TryGetValue("<|endoftext|>", out int eot)) EndOfText = eot;

        // Token bytes: a byte-level string maps back through bytes_to_unicode; a special token that no merge
        // produces (and any stray string outside the byte alphabet) stands for its UTF-8 text.
        _offsets = new int[_tokens.Length + 1];
        var all = new List<byte>(_tokens.Length * 8);
        var isText = new bool[_tokens.Length];
        foreach (var (_, id) in _specials) isText[id] = !produced[id];
        for (int id = 0; id < _tokens.Length; id++)
        {
            if (_tokens[id] is string s)
                all.AddRange(!isText[id] && BpePreTokenizer.ToBytes(s) is byte[] bytes ? bytes : Encoding.UTF8.GetBytes(s));
            _offsets[id + 1] = all.Count;
        }
        _tokenBytes = [.. all];
    }

    /// <summary>One more than the largest id (the size of a model's embedding table).</summary>
    public int VocabSize => _tokens.Length;

    public int MergeCount => _mergePairs.Length;

    /// <summary>The id of <c>&lt;|endoftext|&gt;</c>, when the vocab has it.</summary>
    public int? EndOfText { get; }

    /// <summary>The special tokens' text, in id order.</summary>
    public IReadOnlyList<string> SpecialTokens => _specials.OrderBy(s => s.Id).Select(s => _tokens[s.Id]!).ToArray();

    /// <summary>The vocab string of <paramref name="id"/> (byte-level form: 'Ġ' for a leading space).</summary>
    public string Token(int id) => (uint)id < (uint)_tokens.Length && _tokens[id] is string s ? s : throw BadId(id);

    /// <summary>The bytes <paramref name="id"/> stands for.</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) =>
        (uint)id < (uint)_tokens.Length && _tokens[id] is not null ? _tokenBytes.AsSpan(_offsets[id], _offsets[id + 1] - _offsets[id]) : throw BadId(id);

    public bool TryGetId(string token, out int id) => _ids.TryGetValue(token, out id);

    /// <summary>The ids of <paramref name="text"/>; with <paramref name="allowSpecial"/> a special token's text becomes its id.</summary>
    public int[] Encode(string text, bool allowSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        Encode(text, ids, allowSpecial);
        return [.. ids];
    }

    /// <summary>Appends the ids of <paramref name="text"/> (an unpaired surrogate encodes as U+FFFD).</summary>
    public void Encode(string text, List<int> into, bool allowSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Normalization == TextNormalization.Nfc) text = Nfc.Normalize(text);
        // Long texts: the exact UTF-8 length (one vectorised pass) rather than three bytes a character.
        int bytes = text.Length <= 1 << 16 ? Encoding.UTF8.GetMaxByteCount(text.Length) : Encoding.UTF8.GetByteCount(text);
        byte[] rented = ArrayPool<byte>.Shared.Rent(bytes);
        try { Encode(rented.AsSpan(0, Encoding.UTF8.GetBytes(text, rented)), into, allowSpecial); }
        finally { ArrayPool<byte>.Shared.Return(rented); }
    }

    /// <summary>Any bytes, valid UTF-8 or not; <see cref="DecodeBytes"/> gives them back.</summary>
    public int[] Encode(ReadOnlySpan<byte> utf8, bool allowSpecial = true)
    {
        var ids = new List<int>(utf8.Length / 3 + 4);
        Encode(utf8, ids, allowSpecial);
        return [.. ids];
    }

    public void Encode(ReadOnlySpan<byte> utf8, List<int> into, bool allowSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (!allowSpecial || _specials.Length == 0) { EncodeOrdinary(utf8, into); return; }
        for (int at; (at = NextSpecial(utf8, _specials, out int length, out int id)) >= 0; utf8 = utf8[(at + length)..])
        {
            EncodeOrdinary(utf8[..at], into);
            into.Add(id);
        }
        EncodeOrdinary(utf8, into);
    }

    void EncodeOrdinary(ReadOnlySpan<byte> s, List<int> into)
    {
        for (int i = 0, end; i < s.Length; i = end)
        {
            end = Split == ByteLevelSplit.Gpt2 ? BpePreTokenizer.PieceEnd(s, i) : ByteLevelSplits.PieceEnd(Split, s, i);
            EncodePiece(s[i..end], into);
        }
    }

    void EncodePiece(ReadOnlySpan<byte> piece, List<int> into)
    {
        if (piece.Length == 1) { into.Add(_byteIds[piece[0]]); return; }
        ulong key = (ulong)piece.Length << 56;
        if (piece.Length <= ShortPiece)
            for (int i = 0; i < piece.Length; i++) key |= (ulong)piece[i] << (8 * i);
        if (piece.Length <= ShortPiece ? _shortCache.TryGetValue(key, out var ids) : _cacheLookup.TryGetValue(piece, out ids))
        {
            into.AddRange(ids);
            return;
        }

        if (piece.Length > QueueThreshold)
        {
            int first = into.Count;
            MergeLong(piece, into);
            if (piece.Length > CachedPiece) return;
            ids = CollectionsMarshal.AsSpan(into)[first..].ToArray();
        }
        else
        {
            int[]? rented = piece.Length > 256 ? ArrayPool<int>.Shared.Rent(piece.Length) : null;    // a test may raise the threshold
            Span<int> word = rented is null ? stackalloc int[piece.Length] : rented.AsSpan(0, piece.Length);
            for (int i = 0; i < piece.Length; i++) word[i] = _byteIds[piece[i]];
            ids = word[..MergeByScan(word)].ToArray();
            if (rented is not null) ArrayPool<int>.Shared.Return(rented);
            into.AddRange(ids);
        }

        bool added = piece.Length <= ShortPiece ? _shortCache.TryAdd(key, ids) : piece.Length <= CachedPiece && _cacheLookup.TryAdd(piece, ids);
        if (added && Interlocked.Increment(ref _cached) >= CacheLimit)
        {
            _shortCache.Clear();
            _cache.Clear();
            _cached = 0;
        }
    }

    /// <summary>
    /// encoder.py's bpe(): find the lowest-ranked adjacent pair, merge all its occurrences left to right, repeat.
    /// rank[i] holds the rank of pair (w[i], w[i + 1]) and is looked up again only next to a merge.
    /// </summary>
    int MergeByScan(Span<int> w)
    {
        const int None = int.MaxValue, Stale = -1;
        int n = w.Length;
        Span<int> rank = n <= 256 ? stackalloc int[n] : new int[n];
        for (int i = 0; i < n; i++) rank[i] = Stale;
        while (true)
        {
            int best = None;
            for (int i = 0; i < n; i++)
            {
                if (rank[i] == Stale) rank[i] = i + 1 < n && _ranks.TryGetValue(Pair(w[i], w[i + 1]), out int r) ? r : None;
                if (rank[i] < best) best = rank[i];
            }
            if (best == None) return n;
            int merged = _mergeResults[best], o = 0;
            for (int i = 0; i < n; o++)
            {
                if (rank[i] == best)
                {
                    w[o] = merged;
                    rank[o] = Stale;
                    if (o > 0) rank[o - 1] = Stale;
                    i += 2;
                }
                else
                {
                    w[o] = w[i];
                    rank[o] = rank[i++];
                }
            }
            n = o;
        }
    }

    public byte[] DecodeBytes(ReadOnlySpan<int> ids)
    {
        int total = 0;
        foreach (int id in ids) total += TokenBytes(id).Length;
        var bytes = new byte[total];
        int at = 0;
        foreach (int id in ids)
        {
            var t = TokenBytes(id);
            t.CopyTo(bytes.AsSpan(at));
            at += t.Length;
        }
        return bytes;
    }

    /// <summary>The text of <paramref name="ids"/>; bytes that are not valid UTF-8 become U+FFFD.</summary>
    public string Decode(ReadOnlySpan<int> ids) => Encoding.UTF8.GetString(DecodeBytes(ids));

    EdgeException BadId(int id) => new($"token id {id} is not in the vocabulary (size {_tokens.Length})");

    /// <summary>'text' with control characters escaped, so a message stays on one line.</summary>
    static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('\'');
        foreach (char c in s.Length > 80 ? s[..80] + "…" : s)
        {
            if (char.IsControl(c) || char.IsSurrogate(c)) sb.Append($"\\u{(int)c:X4}");
            else sb.Append(c);
        }
        return sb.Append('\'').ToString();
    }

    internal sealed class ByteArrayComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly ByteArrayComparer Instance = new();
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] bytes) => GetHashCode((ReadOnlySpan<byte>)bytes);
        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var h = new HashCode();
            h.AddBytes(alternate);
            return h.ToHashCode();
        }
        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
