namespace Edge.Formats;

/// <summary>Element types of the safetensors format; the names are the format's dtype strings.</summary>
public enum DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL }

public static class DTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType d) => d switch
    {
        DType.F64 or DType.I64 => 8,
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 or DType.I16 => 2,
        DType.I8 or DType.U8 or DType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(d), d, "unknown dtype"),
    };

    /// <summary>The safetensors dtype string ("F32", "BF16", ...).</summary>
    public static string Name(this DType d) => d switch
    {
        DType.F64 => "F64", DType.F32 => "F32", DType.F16 => "F16", DType.BF16 => "BF16",
        DType.I64 => "I64", DType.I32 => "I32", DType.I16 => "I16", DType.I8 => "I8",
        DType.U8 => "U8", DType.BOOL => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(d), d, "unknown dtype"),
    };

    /// <summary>Parses an exact safetensors dtype string (case-sensitive; no numeric forms, unlike Enum.TryParse).</summary>
    public static bool TryParse(string name, out DType d)
    {
        switch (name)
        {
            case "F64": d = DType.F64; return true;
            case "F32": d = DType.F32; return true;
            case "F16": d = DType.F16; return true;
            case "BF16": d = DType.BF16; return true;
            case "I64": d = DType.I64; return true;
            case "I32": d = DType.I32; return true;
            case "I16": d = DType.I16; return true;
            case "I8": d = DType.I8; return true;
            case "U8": d = DType.U8; return true;
            case "BOOL": d = DType.BOOL; return true;
            default: d = default; return false;
        }
    }

    /// <summary>
    /// Element count and byte length of a shape ([] is a scalar: 1 element). False when a dimension is negative
    /// or either number overflows long; a zero dimension makes both 0 whatever the other dimensions are.
    /// </summary>
    internal static bool TrySize(ReadOnlySpan<long> shape, DType d, out long elements, out long bytes)
    {
        elements = bytes = 0;
        foreach (long dim in shape) if (dim < 0) return false;
        if (shape.Contains(0L)) return true;
        long n = 1;
        foreach (long dim in shape)
            if (Math.BigMul(n, dim, out n) != 0 || n < 0) return false;
        if (Math.BigMul(n, d.SizeOf(), out long b) != 0 || b < 0) return false;
        (elements, bytes) = (n, b);
        return true;
    }
}
