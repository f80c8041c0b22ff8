using System.Runtime.CompilerServices;

namespace Edge.Quantization;

/// <summary>The largest difference between a weight and its quantised value, and where it is.</summary>
public readonly record struct QuantizationError(float MaxAbsError, float BlockMaxAbs, long Block)
{
    /// <summary>The error relative to the largest magnitude in its block.</summary>
    public float Relative => BlockMaxAbs > 0 ? MaxAbsError / BlockMaxAbs : 0f;
}

/// <summary>fp32 weights to quantised blocks (the rounding rules are GGML's reference ones).</summary>
public static unsafe class Quantizer
{
    /// <summary>
    /// Quantises a product's weight: <paramref name="w"/> is [inDim, outDim] (Conv1D) or, when
    /// <paramref name="transposed"/>, [outDim, inDim] (a tied head's wte). The result holds outDim rows of inDim
    /// weights (see <see cref="QuantizedMatrix"/>); inDim must be a multiple of 32.
    /// </summary>
    public static byte[] Quantize(ReadOnlySpan<float> w, int inDim, int outDim, bool transposed, QuantType type, out QuantizationError worst)
    {
        if (inDim % QuantTypes.BlockSize != 0) throw new ArgumentException($"the input dimension {inDim} is not a multiple of {QuantTypes.BlockSize}", nameof(inDim));
        if (w.Length != (long)inDim * outDim) throw new ArgumentException($"weights hold {w.Length} values, [{inDim}, {outDim}] needs {(long)inDim * outDim}", nameof(w));
        var bytes = new byte[QuantizedMatrix.BytesFor(type, outDim, inDim)];
        int blockBytes = type.BlockBytes(), blocksPerRow = inDim / QuantTypes.BlockSize;
        Span<float> block = stackalloc float[QuantTypes.BlockSize];
        Span<float> back = stackalloc float[QuantTypes.BlockSize];
        worst = default;
        fixed (byte* dst = bytes)
        {
            for (int row = 0; row < outDim; row++)
                for (int b = 0; b < blocksPerRow; b++)
                {
                    for (int i = 0; i < QuantTypes.BlockSize; i++)
                    {
                        int input = b * QuantTypes.BlockSize + i;
                        block[i] = transposed ? w[row * inDim + input] : w[input * outDim + row];
                    }
                    long index = (long)row * blocksPerRow + b;
                    byte* p = dst + index * blockBytes;
                    QuantizeBlock(type, block, p);
                    QuantizedMatrix.DequantizeBlock(type, p, back);
                    float err = 0, amax = 0;
                    for (int i = 0; i < QuantTypes.BlockSize; i++)
                    {
                        err = MathF.Max(err, MathF.Abs(block[i] - back[i]));
                        amax = MathF.Max(amax, MathF.Abs(block[i]));
                    }
                    if (err > worst.MaxAbsError) worst = new QuantizationError(err, amax, index);
                }
        }
        return bytes;
    }

    /// <summary>One block of 32 weights into <paramref name="p"/> (<see cref="QuantTypes.BlockBytes"/> bytes).</summary>
    internal static void QuantizeBlock(QuantType type, ReadOnlySpan<float> x, byte* p)
    {
        switch (type)
        {
            case QuantType.Q8_0:
            {
                float amax = 0;
                for (int i = 0; i < 32; i++) amax = MathF.Max(amax, MathF.Abs(x[i]));
                float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
                WriteHalf(p, d);
                for (int i = 0; i < 32; i++) p[2 + i] = (byte)(sbyte)MathF.Round(x[i] * id);
                break;
            }
            case QuantType.Q4_0:
            {
                // The value of largest magnitude maps to -8, so the other end (+7) loses the least.
                float amax = 0, max = 0;
                for (int i = 0; i < 32; i++)
                    if (MathF.Abs(x[i]) > amax) { amax = MathF.Abs(x[i]); max = x[i]; }
                float d = max / -8f, id = d != 0 ? 1f / d : 0f;
                WriteHalf(p, d);
                for (int i = 0; i < 16; i++)
                {
                    int lo = Math.Min(15, (int)(x[i] * id + 8.5f));
                    int hi = Math.Min(15, (int)(x[i + 16] * id + 8.5f));
                    p[2 + i] = (byte)(lo | (hi << 4));
                }
                break;
            }
            default:
            {
                float min = float.MaxValue, max = float.MinValue;
                for (int i = 0; i < 32; i++) { min = MathF.Min(min, x[i]); max = MathF.Max(max, x[i]); }
                float d = (max - min) / 15f, id = d != 0 ? 1f / d : 0f;
                WriteHalf(p, d);
                WriteHalf(p + 2, min);
                for (int i = 0; i < 16; i++)
                {
                    int lo = Math.Min(15, (int)((x[i] - min) * id + 0.5f));
                    int hi = Math.Min(15, (int)((x[i + 16] - min) * id + 0.5f));
                    p[4 + i] = (byte)(lo | (hi << 4));
                }
                break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void WriteHalf(byte* p, float value) => Unsafe.WriteUnaligned(p, (Half)value);
}
