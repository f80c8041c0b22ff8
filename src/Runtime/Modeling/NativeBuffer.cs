using System.Runtime.InteropServices;

namespace Edge;

/// <summary>
/// One 64-byte-aligned block of floats outside the managed heap, zeroed, freed on dispose. Models hold their
/// weights, gradients and activations in these so a training step never touches the garbage collector.
/// </summary>
public sealed unsafe class NativeBuffer : IDisposable
{
    float* _ptr;

    public NativeBuffer(int length)
    {
        Length = length;
        nuint bytes = (nuint)Math.Max(length, 1) * sizeof(float);
        _ptr = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(_ptr, bytes);
    }

    public int Length { get; }

    public Span<float> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(_ptr == null, this);
            return new Span<float>(_ptr, Length);
        }
    }

    public void Dispose()
    {
        if (_ptr != null)
        {
            NativeMemory.AlignedFree(_ptr);
            _ptr = null;
        }
        GC.SuppressFinalize(this);
    }

    ~NativeBuffer() => Dispose();
}
