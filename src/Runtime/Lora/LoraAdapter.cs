using Edge.Kernels;
using Edge.Training;

namespace Edge.Lora;

/// <summary>One targeted projection: its site in the model and where its A and B live in the adapter's buffer.</summary>
/// <param name="Module">The Hugging Face module name, the same as the site's name ("h.0.attn.c_attn").</param>
public sealed record LoraTarget(int Site, string Module, int In, int Out, int AOffset, int BOffset);

/// <summary>
/// A LoRA adapter for one base model: for every targeted projection y [rows, Out] = x [rows, In] @ W + b it adds
///   y += s * dropout(x) @ A^T @ B^T,    A [r, In] (lora_A.weight), B [Out, r] (lora_B.weight), s = scaling * scale
/// with A and B stored as PEFT stores them (torch.nn.Linear's [out, in]), so the file is a straight copy of the
/// buffer. All A and B live in one buffer (<see cref="Weights"/>); training adds gradients, AdamW moments and what the
/// backward pass needs (the scaled x A^T of every target, and dropout masks), sized once for the largest pass. As a
/// <see cref="IParameterSet"/> (A and B of every target, all decayed) it is what a <see cref="Trainer"/> optimises on a
/// frozen base. The base model's weights are never written, except by <see cref="Merge"/> and <see cref="Unmerge"/>.
/// Inference is thread-safe (contexts on several threads share an adapter); training is single-threaded.
/// </summary>
public sealed class LoraAdapter : IDisposable, IParameterSet
{
    readonly LoraTarget[] _targets;
    readonly ParameterInfo[] _tensors;
    readonly int[] _bySite;           // site index -> index in _targets, or -1
    readonly NativeBuffer _weights;
    Training? _training;

    LoraAdapter(string modelName, int sites, LoraConfig config, IReadOnlyList<ProjectionInfo> targets)
    {
        Config = config;
        ModelName = modelName;
        _bySite = new int[sites];
        Array.Fill(_bySite, -1);
        _targets = new LoraTarget[targets.Count];
        long length = 0;
        for (int i = 0; i < targets.Count; i++)
        {
            var p = targets[i];
            long a = length, b = a + (long)config.Rank * p.In;
            length = b + (long)p.Out * config.Rank;
            if (length > int.MaxValue) throw new EdgeException($"a rank-{config.Rank} adapter on {modelName} does not fit in one buffer");
            _targets[i] = new LoraTarget(p.Index, p.Name, p.In, p.Out, (int)a, (int)b);
            _bySite[p.Index] = i;
        }
        _weights = new NativeBuffer((int)length);
        _tensors = _targets.SelectMany(t => new[]
        {
            new ParameterInfo(t.Module + ".lora_A.weight", [config.Rank, t.In], t.AOffset, config.Rank * t.In, Decay: true),
            new ParameterInfo(t.Module + ".lora_B.weight", [t.Out, config.Rank], t.BOffset, t.Out * config.Rank, Decay: true),
        }).ToArray();
    }

    /// <summary>A new adapter: A drawn like PEFT's (kaiming-uniform with a = sqrt(5): U(-1/sqrt(In), 1/sqrt(In))), B zero, so it starts as the base.</summary>
    public static LoraAdapter Create(ModelLayout layout, LoraConfig config, ulong seed)
    {
        var adapter = new LoraAdapter(layout.ModelName, layout.Projections.Count, config, config.Sites(layout));
        var rng = new Rng(seed);
        var w = adapter.Weights;
        foreach (var t in adapter._targets)
        {
            float bound = 1f / MathF.Sqrt(t.In);
            foreach (ref float v in w.Slice(t.AOffset, config.Rank * t.In)) v = (2f * rng.NextFloat() - 1f) * bound;
        }
        adapter.DropoutState = new Rng(seed ^ 0x10AA_D0D0_0000_0001UL).State;
        return adapter;
    }

    /// <summary>An adapter with zero weights on the given sites, to be filled from a file.</summary>
    internal static LoraAdapter Empty(ModelLayout layout, LoraConfig config, IReadOnlyList<ProjectionInfo> sites) =>
        new(layout.ModelName, layout.Projections.Count, config, sites);

    public LoraConfig Config { get; }
    /// <summary>The declared model this adapter's sites belong to.</summary>
    public string ModelName { get; }
    /// <summary>A label for listings (the adapter's folder name once loaded or saved).</summary>
    public string Name { get; set; } = "adapter";
    /// <summary>The fingerprint of the base it was trained on (<see cref="BaseFingerprint"/>), if known.</summary>
    public string? BaseFingerprint { get; set; }

    public int Rank => Config.Rank;
    public IReadOnlyList<LoraTarget> Targets => _targets;
    /// <summary>r * (In + Out) per target.</summary>
    public long ParameterCount => _weights.Length;
    /// <summary>All A and B, target after target: A [r, In] then B [Out, r].</summary>
    public Span<float> Weights => _weights.Span;
    /// <summary>A and B of every target, as PEFT names them ("h.0.attn.c_attn.lora_A.weight").</summary>
    public IReadOnlyList<ParameterInfo> Tensors => _tensors;
    Span<float> IParameterSet.Values => Weights;
    public Span<float> A(LoraTarget t) => Weights.Slice(t.AOffset, Rank * t.In);
    public Span<float> B(LoraTarget t) => Weights.Slice(t.BOffset, t.Out * Rank);

    /// <summary>The target at a projection site, or null.</summary>
    public LoraTarget? TargetAt(int site) => (uint)site < (uint)_bySite.Length && _bySite[site] >= 0 ? _targets[_bySite[site]] : null;

    /// <summary>Whether this adapter was built for <paramref name="layout"/>'s sites.</summary>
    public bool Fits(ModelLayout layout) =>
        layout.ModelName == ModelName && layout.Projections.Count == _bySite.Length
        && _targets.All(t => layout.Projections[t.Site] is var p && p.Name == t.Module && p.In == t.In && p.Out == t.Out);

    // ---- inference and training passes (called by AdapterSet for every projection site) ----

    // Per-thread scratch for passes that keep nothing (inference, or an adapter that is not being trained): sessions
    // on several threads use one adapter at once. Grown to the largest call, then reused: no allocation per call.
    [ThreadStatic] static float[]? t_h, t_z;

    static Span<float> Scratch(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new float[Math.Max(length, 2 * (buffer?.Length ?? 0))];
        return buffer.AsSpan(0, length);
    }

    /// <summary>
    /// y [rows, Out] += s * dropout(x) [rows, In] @ A^T [In, r] @ B^T [r, Out] for the target at <paramref name="site"/>
    /// (nothing if this adapter does not target it). Dropout and saving for backward only while training this adapter.
    /// </summary>
    internal void Forward(int site, ReadOnlySpan<float> x, Span<float> y, int rows, bool training, float scale)
    {
        int i = _bySite[site];
        if (i < 0) return;
        var t = _targets[i];
        int r = Rank;
        float s = Config.Scaling * scale;
        var train = training ? _training : null;
        ReadOnlySpan<float> input = x;
        Span<float> h;
        if (train is not null)
        {
            train.CheckRows(rows);
            h = train.H(i, rows * r);
            if (train.DropoutRate > 0f)
            {
                // xd [rows, In] = x * mask, the mask kept per target for backward
                var xd = train.Xd(rows * t.In);
                Dropout.Forward(x, xd, train.Mask(i, rows * t.In), rows * t.In, train.DropoutRate, ref train.Rng);
                input = xd;
            }
        }
        else h = Scratch(ref t_h, rows * r);
        // h [rows, r] = s * (xd @ A^T): A is [r, In], the orientation LinearRows reads
        LinearRows.Forward(input, A(t), default, h, rows, t.In, r);
        VectorMath.Scale(s, h);
        // z [rows, Out] = h @ B^T (B is [Out, r]); y += z
        var z = Scratch(ref t_z, rows * t.Out);
        LinearRows.Forward(h, B(t), default, z, rows, r, t.Out);
        VectorMath.Add(z, y[..(rows * t.Out)]);
    }

    /// <summary>
    /// The backward of <see cref="Forward"/> at <paramref name="site"/>: dA and dB (only while training this adapter),
    /// and dx [rows, In] += its share (dx may be empty).
    ///   dh [rows, r] = dy @ B;  dB += h^T dy;  dA += s * dh^T xd;  dx += mask * (s * dh @ A)
    /// </summary>
    internal void Backward(int site, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int rows, float scale)
    {
        int i = _bySite[site];
        if (i < 0) return;
        var t = _targets[i];
        int r = Rank;
        float s = Config.Scaling * scale;
        var train = _training;
        Span<float> dh = train is not null ? train.Dh(rows * r) : Scratch(ref t_h, rows * r);
        dh.Clear();
        // dh = dy @ B [Out, r]^T^T; dB [Out, r] += dy^T @ h (h was saved scaled by s). An adapter that is not being
        // trained has no h: LinearRows reads x only for dw, so dh stands in for it.
        if (train is not null) LinearRows.Backward(train.H(i, rows * r), B(t), dy, dh, train.Grad(t.BOffset, t.Out * r), default, rows, r, t.Out);
        else LinearRows.Backward(dh, B(t), dy, dh, default, default, rows, r, t.Out);
        VectorMath.Scale(s, dh);
        if (train is not null && train.DropoutRate > 0f)
        {
            int n = rows * t.In;
            var mask = train.Mask(i, n);
            var xd = train.Xd(n);
            xd.Clear();
            Dropout.Backward(x, mask, xd, n);                    // xd = x * mask, as the forward saw it
            var dxd = train.Dxd(n);
            dxd.Clear();
            LinearRows.Backward(xd, A(t), dh, dx.IsEmpty ? default : dxd, train.Grad(t.AOffset, r * t.In), default, rows, t.In, r);
            if (!dx.IsEmpty) Dropout.Backward(dxd, mask, dx, n);
        }
        else
            LinearRows.Backward(x, A(t), dh, dx, train is null ? default : train.Grad(t.AOffset, r * t.In), default, rows, t.In, r);
    }

    // ---- training state ----

    /// <summary>True after <see cref="EnableTraining"/>.</summary>
    public bool TrainingEnabled => _training is not null;

    /// <summary>
    /// Allocates gradients and the saved activations for passes of up to <paramref name="maxRows"/> rows (batch x length),
    /// once. Dropout applies to training passes at <see cref="LoraConfig.Dropout"/>.
    /// </summary>
    public void EnableTraining(int maxRows)
    {
        if (_training is not null && _training.MaxRows >= maxRows) return;
        _training?.Dispose();
        _training = new Training(this, maxRows) { Rng = Rng.FromState(DropoutState) };
    }

    (ulong, ulong, ulong, ulong) _dropoutState = new Rng(0x10AAUL).State;

    /// <summary>The dropout stream on the adapter's inputs (a gradient check replays it).</summary>
    public (ulong, ulong, ulong, ulong) DropoutState
    {
        get => _training?.Rng.State ?? _dropoutState;
        set
        {
            _dropoutState = value;
            if (_training is not null) _training.Rng = Rng.FromState(value);
        }
    }

    /// <summary>dA and dB, laid out like <see cref="Weights"/>; only after <see cref="EnableTraining"/>.</summary>
    public Span<float> Gradients => (_training ?? throw new InvalidOperationException("call EnableTraining before reading gradients")).Gradients;

    /// <summary>Bytes this adapter holds: weights, and when training gradients and saved activations.</summary>
    public long MemoryBytes => 4L * (_weights.Length + (_training?.Floats ?? 0));

    public void ZeroGradients() => Gradients.Clear();

    // ---- merging into the base ----

    /// <summary>
    /// W += s * A^T B^T for every target (s = scaling * <paramref name="scale"/>): the base then computes what base +
    /// adapter computed, with no adapter term. <see cref="Unmerge"/> with the same scale subtracts the same delta.
    /// </summary>
    public void Merge(LanguageModel model, float scale = 1f) => AddDelta(model, Config.Scaling * scale);

    public void Unmerge(LanguageModel model, float scale = 1f) => AddDelta(model, -Config.Scaling * scale);

    void AddDelta(LanguageModel model, float s)
    {
        if (!Fits(model.Layout)) throw new EdgeException($"the adapter '{Name}' was made for {ModelName}, not {model.Name} of this shape");
        if (model.WeightsAreMapped) throw new EdgeException($"cannot merge into {model.Name}: its weights are memory-mapped read-only; load a copy");
        var w = model.Weights;
        int r = Rank;
        foreach (var t in _targets)
        {
            var p = model.Layout.Projections[t.Site];
            // delta [In, Out] = s * A^T [In, r] @ B^T [r, Out] for a weight stored [In, Out] (GPT-2's Conv1D), or its
            // transpose s * B A [Out, In] for one stored [Out, In] (torch.nn.Linear, Llama), built whole first so that
            // unmerging subtracts exactly the values merging added: (W + d) - d is W up to one rounding.
            var delta = new float[t.In * t.Out];
            var a = A(t);
            var b = B(t);
            if (p.Transposed)
            {
                for (int o = 0; o < t.Out; o++)
                    for (int k = 0; k < r; k++)
                        VectorMath.Axpy(s * b[o * r + k], a.Slice(k * t.In, t.In), delta.AsSpan(o * t.In, t.In));
            }
            else
            {
                var bt = new float[r * t.Out];                 // B^T [r, Out]
                for (int o = 0; o < t.Out; o++)
                    for (int k = 0; k < r; k++) bt[k * t.Out + o] = b[o * r + k];
                for (int k = 0; k < r; k++)
                    for (int i = 0; i < t.In; i++)
                        VectorMath.Axpy(s * a[k * t.In + i], bt.AsSpan(k * t.Out, t.Out), delta.AsSpan(i * t.Out, t.Out));
            }
            VectorMath.Add(delta, w.Slice(p.Weight.Offset, p.Weight.Length));
        }
    }

    public void Dispose()
    {
        _weights.Dispose();
        _training?.Dispose();
    }

    /// <summary>Gradients, saved h and dropout masks per target, and backward scratch; one buffer.</summary>
    sealed class Training : IDisposable
    {
        readonly NativeBuffer _buffer;
        readonly int _n, _dh, _xd, _dxd;
        readonly int[] _hAt, _maskAt;

        public Training(LoraAdapter adapter, int maxRows)
        {
            MaxRows = maxRows;
            DropoutRate = (float)adapter.Config.Dropout;
            int r = adapter.Rank, maxIn = adapter._targets.Max(t => t.In);
            _n = (int)adapter.ParameterCount;
            long at = _n; // gradients
            _hAt = new int[adapter._targets.Length];
            _maskAt = new int[adapter._targets.Length];
            for (int i = 0; i < _hAt.Length; i++)
            {
                _hAt[i] = checked((int)at);
                at += (long)maxRows * r;
            }
            for (int i = 0; i < _maskAt.Length && DropoutRate > 0f; i++)
            {
                _maskAt[i] = checked((int)at);
                at += (long)maxRows * adapter._targets[i].In;
            }
            _dh = checked((int)at); at += (long)maxRows * r;
            _xd = checked((int)at); at += DropoutRate > 0f ? (long)maxRows * maxIn : 0;
            _dxd = checked((int)at); at += DropoutRate > 0f ? (long)maxRows * maxIn : 0;
            if (at > int.MaxValue) throw new EdgeException($"training a rank-{r} adapter on {maxRows} rows needs more than one buffer holds; use a smaller batch");
            Floats = at;
            _buffer = new NativeBuffer((int)at);
        }

        public int MaxRows { get; }
        public float DropoutRate { get; }
        public long Floats { get; }
        public Rng Rng;

        Span<float> All => _buffer.Span;
        public Span<float> Gradients => All[.._n];
        public Span<float> Grad(int offset, int length) => All.Slice(offset, length);
        public Span<float> H(int target, int length) => All.Slice(_hAt[target], length);
        public Span<float> Mask(int target, int length) => All.Slice(_maskAt[target], length);
        public Span<float> Dh(int length) => All.Slice(_dh, length);
        public Span<float> Xd(int length) => All.Slice(_xd, length);
        public Span<float> Dxd(int length) => All.Slice(_dxd, length);

        public void CheckRows(int rows)
        {
            if (rows > MaxRows) throw new InvalidOperationException($"a training pass of {rows} rows exceeds the {MaxRows} the adapter was prepared for");
        }

        public void Dispose() => _buffer.Dispose();
    }
}
