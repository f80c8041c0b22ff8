using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Edge.Text;

/// <summary>
/// Character-level tokenizer: one token per Unicode scalar value (<see cref="Rune"/>), so an emoji or a CJK
/// character outside the BMP is one token. The vocabulary is stored with the model (<see cref="ToJson"/>).
/// An optional marker symbol (makemore's '.') starts and ends line-per-example data and has id 0 when built
/// from text. Positions in error messages count characters (runes) from 0, not UTF-16 code units.
/// </summary>
public sealed class CharTokenizer : ITokenizer
{
    readonly string[] _symbols;
    readonly byte[][] _bytes;                         // id -> the symbol's UTF-8 bytes
    readonly int[] _ascii = new int[128];            // code point -> id, -1 when absent
    readonly Dictionary<int, int> _other = new();    // code point -> id for everything above ASCII

    /// <summary>From a stored vocabulary: symbol i has id i; each symbol is exactly one character.</summary>
    public CharTokenizer(IReadOnlyList<string> symbols, int? markerId = null)
    {
        ArgumentNullException.ThrowIfNull(symbols);
        if (symbols.Count == 0) throw new EdgeException("tokenizer vocabulary is empty");
        Array.Fill(_ascii, -1);
        _symbols = new string[symbols.Count];
        for (int i = 0; i < symbols.Count; i++)
        {
            string? s = symbols[i];
            if (s is null || Rune.DecodeFromUtf16(s, out Rune r, out int used) != OperationStatus.Done || used != s.Length)
                throw new EdgeException($"tokenizer vocabulary: symbol {i} ({(s is null ? "null" : "\"" + Escape(s) + "\"")}) is not exactly one character");
            if (TryGetId(r, out int previous))
                throw new EdgeException($"tokenizer vocabulary: symbol {i} {Describe(r)} duplicates symbol {previous}");
            _symbols[i] = s;
            if (r.Value < 128) _ascii[r.Value] = i; else _other.Add(r.Value, i);
        }
        if (markerId is int m && (uint)m >= (uint)_symbols.Length)
            throw new EdgeException($"tokenizer vocabulary: marker id {m} is outside the vocabulary (size {_symbols.Length})");
        MarkerId = markerId;
        _bytes = _symbols.Select(s => Encoding.UTF8.GetBytes(s)).ToArray();
    }

    /// <inheritdoc/>
    public ReadOnlySpan<byte> TokenBytes(int id) => (uint)id < (uint)_bytes.Length ? _bytes[id]
        : throw new EdgeException($"token id {id} is outside the vocabulary (size {_symbols.Length})");

    /// <summary>The start marker for line data; otherwise newline, else space, else the first symbol.</summary>
    public int StartToken =>
        MarkerId ?? (TryGetId(new Rune('\n'), out int nl) ? nl : TryGetId(new Rune(' '), out int sp) ? sp : 0);

    /// <summary>The distinct characters of <paramref name="text"/>, sorted by code point.</summary>
    public static CharTokenizer FromText(string text) => Build(text, null);

    /// <summary>
    /// The end-of-text mark, U+0003 (ASCII's END OF TEXT control): vocabularies built for running text hold it, so an
    /// adapter can learn to end an answer with it and generation can stop there.
    /// </summary>
    public static readonly Rune EndOfTextMark = new(3);

    /// <summary>
    /// The characters of <paramref name="text"/> together with printable ASCII, tab, newline and <see cref="EndOfTextMark"/>,
    /// sorted by code point: any template or instruction text in ASCII encodes on a model trained on any text.
    /// </summary>
    public static CharTokenizer FromTextAndAscii(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ascii = new StringBuilder("\u0003\t\n");
        for (char c = ' '; c <= '~'; c++) ascii.Append(c);
        return Build(text + ascii, null);
    }

    /// <summary>As <see cref="FromText(string)"/>, with <paramref name="marker"/> first (id 0): '.'=0, 'a'=1, ...</summary>
    public static CharTokenizer FromText(string text, Rune marker) => Build(text, marker);

    static CharTokenizer Build(string text, Rune? marker)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) throw new EdgeException("cannot build a vocabulary from empty text");
        var ascii = new bool[128];
        var other = new HashSet<int>();
        ReadOnlySpan<char> s = text;
        for (int i = 0, pos = 0; i < s.Length; pos++)
        {
            if (s[i] < 128) ascii[s[i++]] = true;
            else other.Add(Next(s, ref i, pos).Value);
        }
        var points = new List<int>();
        for (int c = 0; c < 128; c++) if (ascii[c]) points.Add(c);
        var high = other.ToArray();
        Array.Sort(high);
        points.AddRange(high);

        var symbols = new List<string>(points.Count + 1);
        if (marker is Rune m)
        {
            if (points.Contains(m.Value))
                throw new EdgeException($"the text contains {Describe(m)}, which line data reserves to mark where each line starts and ends; " +
                    "remove it from the data, or train on running text (--layout text)");
            symbols.Add(m.ToString());
        }
        foreach (int p in points) symbols.Add(char.ConvertFromUtf32(p));
        return new CharTokenizer(symbols, marker is null ? null : 0);
    }

    /// <inheritdoc/>
    public int VocabSize => _symbols.Length;
    /// <summary>The id of the marker symbol (makemore's '.', id 0) of line data (<c>DataLayout.Lines</c>), or null when there is none.</summary>
    public int? MarkerId { get; }

    /// <summary>The id of <see cref="EndOfTextMark"/>, when the vocabulary holds it.</summary>
    public int? EndOfTextId => TryGetId(EndOfTextMark, out int id) ? id : null;

    /// <summary>The character (one Unicode scalar, as a string) of token <paramref name="id"/>.</summary>
    public string Symbol(int id) => (uint)id < (uint)_symbols.Length ? _symbols[id]
        : throw new EdgeException($"token id {id} is outside the vocabulary (size {_symbols.Length})");

    /// <summary>The token of character <paramref name="r"/>, when the vocabulary holds it.</summary>
    public bool TryGetId(Rune r, out int id)
    {
        if (r.Value < 128) return (id = _ascii[r.Value]) >= 0;
        return _other.TryGetValue(r.Value, out id);
    }

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new int[text.Length];              // never fewer UTF-16 units than runes
        int n = EncodeInto(text, ids);
        return n == ids.Length ? ids : ids[..n];
    }

    /// <summary>Appends the ids of <paramref name="text"/>; on error <paramref name="into"/> is left as it was.</summary>
    public void Encode(string text, List<int> into)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(into);
        int start = into.Count, n = 0;
        CollectionsMarshal.SetCount(into, start + text.Length);
        try { n = EncodeInto(text, CollectionsMarshal.AsSpan(into)[start..]); }
        finally { CollectionsMarshal.SetCount(into, start + n); }
    }

    int EncodeInto(ReadOnlySpan<char> s, Span<int> ids)
    {
        int n = 0;
        int[] ascii = _ascii;
        for (int i = 0, pos = 0; i < s.Length; pos++)
        {
            int id;
            if (s[i] < 128)
            {
                if ((id = ascii[s[i]]) < 0) throw Unknown(new Rune(s[i]), pos);
                i++;
            }
            else
            {
                Rune r = Next(s, ref i, pos);
                if (!_other.TryGetValue(r.Value, out id)) throw Unknown(r, pos);
            }
            ids[n++] = id;
        }
        return n;
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var sb = new StringBuilder(ids.Length);
        foreach (int id in ids) sb.Append(Symbol(id));
        return sb.ToString();
    }

    /// <summary><c>{"symbols":["\n"," ","a",...],"marker":0}</c>; marker is null when there is none.</summary>
    public string ToJson() => Formats.EdgeJson.Write(new Formats.CharVocabularyRecord([.. _symbols], MarkerId));

    /// <summary>The tokenizer <see cref="ToJson"/> wrote (a checkpoint's <c>edge.tokenizer</c>).</summary>
    public static CharTokenizer FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        Formats.CharVocabularyRecord? record;
        try { record = Formats.EdgeJson.Read<Formats.CharVocabularyRecord>(json); }
        catch (JsonException e)
        {
            throw Formats.EdgeJson.FieldOf(e) switch
            {
                "marker" => new EdgeException($"tokenizer vocabulary: \"marker\" must be an integer id or null"),
                "symbols" => new EdgeException($"tokenizer vocabulary: \"symbols\" must be an array of strings ({EdgeException.OneLine(e.Path ?? "")})"),
                _ => new EdgeException($"tokenizer vocabulary: malformed JSON ({EdgeException.OneLine(e.Message)})", e),
            };
        }
        if (record?.Symbols is not { } symbols || symbols.Any(s => s is null))
            throw new EdgeException("tokenizer vocabulary: expected a JSON object with a \"symbols\" array of strings");
        return new CharTokenizer(symbols, record.Marker);
    }

    /// <summary>The rune at <paramref name="i"/> (advancing past it); refuses an unpaired surrogate.</summary>
    static Rune Next(ReadOnlySpan<char> s, ref int i, int pos)
    {
        if (Rune.DecodeFromUtf16(s[i..], out Rune r, out int used) != OperationStatus.Done)
            throw new EdgeException($"text has an unpaired surrogate (U+{(int)s[i]:X4}) at position {pos}");
        i += used;
        return r;
    }

    static EdgeException Unknown(Rune r, int pos) =>
        new(r.Value == 0xFFFD
            ? $"position {pos} holds U+FFFD, which stands for bytes that are not valid UTF-8: the text is not valid UTF-8 (or holds U+FFFD, which the model's vocabulary lacks)"
            : $"character {Describe(r)} at position {pos} is not in the model's vocabulary");

    /// <summary><c>'x' (U+0078)</c>, with control characters escaped so the message stays on one line.</summary>
    internal static string Describe(Rune r) => $"'{Escape(r.ToString())}' (U+{r.Value:X4})";

    static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length;)
        {
            if (Rune.DecodeFromUtf16(s.AsSpan(i), out Rune r, out int used) != OperationStatus.Done)
            {
                sb.Append($"\\u{(int)s[i++]:X4}");
                continue;
            }
            i += used;
            sb.Append(r.Value switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when Rune.IsControl(r) => $"\\u{r.Value:X4}",
                _ => r.ToString(),
            });
        }
        return sb.ToString();
    }
}
