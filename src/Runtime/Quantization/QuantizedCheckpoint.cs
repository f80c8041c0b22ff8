using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Edge.Formats;

namespace Edge.Quantization;

/// <summary>What <see cref="QuantizedCheckpoint.Write"/> did.</summary>
/// <param name="Fp32Bytes">The weights' size in fp32.</param>
/// <param name="FileBytes">The written file's size.</param>
/// <param name="Worst">The largest |w - dequantised w| over all blocks, in <paramref name="WorstTensor"/>.</param>
/// <param name="Kept">Tensors kept in fp32, with the reason.</param>
public sealed record QuantizeReport(QuantType Type, long Fp32Bytes, long FileBytes, int QuantizedTensors, long QuantizedParameters,
    QuantizationError Worst, string WorstTensor, IReadOnlyList<(string Tensor, string Reason)> Kept);

/// <summary>
/// Quantised models on disk: a safetensors file like a checkpoint, where the weight of every matrix product whose
/// input dimension is a multiple of 32 is a U8 tensor [rows, row bytes] of blocks (<see cref="QuantizedMatrix"/>),
/// and everything else (embeddings' positions, LayerNorms, biases) stays F32. The metadata says how to read each:
/// <c>edge.quant</c> = the file's type, and per quantised tensor <c>edge.quant.NAME</c> = a JSON record with the type,
/// the tensor's fp32 shape, the stored rows and columns, and an XXH64 checksum of its bytes. A loader refuses a
/// tensor whose record is missing or unknown, whose byte count is not the block count its shape needs, whose
/// checksum differs, or whose blocks hold a non-finite scale. Documented in docs/QUANTIZATION.md.
/// </summary>
public static class QuantizedCheckpoint
{
    public const string TypeKey = "edge.quant";
    public const string TensorKeyPrefix = "edge.quant.";
    /// <summary>The fp32 base's fingerprint, so LoRA adapters trained on it are accepted by the quantised copy.</summary>
    public const string BaseFingerprintKey = "edge.base_fingerprint";

    /// <summary>
    /// Quantises the products' weights of <paramref name="model"/> (fp32) to <paramref name="type"/> and writes
    /// them with the other tensors and <paramref name="metadata"/> to <paramref name="path"/> (crash-safe).
    /// <paramref name="progress"/> is told (tensors done, tensors in all).
    /// </summary>
    public static QuantizeReport Write(string path, LanguageModel model, QuantType type, IReadOnlyDictionary<string, string> metadata,
        Action<int, int>? progress = null)
    {
        QuantizeReport? report = null;
        Files.SafeFile.Write(path, stream => report = Write(stream, model, type, metadata, progress));
        return report!;
    }

    /// <summary>As <see cref="Write(string, LanguageModel, QuantType, IReadOnlyDictionary{string, string}, Action{int, int}?)"/>, to a stream
    /// (one file of a folder that <see cref="Files.SafeFile.CommitFolder"/> writes).</summary>
    public static QuantizeReport Write(Stream stream, LanguageModel model, QuantType type, IReadOnlyDictionary<string, string> metadata,
        Action<int, int>? progress = null)
    {
        if (model.IsQuantized) throw new EdgeException($"{model.Name} is already quantised");
        var parameters = model.Parameters;
        var tensors = new List<(string Name, DType DType, long[] Shape)>();
        var data = new byte[]?[parameters.Count]; // the quantised tensors' bytes; null for fp32 ones
        var meta = new Dictionary<string, string>(metadata)
        {
            [TypeKey] = type.Name(), ["format"] = "pt", [BaseFingerprintKey] = Lora.BaseFingerprint.Of(model),
        };
        var kept = new List<(string, string)>();
        QuantizationError worst = default;
        string worstTensor = "";
        int quantized = 0;
        long quantizedParameters = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            var weights = model.Weights.Slice(p.Offset, p.Length);
            if (QuantizableSite(model, p, out var reason) is not { } site)
            {
                if (reason is not null) kept.Add((p.Name, reason));
                tensors.Add((p.Name, DType.F32, p.Shape.Select(d => (long)d).ToArray())); // written from the weights as they are
            }
            else
            {
                var bytes = Quantizer.Quantize(weights, site.In, site.Out, site.Transposed, type, out var error);
                if (error.MaxAbsError >= worst.MaxAbsError) { worst = error; worstTensor = p.Name; }
                tensors.Add((p.Name, DType.U8, [site.Out, bytes.Length / site.Out]));
                data[i] = bytes;
                meta[TensorKeyPrefix + p.Name] = EdgeJson.Write(new QuantizedTensorRecord(type.Name(), p.Shape, site.Out, site.In,
                    System.IO.Hashing.XxHash64.HashToUInt64(bytes).ToString("x16", CultureInfo.InvariantCulture)));
                quantized++;
                quantizedParameters += p.Length;
            }
            progress?.Invoke(i + 1, parameters.Count);
        }
        if (quantized == 0)
            throw new EdgeException($"{model.Name} has no matrix product with an input dimension that is a multiple of {QuantTypes.BlockSize}: nothing to quantise");
        long start = stream.Position;
        SafeTensorsWriter.WriteTo(stream, tensors,
            i => data[i] ?? MemoryMarshal.AsBytes((ReadOnlySpan<float>)model.Weights.Slice(parameters[i].Offset, parameters[i].Length)), meta);
        return new QuantizeReport(type, 4 * model.ParameterCount, stream.Position - start, quantized, quantizedParameters, worst, worstTensor, kept);
    }

    /// <summary>
    /// The matrix product whose weight <paramref name="p"/> is, when it quantises (its input dimension is a multiple
    /// of 32); otherwise null, with <paramref name="whyNot"/> saying why for a product's weight (null for the rest:
    /// norms, biases, position embeddings).
    /// </summary>
    static ProjectionInfo? QuantizableSite(LanguageModel model, ParameterInfo p, out string? whyNot)
    {
        var site = model.Layout.Projections.FirstOrDefault(s => s.Weight == p);
        whyNot = site is not null && site.In % QuantTypes.BlockSize != 0
            ? $"input dimension {site.In} is not a multiple of {QuantTypes.BlockSize}" : null;
        return site is not null && whyNot is null ? site : null;
    }

    /// <summary>
    /// Quantises <paramref name="model"/>'s product weights in memory (as <see cref="Write"/> would store them), for
    /// benchmarks on random weights: the fp32 values stay in the weight buffer, unused.
    /// </summary>
    public static void QuantizeInMemory(LanguageModel model, QuantType type)
    {
        if (model.IsQuantized) throw new EdgeException($"{model.Name} is already quantised");
        var byParameter = new QuantizedMatrix?[model.Parameters.Count];
        for (int i = 0; i < byParameter.Length; i++)
        {
            var p = model.Parameters[i];
            if (QuantizableSite(model, p, out _) is not { } site) continue;
            byParameter[i] = QuantizedMatrix.Create(model.Weights.Slice(p.Offset, p.Length), site.In, site.Out, site.Transposed, type);
        }
        if (byParameter.All(q => q is null))
            throw new EdgeException($"{model.Name} has no matrix product with an input dimension that is a multiple of {QuantTypes.BlockSize}: nothing to quantise");
        model.AttachQuantized(byParameter, NoOwner.Instance);
    }

    /// <summary>The weight bytes one decoded token reads: every product's weight once (quantised or fp32).</summary>
    public static long WeightBytesPerToken(LanguageModel model)
    {
        long bytes = 0;
        foreach (var p in model.Parameters)
            if (model.Layout.Projections.Any(s => s.Weight == p))
                bytes += model.QuantizedWeight(p.Name) is { } q ? q.ByteLength : 4L * p.Length;
        return bytes;
    }

    sealed class NoOwner : IDisposable
    {
        public static readonly NoOwner Instance = new();
        public void Dispose() { }
    }

    /// <summary>
    /// The quantised tensors of <paramref name="file"/> for <paramref name="model"/>'s parameters (found by
    /// <paramref name="tensors"/>[i]), validated; null entries are fp32. Null when the file holds none.
    /// </summary>
    internal static unsafe QuantizedMatrix?[]? Read(SafeTensorsFile file, string path, LanguageModel model, IReadOnlyList<TensorInfo> tensors)
    {
        bool any = file.Metadata.TryGetValue(TypeKey, out var fileType);
        if (any && !QuantTypes.TryParse(fileType!, out _))
            throw new EdgeException($"{path}: unknown quantisation type '{fileType}' (Edge reads q8_0, q4_0, q4_1)");
        QuantizedMatrix?[]? result = null;
        for (int i = 0; i < tensors.Count; i++)
        {
            var p = model.Parameters[i];
            var t = tensors[i];
            if (!file.Metadata.TryGetValue(TensorKeyPrefix + p.Name, out var json))
            {
                if (t.DType == DType.U8)
                    throw new EdgeException($"{path}: tensor '{t.Name}' is U8 but the metadata has no '{TensorKeyPrefix}{p.Name}' record saying how it is quantised");
                continue;
            }
            QuantizedTensorRecord record;
            try { record = EdgeJson.Read<QuantizedTensorRecord>(json) ?? throw new JsonException("null"); }
            catch (JsonException) { throw new EdgeException($"{path}: the quantisation record of '{p.Name}' is not valid JSON"); }
            if (record.Type is null || !QuantTypes.TryParse(record.Type, out var type) || record.Type != type.Name())
                throw new EdgeException($"{path}: tensor '{p.Name}' has unknown quantisation type '{record.Type}' (Edge reads q8_0, q4_0, q4_1)");
            if (record.Shape is null || !record.Shape.SequenceEqual(p.Shape))
                throw new EdgeException($"{path}: quantised '{p.Name}' has shape [{string.Join(", ", record.Shape ?? [])}], {model.Name} needs {p.ShapeText}");
            var site = model.Layout.Projections.FirstOrDefault(s => s.Weight == p)
                ?? throw new EdgeException($"{path}: '{p.Name}' is quantised but {model.Name} does not use it in a matrix product");
            if (record.Rows != site.Out || record.Cols != site.In || site.In % QuantTypes.BlockSize != 0)
                throw new EdgeException($"{path}: quantised '{p.Name}' is stored as [{record.Rows}, {record.Cols}], the product needs [{site.Out}, {site.In}] (out, in)");
            if (t.DType != DType.U8)
                throw new EdgeException($"{path}: quantised '{p.Name}' has dtype {t.DType.Name()}, expected U8");
            long need = QuantizedMatrix.BytesFor(type, site.Out, site.In);
            if (t.ByteLength != need)
            {
                long blocks = t.ByteLength / type.BlockBytes(), needBlocks = need / type.BlockBytes();
                throw new EdgeException($"{path}: quantised '{p.Name}' holds {t.ByteLength:N0} bytes ({blocks:N0} {type.Name()} blocks), its shape needs {needBlocks:N0} blocks ({need:N0} bytes)");
            }
            if (record.Xxh64 is null || !ulong.TryParse(record.Xxh64, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong expected))
                throw new EdgeException($"{path}: the quantisation record of '{p.Name}' has no checksum");
            if (System.IO.Hashing.XxHash64.HashToUInt64(file.GetBytes(t)) != expected)
                throw new EdgeException($"{path}: quantised '{p.Name}' is corrupted (its bytes do not match the checksum written with them)");
            var matrix = new QuantizedMatrix(type, site.Out, site.In, file.Address(t));
            if (matrix.Grouped) file.ReleasePages(t); // the matrix holds a regrouped copy; the file's pages are done with
            long bad = matrix.FindCorruptBlock();
            if (bad >= 0)
                throw new EdgeException($"{path}: quantised '{p.Name}' is corrupted: block {bad:N0} has a non-finite scale");
            (result ??= new QuantizedMatrix?[tensors.Count])[i] = matrix;
        }
        if (any && result is null) throw new EdgeException($"{path}: marked '{TypeKey}: {fileType}' but holds no quantised tensor");
        if (result is not null) model.QuantizedFromFingerprint = file.Metadata.GetValueOrDefault(BaseFingerprintKey);
        return result;
    }
}
