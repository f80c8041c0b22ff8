namespace Edge.Quantization;

/// <summary>
/// Weight-only block quantisation formats: blocks of 32 consecutive weights along a matrix row (the input
/// dimension of the product), each block with its own fp16 scale. The block layouts are GGML's Q8_0, Q4_0 and
/// Q4_1 (docs/QUANTIZATION.md):
/// <list type="bullet">
/// <item>Q8_0, 34 bytes: fp16 d, then 32 int8 q; w = d * q, d = max|w| / 127.</item>
/// <item>Q4_0, 18 bytes: fp16 d, then 16 bytes of nibbles (byte i: element i in the low nibble, element i + 16
/// in the high one); w = d * (q - 8), d = m / -8 for m the block's value of largest magnitude.</item>
/// <item>Q4_1, 20 bytes: fp16 d, fp16 min, then the nibbles as Q4_0; w = d * q + min, d = (max - min) / 15.</item>
/// </list>
/// </summary>
public enum QuantType { Q8_0, Q4_0, Q4_1 }

public static class QuantTypes
{
    /// <summary>Weights per block.</summary>
    public const int BlockSize = 32;

    public static int BlockBytes(this QuantType t) => t switch
    {
        QuantType.Q8_0 => 2 + 32,
        QuantType.Q4_0 => 2 + 16,
        _ => 2 + 2 + 16,
    };

    /// <summary>The name in files and metadata (GGML's): q8_0, q4_0, q4_1.</summary>
    public static string Name(this QuantType t) => t switch
    {
        QuantType.Q8_0 => "q8_0",
        QuantType.Q4_0 => "q4_0",
        _ => "q4_1",
    };

    /// <summary>The file name (q8_0, q4_0, q4_1) or the CLI's short name (q8, q4, q4m).</summary>
    public static bool TryParse(string name, out QuantType type)
    {
        switch (name)
        {
            case "q8_0" or "q8": type = QuantType.Q8_0; return true;
            case "q4_0" or "q4": type = QuantType.Q4_0; return true;
            case "q4_1" or "q4m": type = QuantType.Q4_1; return true;
            default: type = default; return false;
        }
    }

    /// <summary>Bits per weight, scale included: 8.5, 4.5, 5.</summary>
    public static double BitsPerWeight(this QuantType t) => t.BlockBytes() * 8.0 / BlockSize;
}
