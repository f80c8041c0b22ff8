using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Edge.Formats;

/// <summary>
/// Writes safetensors files that Python's <c>safetensors</c> reads: tensors laid out contiguously in the given
/// order, the header padded with spaces so the data section starts at an 8-byte-aligned file offset.
/// </summary>
public static class SafeTensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/>[i] with the bytes <paramref name="data"/>(i), whose length must be the
    /// shape's element count times the dtype size (else <see cref="ArgumentException"/>). Crash-safe
    /// (<see cref="Files.SafeFile.Write"/>): on any failure the old file is untouched. I/O failures are reported as
    /// <see cref="EdgeException"/>; exceptions from <paramref name="data"/> propagate unchanged.
    /// </summary>
    public static void Write(string path, IReadOnlyList<(string Name, DType DType, long[] Shape)> tensors, TensorBytes data,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(data);
        Files.SafeFile.Write(path, stream => WriteTo(stream, tensors, data, metadata));
    }

    /// <summary>The file's bytes, to a stream (one file of a set that <see cref="Files.SafeFile.CommitFolder"/> writes).</summary>
    public static void WriteTo(Stream stream, IReadOnlyList<(string Name, DType DType, long[] Shape)> tensors, TensorBytes data,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var lengths = new long[tensors.Count];
        byte[] header = BuildHeader(tensors, metadata, lengths);
        Span<byte> len8 = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len8, (ulong)header.Length);
        stream.Write(len8);
        stream.Write(header);
        for (int i = 0; i < tensors.Count; i++)
        {
            ReadOnlySpan<byte> bytes = data(i);
            if (bytes.Length != lengths[i])
                throw new ArgumentException(
                    $"tensor '{tensors[i].Name}': data has {bytes.Length} bytes, its shape and dtype need {lengths[i]}", nameof(data));
            stream.Write(bytes);
        }
    }

    /// <summary>The JSON header, space-padded to a multiple of 8 bytes (8 + header length is then 8-aligned).</summary>
    static byte[] BuildHeader(IReadOnlyList<(string Name, DType DType, long[] Shape)> tensors,
        IReadOnlyDictionary<string, string>? metadata, long[] lengths)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping keeps non-ASCII names readable; the header is never embedded in HTML.
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v ?? throw new ArgumentException($"metadata '{k}' is null", nameof(metadata)));
                w.WriteEndObject();
            }
            var names = new HashSet<string>(StringComparer.Ordinal);
            long offset = 0;
            for (int i = 0; i < tensors.Count; i++)
            {
                var (name, dtype, shape) = tensors[i];
                if (string.IsNullOrEmpty(name) || name == "__metadata__")
                    throw new ArgumentException($"tensor {i}: invalid name '{name}'", nameof(tensors));
                if (!names.Add(name)) throw new ArgumentException($"duplicate tensor name '{name}'", nameof(tensors));
                if (shape is null || !DTypes.TrySize(shape, dtype, out _, out long bytes))
                    throw new ArgumentException($"tensor '{name}': shape has a negative dimension or is too large", nameof(tensors));
                lengths[i] = bytes;

                w.WriteStartObject(name);
                w.WriteString("dtype", dtype.Name());
                w.WriteStartArray("shape");
                foreach (long d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                if (bytes > long.MaxValue - offset) throw new ArgumentException("total data size overflows long", nameof(tensors));
                offset += bytes;
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int n = buffer.WrittenCount, padded = (n + 7) & ~7;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(n).Fill((byte)' ');
        return header;
    }

    static void TryDelete(string file)
    {
        try { File.Delete(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
