namespace Edge;

/// <summary>One parameter tensor: its checkpoint name, shape, and where it lives in the weight buffer.</summary>
/// <param name="Decay">Whether weight decay applies (matrices and embeddings yes; biases and norms no).</param>
public sealed record ParameterInfo(string Name, int[] Shape, int Offset, int Length, bool Decay)
{
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>One activation buffer in the arena, sized for the model's largest batch.</summary>
public sealed record ActivationInfo(string Name, int Offset, int Length);

/// <summary>
/// Where every parameter and activation of a model lives: one buffer of weights (the same layout for
/// gradients and optimiser moments) and one arena of activations. Generated code builds it once, at
/// construction, from the compile-time shapes plus the sizes known only at run time (vocabulary, batch).
/// Parameters are packed back to back in declaration order, exactly as a checkpoint stores them, so a
/// checkpoint's data section can serve as the weight buffer directly (memory-mapped, no copy).
/// Activation offsets are multiples of 16 floats (64 bytes) from the start of the arena.
/// </summary>
public sealed class ModelLayout
{
    const int Align = 16; // floats: 64 bytes

    readonly List<ParameterInfo> _parameters = [];
    readonly List<ActivationInfo> _activations = [];

    public ModelLayout(string modelName, int vocabSize, int maxBatch, int inputLength, int targetLength)
    {
        if (vocabSize <= 0) throw new EdgeException($"model {modelName}: vocabulary size must be positive, got {vocabSize}");
        if (maxBatch <= 0) throw new EdgeException($"model {modelName}: batch size must be positive, got {maxBatch}");
        ModelName = modelName;
        VocabSize = vocabSize;
        MaxBatch = maxBatch;
        InputLength = inputLength;
        TargetLength = targetLength;
    }

    public string ModelName { get; }
    public int VocabSize { get; }
    public int MaxBatch { get; }
    /// <summary>Tokens per example fed to the model.</summary>
    public int InputLength { get; }
    /// <summary>Targets per example: 1 for models that predict the next token after a window, T for sequence models.</summary>
    public int TargetLength { get; }
    public IReadOnlyList<ParameterInfo> Parameters => _parameters;
    public IReadOnlyList<ActivationInfo> Activations => _activations;
    /// <summary>Floats in the weight buffer, padding included.</summary>
    public int WeightLength { get; private set; }
    public int ActivationLength { get; private set; }
    public long ParameterCount => _parameters.Sum(p => (long)p.Length);

    /// <summary>Adds a parameter and returns its offset in the weight buffer.</summary>
    public int Parameter(string name, int[] shape, bool decay)
    {
        long length = 1;
        foreach (var d in shape) length *= d;
        if (length > int.MaxValue || (long)WeightLength + length > int.MaxValue)
            throw new EdgeException($"model {ModelName}: parameter '{name}' [{string.Join(", ", shape)}] does not fit in one weight buffer ({int.MaxValue:N0} floats at most)");
        int offset = WeightLength;
        WeightLength = checked(offset + checked((int)length));
        _parameters.Add(new ParameterInfo(name, shape, offset, (int)length, decay));
        return offset;
    }

    /// <summary>Adds an activation buffer of <paramref name="length"/> floats and returns its offset in the arena.</summary>
    public int Activation(string name, long length)
    {
        if (length > int.MaxValue || ActivationLength + length > int.MaxValue)
            throw new EdgeException($"model {ModelName}: activations do not fit in one arena at batch {MaxBatch} ('{name}' needs {length:N0} floats); use a smaller batch");
        int offset = ActivationLength;
        ActivationLength = checked(AlignUp(offset + (int)length));
        _activations.Add(new ActivationInfo(name, offset, (int)length));
        return offset;
    }

    public ParameterInfo? Find(string name) => _parameters.Find(p => p.Name == name);

    static int AlignUp(int n) => (n + Align - 1) / Align * Align;
}
