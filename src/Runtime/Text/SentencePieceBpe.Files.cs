using System.Buffers.Binary;
using System.Text;

namespace Edge.Text;

// SentencePiece's tokenizer.model and llama2.c's tokenizer.bin. Every problem with a file is one EdgeException naming it.
public sealed partial class SentencePieceBpe
{
    /// <summary>
    /// SentencePiece's <c>tokenizer.model</c>: a ModelProto (protobuf) whose pieces (1) carry piece (1), score (2) and
    /// type (3); trainer_spec (2) gives model_type (3), byte_fallback (35), treat_whitespace_as_suffix (24), unk/bos/eos
    /// ids (40-42) and unk_surface (44); normalizer_spec (3) gives name (1), precompiled_charsmap (2), add_dummy_prefix
    /// (3), remove_extra_whitespaces (4) and escape_whitespaces (5). BPE models with identity normalisation (Llama's) load.
    /// </summary>
    public static SentencePieceBpe FromModelFile(string path)
    {
        var data = BpeTokenizer.ReadFile(path);
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<PieceType>();
        long modelType = 1, unk = 0, bos = 1, eos = 2;
        bool byteFallback = false, suffix = false, dummyPrefix = true, removeExtra = true, escape = true;
        string unkSurface = " \u2047 ", normalizer = "";
        bool charsmap = false;

        var model = new ProtoReader(path, "the model", data);
        while (model.Next(out int field, out int wire))
        {
            if (field is 1 or 2 or 3 && wire != 2) throw model.Bad($"field {field} has wire type {wire}, expected a message");
            switch (field)
            {
                case 1:
                {
                    var piece = model.Message($"piece {pieces.Count}");
                    string text = "";
                    float score = 0;
                    long type = 1;
                    while (piece.Next(out int f, out int w))
                    {
                        if (f == 1) text = piece.String(w);
                        else if (f == 2) score = piece.Float(w);
                        else if (f == 3) type = piece.Varint(w);
                        else piece.Skip(w);
                    }
                    if (!Enum.IsDefined((PieceType)Math.Clamp(type, 0, 99)))
                        throw new EdgeException($"{path}: piece {pieces.Count} has type {type}, which is not a SentencePiece piece type");
                    pieces.Add(text);
                    scores.Add(score);
                    types.Add((PieceType)type);
                    break;
                }
                case 2:
                {
                    var trainer = model.Message("trainer_spec");
                    while (trainer.Next(out int f, out int w))
                    {
                        switch (f)
                        {
                            case 3: modelType = trainer.Varint(w); break;
                            case 24: suffix = trainer.Varint(w) != 0; break;
                            case 35: byteFallback = trainer.Varint(w) != 0; break;
                            case 40: unk = (int)trainer.Varint(w); break;
                            case 41: bos = (int)trainer.Varint(w); break;
                            case 42: eos = (int)trainer.Varint(w); break;
                            case 44: unkSurface = trainer.String(w); break;
                            default: trainer.Skip(w); break;
                        }
                    }
                    break;
                }
                case 3:
                {
                    var spec = model.Message("normalizer_spec");
                    while (spec.Next(out int f, out int w))
                    {
                        switch (f)
                        {
                            case 1: normalizer = spec.String(w); break;
                            case 2: charsmap = spec.Bytes(w).Length > 0; break;
                            case 3: dummyPrefix = spec.Varint(w) != 0; break;
                            case 4: removeExtra = spec.Varint(w) != 0; break;
                            case 5: escape = spec.Varint(w) != 0; break;
                            default: spec.Skip(w); break;
                        }
                    }
                    break;
                }
                default: model.Skip(wire); break;
            }
        }

        if (pieces.Count == 0) throw new EdgeException($"{path}: no pieces (not a SentencePiece model)");
        if (modelType != 2)
            throw new EdgeException($"{path}: a SentencePiece {(modelType switch { 1 => "unigram", 3 => "word", 4 => "char", _ => $"type {modelType}" })} model; Edge reads BPE models (Llama's)");
        if (charsmap)
            throw new EdgeException($"{path}: the normalizer '{EdgeException.OneLine(normalizer)}' rewrites text with a character map, which Edge does not apply (Llama's models use 'identity')");
        if (suffix) throw new EdgeException($"{path}: treat_whitespace_as_suffix is not supported");
        int? Id(long id, PieceType type, string name)
        {
            if (id < 0) return null;
            if (id >= pieces.Count) throw new EdgeException($"{path}: {name} id {id} is outside the vocabulary ({pieces.Count} pieces)");
            if (types[(int)id] != type) throw new EdgeException($"{path}: {name} id {id} is the piece '{EdgeException.OneLine(pieces[(int)id])}' of type {types[(int)id]}, expected {type}");
            return (int)id;
        }
        var options = new Options
        {
            Unknown = Id(unk, PieceType.Unknown, "unk"), Bos = Id(bos, PieceType.Control, "bos"), Eos = Id(eos, PieceType.Control, "eos"),
            ByteFallback = byteFallback, AddDummyPrefix = dummyPrefix, RemoveExtraWhitespaces = removeExtra, EscapeWhitespaces = escape,
            UnknownSurface = unkSurface,
        };
        return new SentencePieceBpe(Source.SentencePiece, path, [.. pieces], [.. scores], [.. types], null, [], options);
    }

    /// <summary>
    /// llama2.c's <c>tokenizer.bin</c>: int32 max_token_length, then per token float32 score, int32 length and its bytes
    /// (little-endian), as run.c reads it. The vocabulary size is the model's (the checkpoint says it; here: every
    /// token up to the end of the file). Ids 0, 1, 2 are unk, BOS and EOS and 3..258 the byte tokens &lt;0x00&gt;..&lt;0xFF&gt;.
    /// </summary>
    public static SentencePieceBpe FromLlama2cFile(string path)
    {
        var data = BpeTokenizer.ReadFile(path);
        if (data.Length < 4) throw new EdgeException($"{path}: {data.Length} bytes, too short for a llama2.c tokenizer");
        int maxLength = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (maxLength <= 0) throw new EdgeException($"{path}: max_token_length is {maxLength}");
        var pieces = new List<string>();
        var scores = new List<float>();
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        for (int at = 4; at < data.Length;)
        {
            if (data.Length - at < 8) throw new EdgeException($"{path}: token {pieces.Count} is cut off at byte {at}");
            float score = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(at));
            int length = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(at + 4));
            if (length < 0 || length > maxLength || length > data.Length - at - 8)
                throw new EdgeException($"{path}: token {pieces.Count} has length {length} (max_token_length {maxLength}, {data.Length - at - 8} bytes left)");
            try { pieces.Add(strict.GetString(data, at + 8, length)); }
            catch (DecoderFallbackException) { throw new EdgeException($"{path}: token {pieces.Count} is not valid UTF-8"); }
            if (!float.IsFinite(score)) throw new EdgeException($"{path}: token {pieces.Count} has score {score}");
            scores.Add(score);
            at += 8 + length;
        }
        if (pieces.Count < 259) throw new EdgeException($"{path}: {pieces.Count} tokens; a llama2.c tokenizer has unk, BOS, EOS and 256 byte tokens first");
        var types = new PieceType[pieces.Count];
        Array.Fill(types, PieceType.Normal);
        types[0] = PieceType.Unknown;
        types[1] = types[2] = PieceType.Control;
        for (int b = 0; b < 256; b++)
        {
            if (ByteOf(pieces[3 + b]) != b)
                throw new EdgeException($"{path}: token {3 + b} is '{EdgeException.OneLine(pieces[3 + b])}', expected the byte token <0x{b:X2}>");
            types[3 + b] = PieceType.Byte;
        }
        if (!pieces.Contains(" ")) throw new EdgeException($"{path}: no token for a space (run.c's dummy prefix)");
        var options = new Options { Unknown = 0, Bos = 1, Eos = 2, ByteFallback = true };
        return new SentencePieceBpe(Source.Llama2c, path, [.. pieces], [.. scores], types, null, [], options);
    }

    /// <summary>Protobuf's wire format, the four kinds a ModelProto uses; anything malformed names the file and the message.</summary>
    ref struct ProtoReader(string path, string where, ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<byte> _data = data;
        int _at;

        public bool Next(out int field, out int wire)
        {
            field = wire = 0;
            if (_at >= _data.Length) return false;
            long tag = ReadVarint();
            wire = (int)(tag & 7);
            if (tag >> 3 is <= 0 or > int.MaxValue) throw Bad($"field number {tag >> 3}");
            field = (int)(tag >> 3);
            return true;
        }

        public long Varint(int wire)
        {
            if (wire != 0) throw Bad($"wire type {wire} where a number was expected");
            return ReadVarint();
        }

        public float Float(int wire)
        {
            if (wire != 5) throw Bad($"wire type {wire} where a float was expected");
            if (_data.Length - _at < 4) throw Bad("a float is cut off");
            float f = BinaryPrimitives.ReadSingleLittleEndian(_data[_at..]);
            _at += 4;
            return f;
        }

        public ReadOnlySpan<byte> Bytes(int wire)
        {
            if (wire != 2) throw Bad($"wire type {wire} where a string was expected");
            long length = ReadVarint();
            if (length < 0 || length > _data.Length - _at) throw Bad($"a length of {length} runs past the end ({_data.Length - _at} bytes left)");
            var bytes = _data.Slice(_at, (int)length);
            _at += (int)length;
            return bytes;
        }

        public string String(int wire)
        {
            var bytes = Bytes(wire);
            try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
            catch (DecoderFallbackException) { throw Bad("a string is not valid UTF-8"); }
        }

        public ProtoReader Message(string name) => new(path, name, Bytes(2));

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: ReadVarint(); break;
                case 1: Advance(8); break;
                case 2: Bytes(2); break;
                case 5: Advance(4); break;
                default: throw Bad($"wire type {wire}");
            }
        }

        void Advance(int n)
        {
            if (_data.Length - _at < n) throw Bad("a value is cut off");
            _at += n;
        }

        long ReadVarint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_at >= _data.Length) throw Bad("a number is cut off");
                byte b = _data[_at++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return (long)value;
            }
            throw Bad("a number is longer than 10 bytes");
        }

        public readonly EdgeException Bad(string what) => new($"{path}: malformed protobuf in {where}: {what}");
    }
}
