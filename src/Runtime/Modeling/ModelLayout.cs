namespace Edge;

/// <summary>One parameter tensor: its checkpoint name, shape, and where it lives in the weight buffer.</summary>
/// <param name="Decay">Whether weight decay applies (matrices and embeddings yes; biases and norms no).</param>
public sealed record ParameterInfo(string Name, int[] Shape, int Offset, int Length, bool Decay)
{
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// A weight-matrix product of the model, y [rows, Out] = x [rows, In] @ W (+ b): the place where LoRA adapters add
/// their term and where a quantised weight replaces the fp32 one. <see cref="Index"/> is the constant the generated
/// code passes for it. <see cref="Transposed"/>: the weight is stored [Out, In] (a head tied to the embedding);
/// otherwise [In, Out] (GPT-2's Conv1D orientation).
/// </summary>
public sealed record ProjectionInfo(string Name, int Index, ParameterInfo Weight, int In, int Out, bool Transposed);

/// <summary>
/// Where every parameter of a model lives, and its weight-matrix products: one buffer of weights (the same layout for
/// gradients and optimiser moments). Generated code builds it from the compile-time shapes and the vocabulary size.
/// Parameters are packed back to back in declaration order, exactly as a checkpoint stores them, so a checkpoint's data
/// section can serve as the weight buffer directly (memory-mapped, no copy). Activations belong to contexts
/// (<see cref="ContextLayout"/>), not to the model.
/// </summary>
public sealed class ModelLayout
{
    readonly List<ParameterInfo> _parameters = [];
    readonly List<ProjectionInfo> _projections = [];

    public ModelLayout(string modelName, int vocabSize, int inputLength, int targetLength)
    {
        if (vocabSize <= 0) throw new EdgeException($"model {modelName}: vocabulary size must be positive, got {vocabSize}");
        ModelName = modelName;
        VocabSize = vocabSize;
        InputLength = inputLength;
        TargetLength = targetLength;
    }

    public string ModelName { get; }
    public int VocabSize { get; }
    /// <summary>Tokens per example fed to the model.</summary>
    public int InputLength { get; }
    /// <summary>Targets per example: 1 for models that predict the next token after a window, T for sequence models.</summary>
    public int TargetLength { get; }
    public IReadOnlyList<ParameterInfo> Parameters => _parameters;
    /// <summary>Floats in the weight buffer, padding included.</summary>
    public int WeightLength { get; private set; }
    /// <summary>The weight-matrix products, in forward order; index i is the site the generated code calls i.</summary>
    public IReadOnlyList<ProjectionInfo> Projections => _projections;
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

    /// <summary>Registers the product x [rows, inDim] @ weight and returns its site index.</summary>
    public int Projection(string name, string weight, int inDim, int outDim, bool transposed)
    {
        var w = Find(weight) ?? throw new EdgeException($"model {ModelName}: projection '{name}' names no parameter '{weight}'");
        if ((long)inDim * outDim != w.Length)
            throw new EdgeException($"model {ModelName}: projection '{name}' is [{inDim}, {outDim}] but '{weight}' holds {w.Length} values");
        _projections.Add(new ProjectionInfo(name, _projections.Count, w, inDim, outDim, transposed));
        return _projections.Count - 1;
    }

    public ProjectionInfo? FindProjection(string name) => _projections.Find(p => p.Name == name);

    public ParameterInfo? Find(string name) => _parameters.Find(p => p.Name == name);
}
