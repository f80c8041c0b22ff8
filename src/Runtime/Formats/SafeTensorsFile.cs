using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;

namespace Edge.Formats;

/// <summary>
/// A safetensors file, memory-mapped read-only. <see cref="Open"/> validates the whole header up front, so every
/// <see cref="TensorInfo"/> it hands out lies inside the file; tensor bytes are read straight from the mapping.
/// Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data section.
/// </summary>
public sealed unsafe partial class SafeTensorsFile : IDisposable
{
    /// <summary>Headers above this are refused rather than allocated (the Python library uses the same limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>
    /// The most tensors a file may hold: far above any real model (GPT-2 has 148, a 70B Llama 723) and low enough that a
    /// hostile header of millions of empty tensors is refused after one streaming pass, before anything is allocated per tensor.
    /// </summary>
    public const int MaxTensors = 100_000;

    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    // A second handle for copies (ReadFloats): read(2) into the caller's buffer leaves the file's pages in the page
    // cache, not in this process's resident set, so a copied model is not counted twice while it loads.
    readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle;
    readonly long _dataStart, _dataLength;
    readonly Dictionary<string, TensorInfo> _byName;
    byte* _data;   // start of the data section; null once disposed

    public string Path { get; }
    /// <summary>In data-offset order.</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long dataStart, long dataLength,
        TensorInfo[] tensors, Dictionary<string, string> metadata)
    {
        (Path, _map, _view, _dataStart, _dataLength, Tensors, Metadata) = (path, map, view, dataStart, dataLength, tensors, metadata);
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _data = p + view.PointerOffset + dataStart;
    }

    public static SafeTensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Files.SafeFile.CheckInput(path);
        FileStream? fs = null;
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1);
            long length = fs.Length;
            var (tensors, metadata, dataStart) = ReadHeader(path, fs, length);
            // length >= 8 here, so the mapping is never of an empty file (which MemoryMappedFile refuses).
            map = MemoryMappedFile.CreateFromFile(fs, null, length, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            return new SafeTensorsFile(path, map, view, dataStart, length - dataStart, tensors, metadata);
        }
        catch (Exception e)
        {
            view?.Dispose();
            map?.Dispose();
            fs?.Dispose();
            // ArgumentException: only the mapping throws it, when the file shrank after its length was read.
            if (e is IOException or UnauthorizedAccessException or ArgumentException) throw new EdgeException($"{path}: cannot read ({e.Message})", e);
            throw;
        }
    }

    public TensorInfo? Find(string name) => _byName.GetValueOrDefault(name);

    public TensorInfo Get(string name) => Find(name) ?? throw new EdgeException($"{Path}: no tensor named '{name}'");

    /// <summary>The tensor's bytes, a view of the mapping (no copy); valid until <see cref="Dispose"/>.</summary>
    /// <summary>The address of a tensor's first byte in the mapping; valid until <see cref="Dispose"/>.</summary>
    internal byte* Address(TensorInfo t)
    {
        CheckInFile(t);
        return _data + t.Offset;
    }

    /// <summary>
    /// Tells the kernel this process is done with tensor <paramref name="t"/>'s mapped pages (Linux madvise
    /// MADV_DONTNEED; elsewhere nothing): they leave the resident set and stay in the page cache, and a later read
    /// maps them again. For a tensor copied out once at load (a 4-bit matrix regrouped), so that its bytes are not
    /// counted twice.
    /// </summary>
    internal void ReleasePages(TensorInfo t)
    {
        CheckInFile(t);
        if (!OperatingSystem.IsLinux()) return;
        long page = Environment.SystemPageSize;
        long start = ((long)(_data + t.Offset) + page - 1) / page * page, end = (long)(_data + t.Offset + t.ByteLength) / page * page;
        if (end > start) _ = MAdvise((nint)start, (nuint)(end - start), MAdvDontNeed); // advice only: a failure changes nothing
    }

    const int MAdvDontNeed = 4;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int MAdvise(nint address, nuint length, int advice);

    public ReadOnlySpan<byte> GetBytes(TensorInfo t)
    {
        CheckInFile(t);
        if (t.ByteLength > int.MaxValue)
            throw new EdgeException($"{Path}: tensor '{t.Name}' has {t.ByteLength} bytes, more than one span can hold ({int.MaxValue})");
        return new ReadOnlySpan<byte>(_data + t.Offset, (int)t.ByteLength);
    }

    /// <summary>Converts an F32, F16, BF16 or F64 tensor to floats; <paramref name="destination"/> holds exactly ElementCount.</summary>
    public void ReadFloats(TensorInfo t, Span<float> destination)
    {
        CheckInFile(t);
        if (destination.Length != t.ElementCount)
            throw new ArgumentException($"tensor '{t.Name}' has {t.ElementCount} elements, destination {destination.Length}", nameof(destination));
        if (t.DType is not (DType.F32 or DType.F16 or DType.BF16 or DType.F64))
            throw new EdgeException($"{Path}: tensor '{t.Name}' has dtype {t.DType.Name()}, expected F32, F16, BF16 or F64");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors data is little-endian");
        int size = t.DType.SizeOf();
        long at = _dataStart + t.Offset;
        if (t.DType == DType.F32)
        {
            ReadExactly(MemoryMarshal.AsBytes(destination), at);
            return;
        }
        // Other types through a chunk of raw bytes.
        const int Chunk = 1 << 18;
        byte[] raw = System.Buffers.ArrayPool<byte>.Shared.Rent(Chunk * size);
        try
        {
            for (int start = 0; start < destination.Length; start += Chunk)
            {
                int n = Math.Min(Chunk, destination.Length - start);
                var src = raw.AsSpan(0, n * size);
                ReadExactly(src, at + (long)start * size);
                var dst = destination.Slice(start, n);
                switch (t.DType)
                {
                    case DType.F16: TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), dst); break;
                    case DType.BF16:
                        var bf = MemoryMarshal.Cast<byte, ushort>(src);
                        for (int i = 0; i < bf.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(bf[i] << 16);   // bf16 = top half of an f32
                        break;
                    default:
                        var f64 = MemoryMarshal.Cast<byte, double>(src);
                        for (int i = 0; i < f64.Length; i++) dst[i] = (float)f64[i];
                        break;
                }
            }
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(raw); }
    }

    void ReadExactly(Span<byte> buffer, long offset)
    {
        try
        {
            while (!buffer.IsEmpty)
            {
                int n = RandomAccess.Read(_handle, buffer, offset);
                if (n <= 0) throw new EdgeException($"{Path}: the file ended while reading (it changed after it was opened)");
                buffer = buffer[n..];
                offset += n;
            }
        }
        catch (IOException e) { throw new EdgeException($"{Path}: cannot read ({e.Message})", e); }
    }

    public void Dispose()
    {
        if (_data == null) return;
        _data = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
        _handle.Dispose();
    }

    /// <summary>Guards against a TensorInfo that did not come from this file (or a disposed file) reading out of bounds.</summary>
    void CheckInFile(TensorInfo t)
    {
        ObjectDisposedException.ThrowIf(_data == null, this);
        ArgumentNullException.ThrowIfNull(t);
        if (t.Offset < 0 || t.ByteLength < 0 || t.Offset > _dataLength - t.ByteLength
            || !DTypes.TrySize(t.Shape, t.DType, out _, out long bytes) || bytes != t.ByteLength)
            throw new ArgumentException($"tensor '{t.Name}' does not describe a range of {Path}", nameof(t));
    }

    static (TensorInfo[] Tensors, Dictionary<string, string> Metadata, long DataStart) ReadHeader(string path, FileStream fs, long length)
    {
        if (length == 0) throw Bad(path, "empty file, not a safetensors file");
        if (length < 8) throw Bad(path, $"not a safetensors file ({length} bytes, shorter than the 8-byte header length)");
        Span<byte> len8 = stackalloc byte[8];
        fs.ReadExactly(len8);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(len8);
        if (n == 0) throw Bad(path, "header length is 0");
        if (n > (ulong)(length - 8)) throw Bad(path, $"not a safetensors file (header length {n} exceeds file size {length})");
        if (n > MaxHeaderBytes) throw Bad(path, $"header length {n} exceeds the limit of {MaxHeaderBytes} bytes");
        var header = new byte[n];
        fs.ReadExactly(header);
        if (!Utf8.IsValid(header)) throw Bad(path, "header is not valid UTF-8");

        int entries = CountEntries(header);
        if (entries > MaxTensors + 1)
            throw Bad(path, $"header has {entries:N0} entries, over the limit of {MaxTensors:N0} tensors");

        long dataStart = 8 + (long)n, dataLength = length - dataStart;
        var tensors = new List<(TensorInfo Info, int Index)>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e) { throw Bad(path, $"header is not valid JSON ({OneLine(e.Message)})"); }
        using (doc)
        try
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad(path, "header is not a JSON object");
            var seen = new HashSet<string>(StringComparer.Ordinal);   // JsonDocument keeps duplicate keys
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(entry.Name)) throw Bad(path, $"duplicate header entry '{OneLine(entry.Name)}'");
                if (entry.Name == "__metadata__") ReadMetadata(path, entry.Value, metadata);
                else tensors.Add((ReadTensor(path, entry.Name, entry.Value, dataLength), tensors.Count));
            }
        }
        catch (InvalidOperationException e)   // a string escape that is not text: "\ud800" alone
        {
            throw Bad(path, $"header holds a string that is not valid text ({OneLine(e.Message)})");
        }
        // Data-offset order (ties: shorter first, then header order) makes the overlap check one pass.
        tensors.Sort((a, b) => a.Info.Offset != b.Info.Offset ? a.Info.Offset.CompareTo(b.Info.Offset)
            : a.Info.ByteLength != b.Info.ByteLength ? a.Info.ByteLength.CompareTo(b.Info.ByteLength) : a.Index.CompareTo(b.Index));
        for (int i = 1; i < tensors.Count; i++)
        {
            TensorInfo prev = tensors[i - 1].Info, t = tensors[i].Info;
            if (t.Offset < prev.Offset + prev.ByteLength)
                throw Bad(path, $"tensors '{OneLine(prev.Name)}' and '{OneLine(t.Name)}' overlap in the data section");
        }
        return (tensors.Select(x => x.Info).ToArray(), metadata, dataStart);
    }

    /// <summary>The top-level object's property count (one allocation-free pass); -1 when the header is not JSON (parsed later for the message).</summary>
    static int CountEntries(ReadOnlySpan<byte> header)
    {
        var reader = new Utf8JsonReader(header, new JsonReaderOptions { MaxDepth = 64 });
        int count = 0;
        try
        {
            while (reader.Read())
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1) count++;
        }
        catch (JsonException) { return -1; }
        return count;
    }

    static TensorInfo ReadTensor(string path, string name, JsonElement e, long dataLength)
    {
        string q = $"tensor '{OneLine(name)}'";
        if (e.ValueKind != JsonValueKind.Object) throw Bad(path, $"header entry '{OneLine(name)}' is not an object");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad(path, $"{q} has no dtype string");
        if (!DTypes.TryParse(dt.GetString()!, out var dtype)) throw Bad(path, $"{q} has unknown dtype '{OneLine(dt.GetString()!)}'");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad(path, $"{q} has no shape array");
        var shape = new long[sh.GetArrayLength()];   // bounded by the header size
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out shape[k])) throw Bad(path, $"{q} has a shape entry that is not an integer");
            if (shape[k++] < 0) throw Bad(path, $"{q} has a negative dimension in shape [{string.Join(",", shape[..k])}]");
        }
        if (!DTypes.TrySize(shape, dtype, out _, out long bytes))
            throw Bad(path, $"{q} has shape [{string.Join(",", shape)}] whose size overflows");
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2
            || off[0].ValueKind != JsonValueKind.Number || !off[0].TryGetInt64(out long begin)
            || off[1].ValueKind != JsonValueKind.Number || !off[1].TryGetInt64(out long end))
            throw Bad(path, $"{q} has no data_offsets of two integers");
        if (begin < 0 || end < begin) throw Bad(path, $"{q} has data_offsets [{begin},{end}], not 0 <= begin <= end");
        if (end > dataLength) throw Bad(path, $"{q} ends at {end}, beyond the data section of {dataLength} bytes");
        if (end - begin != bytes)
            throw Bad(path, $"{q} has {end - begin} bytes in data_offsets but {dtype.Name()}[{string.Join(",", shape)}] needs {bytes}");
        return new TensorInfo(name, dtype, shape, begin, bytes);
    }

    static void ReadMetadata(string path, JsonElement e, Dictionary<string, string> metadata)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Bad(path, "__metadata__ is not an object");
        foreach (var p in e.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String) throw Bad(path, $"__metadata__ value '{OneLine(p.Name)}' is not a string");
            if (!metadata.TryAdd(p.Name, p.Value.GetString()!)) throw Bad(path, $"duplicate __metadata__ key '{OneLine(p.Name)}'");
        }
    }

    static EdgeException Bad(string path, string problem) => new($"{path}: {problem}");

    /// <summary>Names come from the file: keep messages to one short line.</summary>
    static string OneLine(string s) => EdgeException.OneLine(s);
}
