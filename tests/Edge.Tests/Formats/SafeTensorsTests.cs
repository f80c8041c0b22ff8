using System.Buffers.Binary;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Edge.Formats;
using Xunit;

namespace Edge.Tests.Formats;

public sealed class SafeTensorsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("edge-safetensors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string PathOf(string name) => Path.Combine(_dir, name);

    // ---- sample content: every dtype family, a scalar and a zero-size tensor ----

    static readonly float[] W = [1.5f, -2f, 3.25f, 0f, 1e-3f, 42f];

    static readonly (string Name, DType DType, long[] Shape)[] Specs =
    [
        ("w", DType.F32, [2, 3]),
        ("h", DType.F16, [4]),
        ("bf", DType.BF16, [2, 2]),
        ("empty", DType.F32, [0, 5]),
        ("scale", DType.F32, []),
        ("d", DType.F64, [2]),
        ("ids", DType.I64, [3]),
        ("mask", DType.BOOL, [1, 2]),
        ("bytes", DType.U8, [5]),
    ];

    static readonly byte[][] Data =
    [
        MemoryMarshal.AsBytes<float>(W).ToArray(),
        MemoryMarshal.AsBytes<Half>(new[] { (Half)1, (Half)(-2), (Half)0.5f, (Half)65504 }).ToArray(),
        MemoryMarshal.AsBytes<ushort>(new ushort[] { 0x3F80, 0xC040, 0x4049, 0x0000 }).ToArray(),
        [],
        BitConverter.GetBytes(0.125f),
        MemoryMarshal.AsBytes<double>(new[] { 2.5, -0.75 }).ToArray(),
        MemoryMarshal.AsBytes<long>(new long[] { 7, -1, long.MaxValue }).ToArray(),
        [1, 0],
        [9, 8, 7, 6, 5],
    ];

    static readonly Dictionary<string, string> Meta = new() { ["format"] = "pt", ["note"] = "héllo \"quoted\"" };

    string WriteSample(string name = "model.safetensors")
    {
        string path = PathOf(name);
        SafeTensorsWriter.Write(path, Specs, i => Data[i], Meta);
        return path;
    }

    // ---- round trip ----

    [Fact]
    public void AHeaderOfMillionsOfEmptyTensors_IsRefusedBeforeItIsParsed()
    {
        // 200,001 zero-size tensors: a valid file, far beyond any model; refused by count after one streaming pass.
        var header = new StringBuilder("{");
        for (int i = 0; i <= SafeTensorsFile.MaxTensors * 2; i++)
            header.Append(i == 0 ? "" : ",").Append($"\"t{i}\":{{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}");
        header.Append('}');
        byte[] json = Encoding.UTF8.GetBytes(header.ToString());
        var bytes = new byte[8 + json.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        string path = PathOf("many.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<EdgeException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("200,001 entries, over the limit of 100,000 tensors", e.Message);
    }

    [Fact]
    public void Write_ThenOpen_RoundTripsTensorsAndMetadata()
    {
        string path = WriteSample();
        using var f = SafeTensorsFile.Open(path);

        Assert.Equal(path, f.Path);
        Assert.Equal(Specs.Select(s => s.Name), f.Tensors.Select(t => t.Name));
        for (int i = 0; i < Specs.Length; i++)
        {
            var t = f.Get(Specs[i].Name);
            Assert.Equal(Specs[i].DType, t.DType);
            Assert.Equal(Specs[i].Shape, t.Shape);
            Assert.Equal(Data[i].Length, t.ByteLength);
            Assert.Equal(Data[i], f.GetBytes(t).ToArray());
        }
        Assert.Equal(Meta.OrderBy(kv => kv.Key), f.Metadata.OrderBy(kv => kv.Key));

        Assert.Equal(1, f.Get("scale").ElementCount);
        Assert.Equal(0, f.Get("empty").ElementCount);
        var w = new float[6];
        f.ReadFloats(f.Get("w"), w);
        Assert.Equal(W, w);
        var scale = new float[1];
        f.ReadFloats(f.Get("scale"), scale);
        Assert.Equal(0.125f, scale[0]);
        f.ReadFloats(f.Get("empty"), Span<float>.Empty);
        var d = new float[2];
        f.ReadFloats(f.Get("d"), d);
        Assert.Equal([2.5f, -0.75f], d);
    }

    /// <summary>
    /// Released pages read back the same bytes (mapped again from the page cache): the sample's small tensors (inside
    /// one page: nothing released) and a tensor of several pages, not page-aligned, read before and after.
    /// </summary>
    [Fact]
    public void ReleasedPages_ReadBackTheSameBytes()
    {
        string path = PathOf("pages.safetensors");
        var big = new byte[5 * Environment.SystemPageSize + 123];
        new Random(7).NextBytes(big);
        (string Name, DType DType, long[] Shape)[] specs = [.. Specs, ("big", DType.U8, [big.Length])];
        SafeTensorsWriter.Write(path, specs, i => i < Data.Length ? Data[i] : big, Meta);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(big, f.GetBytes(f.Get("big")).ToArray());
        for (int i = 0; i < specs.Length; i++)
        {
            var t = f.Get(specs[i].Name);
            f.ReleasePages(t);
            Assert.Equal(i < Data.Length ? Data[i] : big, f.GetBytes(t).ToArray());
        }
    }

    [Fact]
    public void Write_WithoutMetadata_OpensWithEmptyMetadata()
    {
        string path = PathOf("nometa.safetensors");
        SafeTensorsWriter.Write(path, [("x", DType.I32, [2])], _ => new byte[8]);
        using var f = SafeTensorsFile.Open(path);
        Assert.Empty(f.Metadata);
        Assert.Equal(new byte[8], f.GetBytes(f.Get("x")).ToArray());
    }

    [Fact]
    public void Find_ReturnsNullAndGet_ThrowsNamingFileForMissingTensor()
    {
        string path = WriteSample();
        using var f = SafeTensorsFile.Open(path);
        Assert.Null(f.Find("nope"));
        var e = Assert.Throws<EdgeException>(() => f.Get("nope"));
        Assert.Equal($"{path}: no tensor named 'nope'", e.Message);
    }

    [Fact]
    public void ReadFloats_ConvertsF16AndBF16ToKnownValues()
    {
        string path = PathOf("half.safetensors");
        // F16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), +inf, 0x3555 = 0.333251953125
        ushort[] f16 = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x3555];
        // BF16: 1, -3, 3.140625, +inf, -0, 0x3E80 = 0.25
        ushort[] bf16 = [0x3F80, 0xC040, 0x4049, 0x7F80, 0x8000, 0x3E80];
        byte[][] data = [MemoryMarshal.AsBytes<ushort>(f16).ToArray(), MemoryMarshal.AsBytes<ushort>(bf16).ToArray()];
        SafeTensorsWriter.Write(path, [("a", DType.F16, [6]), ("b", DType.BF16, [2, 3])], i => data[i]);

        using var f = SafeTensorsFile.Open(path);
        var a = new float[6];
        f.ReadFloats(f.Get("a"), a);
        Assert.Equal([1f, -2f, 65504f, MathF.Pow(2, -24), float.PositiveInfinity, 0.333251953125f], a);
        var b = new float[6];
        f.ReadFloats(f.Get("b"), b);
        Assert.Equal([1f, -3f, 3.140625f, float.PositiveInfinity, -0f, 0.25f], b);
        Assert.True(float.IsNegative(b[4]));
    }

    [Fact]
    public void ReadFloats_RefusesIntegerTensorAndWrongDestinationLength()
    {
        string path = WriteSample();
        using var f = SafeTensorsFile.Open(path);
        var e = Assert.Throws<EdgeException>(() => f.ReadFloats(f.Get("ids"), new float[3]));
        Assert.Contains(path, e.Message);
        Assert.Contains("I64", e.Message);
        Assert.Throws<ArgumentException>(() => f.ReadFloats(f.Get("w"), new float[5]));
    }

    [Fact]
    public void GetBytes_RefusesTensorInfoOutsideTheFileAndUseAfterDispose()
    {
        string path = WriteSample();
        var f = SafeTensorsFile.Open(path);
        var w = f.Get("w");
        Assert.Throws<ArgumentException>(() => f.GetBytes(w with { Offset = 1 << 20 }));
        Assert.Throws<ArgumentException>(() => f.GetBytes(w with { ByteLength = 4 }));
        f.Dispose();
        f.Dispose();
        Assert.Throws<ObjectDisposedException>(() => f.GetBytes(w));
    }

    [Fact]
    public void GetBytes_OfTensorOver2GB_ThrowsEdgeException()
    {
        // 2^29 F32 elements = 2^31 bytes, one past int.MaxValue; the file is sparse so this costs no disk.
        string path = PathOf("big.safetensors");
        WriteRaw(path, """{"big":{"dtype":"F32","shape":[536870912],"data_offsets":[0,2147483648]}}""", dataBytes: 1L << 31);
        using var f = SafeTensorsFile.Open(path);
        var e = Assert.Throws<EdgeException>(() => f.GetBytes(f.Get("big")));
        Assert.Contains(path, e.Message);
    }

    // ---- the file as bytes, parsed independently of SafeTensorsFile ----

    [Fact]
    public void Write_ProducesSpecLayout_CheckedByIndependentByteLevelParse()
    {
        string path = WriteSample();
        AssertIndependentParse(path);
    }

    /// <summary>
    /// Parses with JsonDocument per the spec: contiguous offsets from 0 in write order, the data section starts
    /// 8-byte aligned, the header is space-padded, and the F32 bytes of "w" decode to the written floats.
    /// </summary>
    static void AssertIndependentParse(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        long dataStart = 8 + (long)n;
        Assert.Equal(0, dataStart % 8);
        string headerText = Encoding.UTF8.GetString(file, 8, (int)n);
        Assert.StartsWith("{", headerText);
        Assert.EndsWith("}", headerText.TrimEnd(' '));

        using var doc = JsonDocument.Parse(headerText);
        var entries = doc.RootElement.EnumerateObject().ToList();
        var meta = entries.Single(e => e.Name == "__metadata__").Value;
        Assert.Equal("pt", meta.GetProperty("format").GetString());
        Assert.Equal(Meta["note"], meta.GetProperty("note").GetString());

        var tensors = entries.Where(e => e.Name != "__metadata__").ToList();
        Assert.Equal(Specs.Select(s => s.Name), tensors.Select(t => t.Name));
        long expectedBegin = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i].Value;
            Assert.Equal(Specs[i].DType.Name(), t.GetProperty("dtype").GetString());
            Assert.Equal(Specs[i].Shape, t.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()));
            long begin = t.GetProperty("data_offsets")[0].GetInt64(), end = t.GetProperty("data_offsets")[1].GetInt64();
            Assert.Equal(expectedBegin, begin);
            Assert.Equal(Data[i].Length, end - begin);
            Assert.Equal(Data[i], file.AsSpan((int)(dataStart + begin), (int)(end - begin)).ToArray());
            expectedBegin = end;
        }
        Assert.Equal(file.Length - dataStart, expectedBegin);

        long wBegin = tensors[0].Value.GetProperty("data_offsets")[0].GetInt64();
        for (int k = 0; k < W.Length; k++)
            Assert.Equal(W[k], BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan((int)(dataStart + wBegin + 4 * k))));
    }

    const string PythonParser = """
        import json, struct, sys
        b = open(sys.argv[1], 'rb').read()
        n = struct.unpack('<Q', b[:8])[0]
        h = json.loads(b[8:8 + n].decode('utf-8'))
        meta = h.pop('__metadata__', {})
        base = 8 + n
        for name, t in sorted(h.items(), key=lambda kv: tuple(kv[1]['data_offsets'])):
            s, e = t['data_offsets']
            first = struct.unpack('<f', b[base + s:base + s + 4])[0] if t['dtype'] == 'F32' and e > s else None
            print(name, t['dtype'], json.dumps(t['shape']).replace(' ', ''), first)
        print('meta', meta['format'])
        print('aligned', base % 8 == 0, 'end', base + max(t['data_offsets'][1] for t in h.values()) == len(b))
        """;

    [Fact]
    public async Task Write_IsReadableByPythonJsonAndStructParser_OrByIndependentParseWithoutPython()
    {
        string path = WriteSample();
        AssertIndependentParse(path);   // the pass condition that holds whether or not python3 is installed

        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(PythonParser);
        psi.ArgumentList.Add(path);
        Process p;
        try { p = Process.Start(psi)!; }
        catch (Win32Exception) { return; }   // no python3 on PATH: the independent parse above is the check
        using (p)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = await p.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await p.WaitForExitAsync(timeout.Token);
            Assert.True(p.ExitCode == 0, $"python3 failed: {await stderr}");
            string[] lines = stdout.Replace("\r", "").TrimEnd('\n').Split('\n');
            Assert.Equal(
            [
                "w F32 [2,3] 1.5",
                "h F16 [4] None",
                "bf BF16 [2,2] None",
                "empty F32 [0,5] None",
                "scale F32 [] 0.125",
                "d F64 [2] None",
                "ids I64 [3] None",
                "mask BOOL [1,2] None",
                "bytes U8 [5] None",
                "meta pt",
                "aligned True end True",
            ], lines);
        }
    }

    // ---- crash safety ----

    [Fact]
    public void Write_WhenDataCallbackThrowsPartWay_KeepsOldFileAndLeavesNoTemporaryFile()
    {
        string path = WriteSample();
        byte[] before = File.ReadAllBytes(path);

        Assert.Throws<InvalidOperationException>(() => SafeTensorsWriter.Write(path, Specs,
            i => i < 3 ? Data[i] : throw new InvalidOperationException("disk full, say"), Meta));

        Assert.Equal([path], Directory.GetFiles(_dir));
        Assert.Equal(before, File.ReadAllBytes(path));
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(Data[0], f.GetBytes(f.Get("w")).ToArray());
    }

    [Fact]
    public void Write_WithWrongDataLength_ThrowsArgumentExceptionAndLeavesNothing()
    {
        string path = PathOf("short.safetensors");
        var e = Assert.Throws<ArgumentException>(() =>
            SafeTensorsWriter.Write(path, [("a", DType.F32, [2]), ("b", DType.F32, [3])], i => new byte[8]));
        Assert.Contains("'b'", e.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Write_OverExistingFile_ReplacesIt()
    {
        string path = WriteSample();
        SafeTensorsWriter.Write(path, [("only", DType.U8, [1])], _ => new byte[] { 3 });
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal("only", Assert.Single(f.Tensors).Name);
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Write_RefusesDuplicateReservedOrNegativeShapedTensors()
    {
        string path = PathOf("bad.safetensors");
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("a", DType.U8, [1]), ("a", DType.U8, [1])], _ => new byte[1]));
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("__metadata__", DType.U8, [1])], _ => new byte[1]));
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("a", DType.U8, [-1])], _ => []));
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [("a", DType.U8, [1L << 62, 1L << 62])], _ => []));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Write_IntoMissingFolder_ThrowsEdgeExceptionNamingPath()
    {
        string path = Path.Combine(_dir, "no", "such", "dir", "m.safetensors");
        var e = Assert.Throws<EdgeException>(() => SafeTensorsWriter.Write(path, [("a", DType.U8, [1])], _ => new byte[1]));
        Assert.StartsWith(path + ": ", e.Message);
    }

    // ---- refusals of bad files ----

    /// <summary>Writes the 8-byte length (the header's by default), the header and <paramref name="dataBytes"/> zero bytes (sparse).</summary>
    static void WriteRaw(string path, string header, long dataBytes, ulong? headerLength = null)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        WriteRaw(path, h, dataBytes, headerLength);
    }

    static void WriteRaw(string path, byte[] header, long dataBytes, ulong? headerLength = null)
    {
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write);
        Span<byte> len8 = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len8, headerLength ?? (ulong)header.Length);
        fs.Write(len8);
        fs.Write(header);
        fs.SetLength(fs.Length + dataBytes);
    }

    static void AssertRefused(string path, string expected)
    {
        var e = Assert.Throws<EdgeException>(() => SafeTensorsFile.Open(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    const string T4 = """{"dtype":"F32","shape":[1],"data_offsets":[0,4]}""";

    [Theory]
    [InlineData("[1,2]", 0, "not a JSON object")]
    [InlineData("\"x\"", 0, "not a JSON object")]
    [InlineData("{\"a\":", 0, "not valid JSON")]
    [InlineData("{\"a\":1,}", 0, "not valid JSON")]
    [InlineData("{\"a\":1}", 0, "'a' is not an object")]
    [InlineData("{\"a\":[]}", 0, "'a' is not an object")]
    [InlineData("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "no dtype")]
    [InlineData("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "no dtype")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "no shape")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "no shape")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "no data_offsets")]
    [InlineData("{\"a\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "unknown dtype 'F8'")]
    [InlineData("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype 'f32'")]
    [InlineData("{\"a\":{\"dtype\":\"1\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype '1'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "negative dimension")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "not an integer")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "not an integer")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "overflows")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952],\"data_offsets\":[0,4]}}", 4, "overflows")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4, "not an integer")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "no data_offsets of two integers")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "no data_offsets of two integers")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", 4, "no data_offsets of two integers")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.0,4]}}", 4, "no data_offsets of two integers")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"0\":4}}}", 4, "no data_offsets of two integers")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "not 0 <= begin <= end")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "not 0 <= begin <= end")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 4, "beyond the data section of 4 bytes")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,9223372036854775807]}}", 4, "beyond the data section")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "needs 4")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "needs 8")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap")]
    [InlineData("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "overlap")]
    [InlineData("{\"a\":" + T4 + ",\"a\":" + T4 + "}", 4, "duplicate header entry 'a'")]
    [InlineData("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate header entry '__metadata__'")]
    [InlineData("{\"__metadata__\":[\"x\"]}", 0, "__metadata__ is not an object")]
    [InlineData("{\"__metadata__\":\"x\"}", 0, "__metadata__ is not an object")]
    [InlineData("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value 'k' is not a string")]
    [InlineData("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "__metadata__ value 'k' is not a string")]
    [InlineData("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate __metadata__ key 'k'")]
    [InlineData("{\"a\\nb\":1}", 0, "'a?b' is not an object")]
    public void Open_RefusesMalformedHeader(string header, long dataBytes, string expected)
    {
        string path = PathOf("bad.safetensors");
        WriteRaw(path, header, dataBytes);
        AssertRefused(path, expected);
    }

    [Fact]
    public void Open_RefusesDeeplyNestedHeaderWithoutStackOverflow()
    {
        string path = PathOf("deep.safetensors");
        WriteRaw(path, "{\"a\":" + new string('[', 100_000) + new string(']', 100_000) + "}", 0);
        AssertRefused(path, "not valid JSON");
    }

    [Fact]
    public void Open_RefusesEmptyFile()
    {
        string path = PathOf("empty.safetensors");
        File.WriteAllBytes(path, []);
        AssertRefused(path, "empty file");
    }

    [Fact]
    public void Open_RefusesFileShorterThan8Bytes()
    {
        string path = PathOf("short.safetensors");
        File.WriteAllBytes(path, [1, 0, 0]);
        AssertRefused(path, "not a safetensors file (3 bytes");
    }

    [Fact]
    public void Open_RefusesZeroHeaderLength()
    {
        string path = PathOf("zero.safetensors");
        WriteRaw(path, "{}", 0, headerLength: 0);
        AssertRefused(path, "header length is 0");
    }

    [Fact]
    public void Open_RefusesHeaderLengthBeyondFileSize()
    {
        string path = PathOf("long.safetensors");
        WriteRaw(path, "{}", 0, headerLength: 3);
        AssertRefused(path, "header length 3 exceeds file size 10");
    }

    [Fact]
    public void Open_RefusesTextFileAsNotSafetensors()
    {
        string path = PathOf("readme.txt");
        File.WriteAllText(path, "This is a plain text file, not a model.\n");
        AssertRefused(path, "not a safetensors file (header length ");
    }

    [Fact]
    public void Open_RefusesHeaderOver100MBWithoutReadingIt()
    {
        // A sparse file larger than the header it claims, so only the size limit applies.
        string path = PathOf("huge.safetensors");
        WriteRaw(path, "{}", 200_000_000, headerLength: 150_000_000);
        AssertRefused(path, "header length 150000000 exceeds the limit");
    }

    [Fact]
    public void Open_RefusesHeaderThatIsNotUtf8()
    {
        string path = PathOf("latin1.safetensors");
        WriteRaw(path, [(byte)'{', (byte)'"', 0xE9, (byte)'"', (byte)':', (byte)'1', (byte)'}', (byte)' '], 0);
        AssertRefused(path, "not valid UTF-8");
    }

    [Fact]
    public void Open_RefusesMissingFile()
    {
        string path = PathOf("missing.safetensors");
        var e = Assert.Throws<EdgeException>(() => SafeTensorsFile.Open(path));
        Assert.Equal($"{path}: file not found", e.Message);
    }

    [Fact]
    public void Open_AcceptsUnpaddedHeaderAndZeroSizeTensorsSharingAnOffset()
    {
        // Other writers need not align; zero-size tensors occupy no bytes and cannot overlap anything.
        string path = PathOf("loose.safetensors");
        WriteRaw(path, """{"z1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":""" + T4.Replace("[0,4]", "[4,8]")
            + ""","a":""" + T4 + ""","z2":{"dtype":"I8","shape":[3,0],"data_offsets":[4,4]}}""", 8);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(["a", "z1", "z2", "b"], f.Tensors.Select(t => t.Name));
        Assert.Equal(4, f.Get("b").Offset);
    }
}
