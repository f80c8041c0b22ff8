namespace Edge.Formats;

/// <summary>
/// One tensor of a safetensors file. <paramref name="Offset"/> is the byte offset from the start of the data
/// section (the file's <c>data_offsets[0]</c>), <paramref name="ByteLength"/> = ElementCount * DType size.
/// </summary>
public sealed record TensorInfo(string Name, DType DType, long[] Shape, long Offset, long ByteLength)
{
    /// <summary>Product of the shape; 1 for a scalar (shape []).</summary>
    public long ElementCount
    {
        get { long n = 1; foreach (long d in Shape) n *= d; return n; }
    }

    public override string ToString() => $"{Name} {DType.Name()}[{string.Join(",", Shape)}]";
}

/// <summary>Supplies the little-endian bytes of tensor <paramref name="index"/> to <see cref="SafeTensorsWriter"/>.</summary>
public delegate ReadOnlySpan<byte> TensorBytes(int index);
