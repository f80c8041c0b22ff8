using Edge.Data;
using Edge.Quantization;

namespace Edge;

/// <summary>
/// The base of every generated model, as llama.cpp's llama_model: the weights (owned, or a read-only mapping of a
/// checkpoint), the parameter layout, and per projection site the kernel that computes its product (fp32, transposed or
/// quantised, chosen when weights are attached). Nothing here changes while the model runs: every pass runs in a
/// <see cref="ModelContext"/> that holds the activations, gradients, KV cache and adapters of one user of the model.
///
/// Threading: any number of contexts may run on one model at once, on any threads, with no lock (each context on one
/// thread at a time). Only a trainer writes the weights (its optimiser step); while one does, no other context may run
/// on the same model. See docs/ARCHITECTURE.md, "Model and context".
///
/// Shapes: a pass sees <c>batch</c> examples of <c>length</c> tokens. Window models (MLPs, bigram) always take
/// <see cref="InputLength"/> tokens and predict one target; sequence models (transformers) take 1..<see cref="InputLength"/>
/// tokens and predict a target at every position.
/// </summary>
public abstract unsafe class LanguageModel : IDisposable
{
    NativeBuffer? _ownedWeights;
    float* _weights;
    IDisposable? _mapping;
    readonly int[] _offsets;            // per parameter: where it starts in the weights
    readonly ProjectionKernel[] _kernels;
    // Quantised weights (null: all fp32), per parameter; their bytes live in _quantizedOwner (the mapped file). The fp32
    // slices of those parameters stay unused (and unwritten, so their zero pages are never made resident).
    QuantizedMatrix?[]? _quantized;
    IDisposable? _quantizedOwner;

    /// <summary>Allocates the weights (zeros) for the layout <paramref name="info"/> describes at <paramref name="vocabSize"/>; called by generated models.</summary>
    protected LanguageModel(ModelInfo info, int vocabSize)
    {
        Info = info;
        Layout = info.Describe(vocabSize);
        _ownedWeights = new NativeBuffer(Layout.WeightLength);
        _weights = _ownedWeights.Pointer;
        _offsets = Layout.Parameters.Select(p => p.Offset).ToArray();
        _kernels = Layout.Projections.Select(p => p.Transposed ? (ProjectionKernel)ProjectionKernel.Fp32Rows.Instance : ProjectionKernel.Fp32.Instance).ToArray();
    }

    /// <summary>The declaration's description: name, context, recipe, slots and factory (what the generated registry lists).</summary>
    public ModelInfo Info { get; }
    /// <summary>The parameter layout: every tensor's checkpoint name, shape and offset in <see cref="Weights"/>, and the projection sites.</summary>
    public ModelLayout Layout { get; }
    /// <summary>The declared model name (<c>[LanguageModel("...")]</c>).</summary>
    public string Name => Layout.ModelName;
    /// <summary>The vocabulary size V the model was created for.</summary>
    public int VocabSize => Layout.VocabSize;
    /// <summary>Tokens per example (the context); sequence models accept fewer.</summary>
    public int InputLength => Layout.InputLength;
    /// <summary>Targets per example at full length: 1 for window models, the context for sequence models.</summary>
    public int TargetLength => Layout.TargetLength;
    /// <summary>True for transformers: a prediction at every position of a sequence of up to the context's length.</summary>
    public bool IsSequenceModel => Info.SequenceTargets;
    /// <summary>True for a counting bigram table (<c>[BigramTable(Counting = true)]</c>): fitted by <see cref="FitCounts"/>, not trained.</summary>
    public bool FitsByCounting => Info.FitsByCounting;
    /// <summary>Every parameter tensor, in checkpoint order.</summary>
    public IReadOnlyList<ParameterInfo> Parameters => Layout.Parameters;
    /// <summary>The number of weights (floats) in all parameters.</summary>
    public long ParameterCount => Layout.ParameterCount;

    /// <summary>All parameters, laid out as <see cref="Parameters"/> says. Writing them is for trainers and loaders only.</summary>
    public Span<float> Weights => new(_weights, Layout.WeightLength);

    /// <summary>True when the weights are a read-only view of a checkpoint file (nothing may write them).</summary>
    public bool WeightsAreMapped => _mapping is not null;

    /// <summary>
    /// Uses <paramref name="weights"/> (Layout.WeightLength floats inside a read-only mapping that <paramref name="owner"/>
    /// keeps alive) as the weight buffer: no copy, and pages load on first use.
    /// </summary>
    internal void MapWeights(float* weights, IDisposable owner)
    {
        _ownedWeights?.Dispose();
        _ownedWeights = null;
        _weights = weights;
        _mapping = owner;
    }

    internal void CheckWritable(string what)
    {
        if (WeightsAreMapped)
            throw new InvalidOperationException($"{what}: the weights of {Name} are memory-mapped read-only from a checkpoint; load a copy to change them");
    }

    // ---- contexts ----

    /// <summary>
    /// A context for forward passes (evaluation, logits) on up to <paramref name="maxBatch"/> examples: activations share
    /// memory by lifetime unless <paramref name="keepActivations"/> (then every activation of the last pass, attention maps
    /// included, stays readable through <see cref="ModelContext.ActivationValues"/>).
    /// </summary>
    public ModelContext CreateInferenceContext(int maxBatch = 1, bool keepActivations = false) =>
        new(this, ContextKind.Inference, maxBatch, weightGradients: false, keepActivations);

    /// <summary>
    /// A context for training on up to <paramref name="maxBatch"/> examples: activation gradients, the saved batch, the
    /// dropout stream and (unless <paramref name="frozenWeights"/>: adapter training) the weights' gradients.
    /// </summary>
    public ModelContext CreateTrainingContext(int maxBatch, bool frozenWeights = false)
    {
        if (!frozenWeights)
        {
            CheckWritable("training");
            if (IsQuantized) throw new InvalidOperationException($"{Name} has quantised weights, which cannot be trained");
        }
        else if (IsQuantized) throw new InvalidOperationException($"{Name} has quantised weights: train adapters on the fp32 base, then use them on the quantised one");
        return new(this, ContextKind.Training, maxBatch, weightGradients: !frozenWeights, keepActivations: true);
    }

    /// <summary>A context for generation (sequence models): batch 1 and a KV cache over the whole context.</summary>
    public ModelContext CreateDecodingContext()
    {
        if (!IsSequenceModel) throw new InvalidOperationException($"{Name} has no KV cache: it reads a fixed window (use an inference context's Logits)");
        return new(this, ContextKind.Decoding, 1, weightGradients: false, keepActivations: false);
    }

    // ---- what generated code calls ----

    /// <summary>A parameter's weights (index in <see cref="Parameters"/>).</summary>
    protected ReadOnlySpan<float> W(int parameter, int length) => Weights.Slice(_offsets[parameter], length);

    /// <summary>Where a parameter starts in <see cref="Weights"/>.</summary>
    protected int Offset(int parameter) => _offsets[parameter];

    /// <summary>
    /// The projection hook generated code calls for every weight-matrix product (site = index in
    /// <see cref="ModelLayout.Projections"/>): y [rows, m] = x [rows, n] @ W + b through the site's kernel; then each of the
    /// context's active adapters adds its term for this site.
    /// </summary>
    protected void Project(ModelContext c, int site, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y,
        int rows, int n, int m)
    {
        _kernels[site].Forward(x, w, b, y, rows, n, m);
        c.Adapters?.Forward(site, x, y, rows, c.TrainingPass);
    }

    /// <summary>
    /// The backward of <see cref="Project"/>: dx += dy W^T, dW and db (empty while the weights are frozen), and the
    /// active adapters' own gradients and their share of dx.
    /// </summary>
    protected void ProjectBackward(ModelContext c, int site, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> dy,
        Span<float> dx, Span<float> dw, Span<float> db, int rows, int n, int m)
    {
        _kernels[site].Backward(x, w, dy, dx, dw, db, rows, n, m);
        c.Adapters?.Backward(site, x, dy, dx, rows);
    }

    /// <summary>
    /// Embedding rows: y [count, dim] = table[tokens[k]] for the table at parameter <paramref name="parameter"/> (fp32, or
    /// dequantised row by row when the table is quantised: a head tied to the embedding).
    /// </summary>
    protected void Embed(int parameter, ReadOnlySpan<int> tokens, ReadOnlySpan<float> table, Span<float> y, int count, int dim)
    {
        if (_quantized?[parameter] is not { } q)
        {
            Kernels.Embedding.Forward(tokens, table, y, count, dim);
            return;
        }
        for (int k = 0; k < count; k++) q.DequantizeRow(tokens[k], y.Slice(k * dim, dim));
    }

    // ---- quantised weights ----

    /// <summary>For a quantised model: the base fingerprint of the fp32 model it was quantised from (see Lora.BaseFingerprint).</summary>
    public string? QuantizedFromFingerprint { get; internal set; }

    /// <summary>True when some weights are quantised (generation and evaluation only: nothing can train them).</summary>
    public bool IsQuantized => _quantized is not null;

    /// <summary>The quantised form of a parameter, or null when it is fp32.</summary>
    public QuantizedMatrix? QuantizedWeight(string name)
    {
        if (_quantized is null) return null;
        for (int i = 0; i < Layout.Parameters.Count; i++)
            if (Layout.Parameters[i].Name == name) return _quantized[i];
        return null;
    }

    /// <summary>
    /// Uses quantised matrices (per parameter index; null entries stay fp32) for the products that read them;
    /// <paramref name="owner"/> keeps their bytes alive and is disposed with the model. Each must be the weight of
    /// projection sites only, stored [site Out, site In]. Attach before creating contexts.
    /// </summary>
    internal void AttachQuantized(QuantizedMatrix?[] byParameter, IDisposable owner)
    {
        if (byParameter.Length != Layout.Parameters.Count) throw new ArgumentException("one entry per parameter", nameof(byParameter));
        var kernels = (ProjectionKernel[])_kernels.Clone();
        for (int i = 0; i < byParameter.Length; i++)
        {
            if (byParameter[i] is not { } q) continue;
            var p = Layout.Parameters[i];
            bool used = false;
            foreach (var site in Layout.Projections)
            {
                if (site.Weight != p) continue;
                if (q.Rows != site.Out || q.Cols != site.In)
                    throw new EdgeException($"{Name}: quantised '{p.Name}' is [{q.Rows}, {q.Cols}], the product '{site.Name}' needs [{site.Out}, {site.In}] (out, in)");
                kernels[site.Index] = new ProjectionKernel.Quantized(q, site.Name);
                used = true;
            }
            if (!used) throw new EdgeException($"{Name}: '{p.Name}' is not the weight of a matrix product, so it cannot be quantised");
        }
        _quantizedOwner?.Dispose();
        kernels.CopyTo(_kernels, 0);
        _quantized = byParameter;
        _quantizedOwner = owner;
    }

    // ---- initialisation and counting ----

    /// <summary>Fresh random weights, the same for the same seed.</summary>
    public void Initialize(ulong seed)
    {
        CheckWritable("initialising");
        var rng = new Rng(seed);
        Weights.Clear();
        InitializeCore(ref rng);
    }

    /// <summary>Fits a counting model to the examples in one pass.</summary>
    public void FitCounts(ExampleSet examples)
    {
        CheckWritable("fitting");
        if (!FitsByCounting) throw new InvalidOperationException($"{Name} is trained by gradient descent, not by counting");
        FitCountsCore(examples);
    }

    // ---- the generated passes (run on pre-validated arguments by ModelContext) ----

    internal float RunForward(ModelContext c, ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int length, bool dropout) =>
        ForwardCore(c, tokens, targets, batch, length, dropout);
    internal void RunBackward(ModelContext c, int batch, int length) => BackwardCore(c, batch, length);
    internal ReadOnlySpan<float> RunLogits(ModelContext c, ReadOnlySpan<int> tokens, int batch, int length) => LogitsCore(c, tokens, batch, length);
    internal ReadOnlySpan<float> RunDecode(ModelContext c, ReadOnlySpan<int> tokens, int position) => DecodeCore(c, tokens, position);

    /// <summary>Generated: draws every parameter's initial values (the declaration's initialisation).</summary>
    protected abstract void InitializeCore(ref Rng rng);
    /// <summary>Generated for counting bigram tables: fills the table from the examples' counts.</summary>
    protected virtual void FitCountsCore(ExampleSet examples) => throw new NotSupportedException();
    /// <param name="dropout">True when this is a training pass with a non-zero dropout rate.</param>
    protected abstract float ForwardCore(ModelContext c, ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int length, bool dropout);
    /// <summary>Generated: the backward pass of the last training forward pass in <paramref name="c"/>.</summary>
    protected abstract void BackwardCore(ModelContext c, int batch, int length);
    /// <summary>Generated: the forward pass to the logits, [batch x length (or batch), V].</summary>
    protected abstract ReadOnlySpan<float> LogitsCore(ModelContext c, ReadOnlySpan<int> tokens, int batch, int length);
    /// <summary>Generated for sequence models: runs new tokens at <paramref name="position"/> against the KV cache; the last row's logits.</summary>
    protected virtual ReadOnlySpan<float> DecodeCore(ModelContext c, ReadOnlySpan<int> tokens, int position) => throw new NotSupportedException();

    /// <summary>Frees the weights (or unmaps the checkpoint they point into) and any quantised weights.</summary>
    public void Dispose()
    {
        _ownedWeights?.Dispose();
        _mapping?.Dispose();
        _quantizedOwner?.Dispose();
        GC.SuppressFinalize(this);
    }
}
