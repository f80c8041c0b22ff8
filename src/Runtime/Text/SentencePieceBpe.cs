using System.Buffers;
using System.Text;

namespace Edge.Text;

/// <summary>
/// SentencePiece-style BPE with byte fallback, the Llama family's tokenizer, from any of its three files:
/// SentencePiece's <c>tokenizer.model</c>, Hugging Face's <c>tokenizer.json</c> (a BPE model with
/// <c>byte_fallback</c>) and llama2.c's <c>tokenizer.bin</c>. Text is normalised (spaces become '▁', a dummy-prefix
/// '▁' goes in front), split into characters (code points), and adjacent symbols merge, best pair first and leftmost
/// on ties, until no pair merges; a character the vocabulary lacks becomes its UTF-8 bytes as <c>&lt;0xXX&gt;</c> tokens.
/// What "best" means is the file's: the highest score of the merged piece (SentencePiece, llama2.c) or the lowest
/// rank in the merges list (Hugging Face).
/// <para>
/// <see cref="Encode(string)"/> starts with BOS when the source does (SentencePiece's and llama2.c's files: as Hugging
/// Face's LlamaTokenizer and llama2.c's run.c prompt; tokenizer.json: when its post-processor's template puts it
/// there); <see cref="EncodeWithoutBos"/> gives SentencePiece's own <c>encode</c>. <see cref="StartToken"/> is BOS.
/// Encoding allocates (symbol arrays, a heap); <see cref="TokenBytes"/> does not.
/// </para>
/// </summary>
public sealed partial class SentencePieceBpe : ITokenizer
{
    /// <summary>Which file the vocabulary came from; it decides how pairs merge and how text decodes.</summary>
    public enum Source { SentencePiece, HuggingFace, Llama2c }

    /// <summary>A piece's kind, as SentencePiece's ModelProto names them.</summary>
    public enum PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

    public const char Space = '\u2581';

    readonly Source _source;
    readonly string _path;
    readonly string[] _pieces;                 // id -> piece text as the file has it ('▁' for spaces; llama2.c: ' ')
    readonly PieceType[] _types;
    readonly int[] _order;                     // id -> merge priority for score-ranked sources: 0 for the highest score
    readonly Dictionary<string, int> _mergeable;   // piece text -> id of the pieces a merge may produce (or a character maps to)
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _mergeableLookup;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _characterLookup;   // a character's own piece
    readonly int _maxPieceLength;
    readonly BpePairMap? _ranks;               // Hugging Face: Pair(left, right) -> rank
    readonly int[] _rankResults = [];          // rank -> merged id
    readonly int[] _byteIds = new int[256];    // byte -> id of <0xXX>, -1 when absent
    readonly byte[] _tokenBytes;               // id -> the bytes it decodes to, token i at [_offsets[i], _offsets[i + 1])
    readonly int[] _offsets;
    readonly string[] _userDefined;            // SentencePiece's user-defined pieces, longest first (matched whole in text)
    readonly (string Text, int Id)[] _specials;   // tokenizer.json's added tokens, matched whole in text
    readonly Options _options;

    /// <summary>How text becomes symbols and ids become text (everything a file says beyond its pieces).</summary>
    internal sealed record Options
    {
        public int? Bos { get; init; }
        public int? Eos { get; init; }
        public int? Unknown { get; init; }
        public bool AddBos { get; init; } = true;
        public int[] AddAfter { get; init; } = [];
        public bool ByteFallback { get; init; } = true;

        // SentencePiece's normalizer (identity rules).
        public bool AddDummyPrefix { get; init; } = true;
        public bool RemoveExtraWhitespaces { get; init; }
        public bool EscapeWhitespaces { get; init; } = true;
        public string UnknownSurface { get; init; } = " \u2047 ";

        // Hugging Face: the normalizer's steps, the Metaspace pre-tokenizer, the BPE model's flags, the decoder.
        public IReadOnlyList<(string? Prepend, string? Pattern, string? Content)> Normalizer { get; init; } = [];
        public Metaspace? PreTokenizer { get; init; }
        public bool FuseUnknown { get; init; }
        public bool IgnoreMerges { get; init; }
        public int StripLeading { get; init; }
        public int StripTrailing { get; init; }
    }

    /// <summary>Hugging Face's Metaspace pre-tokenizer: spaces become the replacement, a prefix goes in front.</summary>
    internal sealed record Metaspace(char Replacement, PrependScheme Prepend, bool Split);

    internal enum PrependScheme { Always, First, Never }

    SentencePieceBpe(Source source, string path, string[] pieces, float[]? scores, PieceType[] types,
        IReadOnlyList<(int Left, int Right, int Result)>? merges, (string, int)[] specials, Options options)
    {
        _source = source;
        _path = path;
        _pieces = pieces;
        _types = types;
        _options = options;
        _specials = specials;
        int n = pieces.Length;
        if (n == 0) throw new EdgeException($"{path}: the vocabulary is empty");
        foreach (var (name, id) in new[] { ("BOS", options.Bos), ("EOS", options.Eos), ("unknown", options.Unknown) })
            if (id is int i && (uint)i >= (uint)n) throw new EdgeException($"{path}: the {name} id {i} is outside the vocabulary (size {n})");
        foreach (var (_, id) in specials)
            if ((uint)id >= (uint)n) throw new EdgeException($"{path}: added token id {id} is outside the vocabulary (size {n})");

        _mergeable = new Dictionary<string, int>(n);
        for (int id = 0; id < n; id++)
        {
            bool mergeable = source switch
            {
                Source.Llama2c => scores![id] > -1e10f,          // run.c merges into any piece that beats its starting score
                Source.SentencePiece => types[id] is PieceType.Normal or PieceType.UserDefined or PieceType.Unused,
                _ => types[id] is not PieceType.Control,
            };
            if (mergeable && pieces[id].Length > 0) _mergeable.TryAdd(pieces[id], id);   // a repeated piece keeps its first id
            _maxPieceLength = Math.Max(_maxPieceLength, pieces[id].Length);
        }
        _mergeableLookup = _mergeable.GetAlternateLookup<ReadOnlySpan<char>>();
        if (source == Source.Llama2c)
        {
            // run.c looks a character up among all pieces, whatever their score.
            var everything = new Dictionary<string, int>(n);
            for (int id = 0; id < n; id++) everything.TryAdd(pieces[id], id);
            _characterLookup = everything.GetAlternateLookup<ReadOnlySpan<char>>();
        }
        else _characterLookup = _mergeableLookup;
        _userDefined = [.. Enumerable.Range(0, n).Where(i => types[i] == PieceType.UserDefined && pieces[i].Length > 0)
            .Select(i => pieces[i]).OrderByDescending(p => p.Length)];

        // Score-ranked merging: the distinct scores, best first, as small integers for the heap.
        _order = new int[n];
        if (scores is not null)
        {
            var distinct = scores.Distinct().OrderByDescending(s => s).Select((s, i) => (s, i)).ToDictionary(x => x.s, x => x.i);
            for (int id = 0; id < n; id++) _order[id] = distinct[scores[id]];
        }
        if (merges is not null)
        {
            _ranks = new BpePairMap(merges.Count, merges.Count - 1);
            _rankResults = new int[merges.Count];
            for (int r = 0; r < merges.Count; r++)           // a repeated pair keeps its last rank (Hugging Face builds a map)
            {
                _ranks.Set(BpePairMap.Pair(merges[r].Left, merges[r].Right), r);
                _rankResults[r] = merges[r].Result;
            }
        }

        Array.Fill(_byteIds, -1);
        for (int id = 0; id < n; id++)
        {
            if (types[id] != PieceType.Byte) continue;
            int b = ByteOf(pieces[id]) ?? throw new EdgeException($"{path}: piece {id} ('{EdgeException.OneLine(pieces[id])}') is a byte piece but not <0xXX>");
            if (_byteIds[b] < 0) _byteIds[b] = id;
        }
        if (options.ByteFallback)
            for (int b = 0; b < 256; b++)
                if (_byteIds[b] < 0) throw new EdgeException($"{path}: byte fallback needs the piece <0x{b:X2}>, which the vocabulary lacks");

        // What each id decodes to. Control pieces (BOS, EOS, added specials) decode to nothing, as SentencePiece
        // and Hugging Face's decode(skip_special_tokens) have it.
        _offsets = new int[n + 1];
        var all = new List<byte>(n * 6);
        for (int id = 0; id < n; id++)
        {
            switch (types[id])
            {
                case PieceType.Byte: all.Add((byte)ByteOf(pieces[id])!.Value); break;
                case PieceType.Control: break;
                case PieceType.Unknown:
                    all.AddRange(Encoding.UTF8.GetBytes(source == Source.SentencePiece ? options.UnknownSurface : source == Source.Llama2c ? pieces[id] : ""));
                    break;
                default: all.AddRange(Encoding.UTF8.GetBytes(source == Source.Llama2c ? pieces[id] : pieces[id].Replace(Space, ' '))); break;
            }
            _offsets[id + 1] = all.Count;
        }
        _tokenBytes = [.. all];
    }

    public int VocabSize => _pieces.Length;

    /// <summary>BOS (where generation starts), else EOS, else 0.</summary>
    public int StartToken => _options.Bos ?? _options.Eos ?? 0;

    public int? Bos => _options.Bos;

    public int? Eos => _options.Eos;

    public Source From => _source;

    /// <summary>The piece as the file spells it ('▁' for a space; llama2.c's files: ' ').</summary>
    public string Piece(int id) => (uint)id < (uint)_pieces.Length ? _pieces[id] : throw BadId(id);

    public PieceType Type(int id) => (uint)id < (uint)_types.Length ? _types[id] : throw BadId(id);

    /// <summary>The bytes <paramref name="id"/> decodes to ('▁' as a space, &lt;0xXX&gt; as its byte, control pieces as nothing).</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) =>
        (uint)id < (uint)_pieces.Length ? _tokenBytes.AsSpan(_offsets[id], _offsets[id + 1] - _offsets[id]) : throw BadId(id);

    /// <summary>The ids of <paramref name="text"/>, BOS first when the source adds it (see the class summary).</summary>
    public int[] Encode(string text) => Encode(text, _options.AddBos);

    /// <summary>The ids without BOS (SentencePiece's <c>encode</c>; Hugging Face's with add_special_tokens=False).</summary>
    public int[] EncodeWithoutBos(string text) => Encode(text, false);

    int[] Encode(string text, bool addTemplate)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addTemplate && _options.Bos is int bos) ids.Add(bos);
        text = WithoutLoneSurrogates(text);
        switch (_source)
        {
            case Source.HuggingFace: EncodeHuggingFace(text, ids); break;
            case Source.Llama2c:
                if (text.Length > 0) EncodeNormalized(" " + text, ids);        // run.c's dummy prefix, a space token merged like any other
                break;
            default: EncodeNormalized(NormalizeSentencePiece(text), ids); break;
        }
        if (addTemplate) ids.AddRange(_options.AddAfter);
        return [.. ids];
    }

    /// <summary>
    /// SentencePiece's normaliser with identity rules: with remove_extra_whitespaces, leading spaces go and runs of spaces
    /// become one; a dummy prefix; ' ' becomes '▁'; then (remove_extra_whitespaces) trailing '▁'s go, a literal one too.
    /// </summary>
    string NormalizeSentencePiece(string text)
    {
        if (_options.RemoveExtraWhitespaces)
        {
            var collapsed = new StringBuilder(text.Length);
            foreach (char c in text.AsSpan().TrimStart(' '))
                if (c != ' ' || collapsed[^1] != ' ') collapsed.Append(c);
            text = collapsed.ToString();
        }
        if (text.Length == 0) return text;
        if (_options.AddDummyPrefix) text = " " + text;
        if (_options.EscapeWhitespaces) text = text.Replace(' ', Space);
        return _options.RemoveExtraWhitespaces ? text.TrimEnd(_options.EscapeWhitespaces ? Space : ' ') : text;
    }

    /// <summary>
    /// Hugging Face's pipeline: added tokens are cut out of the raw text first; each stretch between them goes through
    /// the normalizer (Prepend, Replace), then the Metaspace pre-tokenizer, and each word through the BPE model.
    /// </summary>
    void EncodeHuggingFace(string text, List<int> ids)
    {
        int start = 0;
        while (start <= text.Length)
        {
            int at = NextSpecial(text, start, out int length, out int special);
            string segment = text[start..(at < 0 ? text.Length : at)];
            if (segment.Length > 0)
            {
                foreach (var (prepend, pattern, content) in _options.Normalizer)
                {
                    if (prepend is not null) segment = prepend + segment;
                    else segment = segment.Replace(pattern!, content);
                }
                if (_options.PreTokenizer is { } meta)
                {
                    segment = segment.Replace(' ', meta.Replacement);
                    bool prefix = meta.Prepend == PrependScheme.Always || meta.Prepend == PrependScheme.First && start == 0;
                    if (prefix && segment[0] != meta.Replacement) segment = meta.Replacement + segment;
                    if (meta.Split)
                    {
                        // MergedWithNext: each replacement character starts a word.
                        int word = 0;
                        for (int i = 1; i <= segment.Length; i++)
                            if (i == segment.Length || segment[i] == meta.Replacement) { EncodeWord(segment[word..i], ids); word = i; }
                    }
                    else EncodeWord(segment, ids);
                }
                else EncodeWord(segment, ids);
            }
            if (at < 0) break;
            ids.Add(special);
            start = at + length;
        }
    }

    void EncodeWord(string word, List<int> ids)
    {
        if (_options.IgnoreMerges && _mergeable.TryGetValue(word, out int whole)) { ids.Add(whole); return; }
        EncodeNormalized(word, ids);
    }

    /// <summary>Leftmost-longest added token at or after <paramref name="from"/>, or -1.</summary>
    int NextSpecial(string text, int from, out int length, out int id)
    {
        int at = -1;
        length = id = 0;
        foreach (var (s, sid) in _specials)
        {
            int limit = at < 0 ? text.Length - from : Math.Min(text.Length, at + s.Length) - from;
            int i = limit >= s.Length ? text.IndexOf(s, from, limit, StringComparison.Ordinal) : -1;
            if (i >= 0 && (at < 0 || i < at || i == at && s.Length > length)) (at, length, id) = (i, s.Length, sid);
        }
        return at;
    }

    struct Symbol
    {
        public int Id;          // -1: a character the vocabulary lacks (SentencePiece: it still may merge by text)
        public int Start, Length;
        public int Prev, Next;
        public int Version;
        public bool Frozen;     // a user-defined piece: never merged
    }

    /// <summary>Splits normalised text into symbols, merges them and appends the ids.</summary>
    void EncodeNormalized(string s, List<int> ids)
    {
        if (s.Length == 0) return;
        var symbols = new List<Symbol>(s.Length);
        Span<byte> utf8 = stackalloc byte[8];
        for (int i = 0; i < s.Length;)
        {
            int length = char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? 2 : 1;
            bool frozen = false;
            foreach (var piece in _userDefined)
                if (string.CompareOrdinal(s, i, piece, 0, piece.Length) == 0) { length = piece.Length; frozen = true; break; }
            var text = s.AsSpan(i, length);
            int id = _characterLookup.TryGetValue(text, out int found) ? found : -1;
            if (id < 0 && _source != Source.SentencePiece)
            {
                // Hugging Face and llama2.c turn a missing character into bytes (or unk) before merging.
                if (_options.ByteFallback)
                {
                    int count = Encoding.UTF8.GetBytes(text, utf8);
                    for (int b = 0; b < count; b++) symbols.Add(new Symbol { Id = _byteIds[utf8[b]], Start = i, Length = b == count - 1 ? length : 0, Frozen = frozen });
                    i += length;
                    continue;
                }
                id = _options.Unknown ?? throw new EdgeException($"{_path}: the vocabulary has no piece for {Describe(text)} and no unknown token");
                if (_options.FuseUnknown && symbols.Count > 0 && symbols[^1].Id == id)
                {
                    var last = symbols[^1];
                    last.Length += length;
                    symbols[^1] = last;
                    i += length;
                    continue;
                }
            }
            symbols.Add(new Symbol { Id = id, Start = i, Length = length, Frozen = frozen });
            i += length;
        }
        var sym = symbols.ToArray();
        for (int i = 0; i < sym.Length; i++) { sym[i].Prev = i - 1; sym[i].Next = i + 1 < sym.Length ? i + 1 : -1; }

        var unused = Merge(s, sym);
        for (int i = 0; i >= 0 && i < sym.Length; i = sym[i].Next) Emit(s, sym[i], ids, unused);
    }

    /// <summary>
    /// Best pair first, leftmost on ties (the heap key is priority, then the left symbol's first position); a pair is
    /// looked at again only next to a merge, and a stale heap entry (either side changed since) is skipped. Returns
    /// SentencePiece's record of the pairs that made unused pieces (null when none did), for <see cref="Resegment"/>.
    /// </summary>
    Dictionary<string, (string, string)>? Merge(string s, Symbol[] sym)
    {
        Dictionary<string, (string, string)>? unused = null;
        var heap = new PriorityQueue<(int Left, int Right, int LeftVersion, int RightVersion, int Result), long>();
        char[] scratch = ArrayPool<char>.Shared.Rent(Math.Max(1, _maxPieceLength));
        try
        {
            for (int i = 0; i + 1 < sym.Length; i++) Push(heap, s, sym, i, i + 1, scratch, ref unused);
            while (heap.TryDequeue(out var e, out _))
            {
                ref var left = ref sym[e.Left];
                ref var right = ref sym[e.Right];
                if (left.Length < 0 || right.Length < 0 || left.Next != e.Right || left.Version != e.LeftVersion || right.Version != e.RightVersion) continue;
                left.Id = e.Result;
                left.Length += right.Length;
                left.Version++;
                left.Next = right.Next;
                if (right.Next >= 0) sym[right.Next].Prev = e.Left;
                right.Length = -1;                                   // gone
                if (left.Prev >= 0) Push(heap, s, sym, left.Prev, e.Left, scratch, ref unused);
                if (left.Next >= 0) Push(heap, s, sym, e.Left, left.Next, scratch, ref unused);
            }
        }
        finally { ArrayPool<char>.Shared.Return(scratch); }
        return unused;
    }

    void Push(PriorityQueue<(int, int, int, int, int), long> heap, string s, Symbol[] sym, int l, int r, char[] scratch,
        ref Dictionary<string, (string, string)>? unused)
    {
        ref var a = ref sym[l];
        ref var b = ref sym[r];
        if (a.Frozen || b.Frozen) return;
        int priority, result;
        if (_ranks is not null)
        {
            if (a.Id < 0 || b.Id < 0 || !_ranks.TryGetValue(BpePairMap.Pair(a.Id, b.Id), out priority)) return;
            result = _rankResults[priority];
        }
        else
        {
            var at = Text(s, a);
            var bt = Text(s, b);
            if (at.Length + bt.Length > _maxPieceLength) return;
            at.CopyTo(scratch);
            bt.CopyTo(scratch.AsSpan(at.Length));
            if (!_mergeableLookup.TryGetValue(scratch.AsSpan(0, at.Length + bt.Length), out result)) return;
            priority = _order[result];
            if (_types[result] == PieceType.Unused && _source == Source.SentencePiece)
                (unused ??= [])[_pieces[result]] = (at.ToString(), bt.ToString());
        }
        heap.Enqueue((l, r, a.Version, b.Version, result), (long)priority << 32 | (uint)l);
    }

    /// <summary>A symbol's text: the input it covers, or for llama2.c the piece it is (byte fallback pieces are "&lt;0xXX&gt;" there).</summary>
    ReadOnlySpan<char> Text(string s, in Symbol symbol) =>
        _source == Source.Llama2c ? _pieces[symbol.Id] : s.AsSpan(symbol.Start, symbol.Length);

    void Emit(string s, in Symbol symbol, List<int> ids, Dictionary<string, (string, string)>? unused)
    {
        if (_source != Source.SentencePiece) { if (symbol.Id >= 0) ids.Add(symbol.Id); return; }
        Resegment(s.AsSpan(symbol.Start, symbol.Length), symbol.Id, ids, unused);
    }

    /// <summary>SentencePiece never outputs an unused piece: it splits it back into the two symbols that made it.</summary>
    void Resegment(ReadOnlySpan<char> text, int id, List<int> ids, Dictionary<string, (string, string)>? unused)
    {
        if (id >= 0 && _types[id] == PieceType.Unused && unused is not null && unused.TryGetValue(_pieces[id], out var parts))
        {
            foreach (var part in new[] { parts.Item1, parts.Item2 })
                Resegment(part, _mergeableLookup.TryGetValue(part, out int partId) ? partId : -1, ids, unused);
            return;
        }
        if (id >= 0) ids.Add(id);
        else EmitUnknown(text, ids);
    }

    void EmitUnknown(ReadOnlySpan<char> text, List<int> ids)
    {
        if (_options.ByteFallback)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(text.ToArray());
            foreach (byte b in utf8) ids.Add(_byteIds[b]);
            return;
        }
        ids.Add(_options.Unknown ?? throw new EdgeException($"{_path}: the vocabulary has no piece for {Describe(text)} and no unknown piece"));
    }

    /// <summary>
    /// The text of <paramref name="ids"/> as the source's decoder gives it: control pieces dropped, '▁' as a space, byte
    /// pieces joined into UTF-8 (an invalid byte becomes U+FFFD), and the dummy prefix's space removed from the front
    /// (SentencePiece: from the first piece after any control pieces, and with remove_extra_whitespaces from every piece
    /// until one gives text; Hugging Face: the decoder's Strip; llama2.c: from a piece that follows BOS).
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>(ids.Length * 4);
        bool front = true;      // SentencePiece: no text yet (with remove_extra_whitespaces, space-only pieces keep it so)
        int previous = -1;
        foreach (int id in ids)
        {
            var t = TokenBytes(id);
            bool strip = _source switch
            {
                Source.SentencePiece => front && _types[id] is not (PieceType.Control or PieceType.Byte or PieceType.Unknown)
                    && _pieces[id].StartsWith(Space) && (_options.AddDummyPrefix || _options.RemoveExtraWhitespaces),
                Source.Llama2c => previous == _options.Bos && t.Length > 0 && t[0] == ' ',
                _ => false,
            };
            if (strip) t = t[1..];
            if (_types[id] is not PieceType.Control) front = front && _options.RemoveExtraWhitespaces && t.IsEmpty && _types[id] is not (PieceType.Byte or PieceType.Unknown);
            previous = id;
            foreach (byte b in t) bytes.Add(b);
        }
        var all = bytes.ToArray().AsSpan();
        if (_source == Source.HuggingFace)
        {
            for (int i = 0; i < _options.StripLeading && all.Length > 0 && all[0] == ' '; i++) all = all[1..];
            for (int i = 0; i < _options.StripTrailing && all.Length > 0 && all[^1] == ' '; i++) all = all[..^1];
        }
        return DecodeUtf8(all);
    }

    /// <summary>UTF-8 to text with one U+FFFD for every byte that is not part of a valid character (as SentencePiece does).</summary>
    static string DecodeUtf8(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        while (!bytes.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(bytes, out Rune r, out int used) == OperationStatus.Done)
            {
                sb.Append(r.ToString());
                bytes = bytes[used..];
            }
            else
            {
                sb.Append('\uFFFD');
                bytes = bytes[1..];
            }
        }
        return sb.ToString();
    }

    /// <summary>The byte of a "&lt;0xXX&gt;" piece, or null.</summary>
    internal static int? ByteOf(string piece) =>
        piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
        && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out byte b) ? b : null;

    static string WithoutLoneSurrogates(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i])) continue;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            return Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));      // lone surrogates become U+FFFD
        }
        return text;
    }

    static string Describe(ReadOnlySpan<char> text) =>
        Rune.DecodeFromUtf16(text, out Rune r, out _) == OperationStatus.Done ? $"U+{r.Value:X4}" : "a character";

    EdgeException BadId(int id) => new($"token id {id} is not in the vocabulary (size {_pieces.Length})");
}
