using System.Runtime.InteropServices;

namespace Edge;

/// <summary>
/// One block of floats outside the managed heap, zeroed, freed on dispose. Models hold their weights,
/// gradients and activations in these so a training step never touches the garbage collector. Memory comes
/// from calloc: large blocks are zero pages the OS maps lazily, so a buffer that is never touched (the
/// weights of a model about to be memory-mapped) costs nothing.
/// </summary>
public sealed unsafe class NativeBuffer : IDisposable
{
    float* _ptr;

    public NativeBuffer(int length)
    {
        Length = length;
        nuint bytes = (nuint)Math.Max(length, 1) * sizeof(float);
        _ptr = (float*)NativeMemory.AllocZeroed(bytes);
    }

    public int Length { get; }

    internal float* Pointer => _ptr;

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
            NativeMemory.Free(_ptr);
            _ptr = null;
        }
        GC.SuppressFinalize(this);
    }

    ~NativeBuffer() => Dispose();
}
