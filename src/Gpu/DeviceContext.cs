using Edge.Gpu.Kernels;
using Edge.Lora;
using ILGPU;
using CpuKernels = global::Edge.Kernels;
using ILGPU.Runtime;

namespace Edge.Gpu;

/// <summary>
/// <see cref="ModelContext"/> on a device: the activation slots (laid out by the same <see cref="ContextLayout"/>, so an
/// inference context shares memory by slot lifetime as the CPU's does), in training their gradients, the weights' gradients
/// and a [B, H, T, T] scratch for the attention backward, and when decoding the KV cache: all device buffers, allocated once.
/// The passes walk the model's op table (<see cref="ModelInfo.Ops"/>): the forward pass the ops in order, the backward pass
/// the same ops in reverse (gradients only where the plan says one flows), the decoding pass the ops over the cache with
/// the ops after the blocks on the last row; each op is one or a few kernel launches. Only token ids go to the device and
/// only losses and logits come back.
/// </summary>
public sealed class DeviceContext : IModelContext
{
    readonly DeviceModel _model;
    readonly DeviceKernels _k;
    readonly Accelerator _acc;
    readonly ContextLayout _layout;
    readonly IReadOnlyList<SlotInfo> _slots;
    readonly IReadOnlyList<OpInfo> _ops;
    readonly int _tailStart;            // decoding: the first op after the last block (it runs on the last row)
    readonly MemoryBuffer1D<float, Stride1D.Dense> _arena;
    readonly MemoryBuffer1D<float, Stride1D.Dense>? _gradients, _weightGradients, _attentionScratch;
    readonly MemoryBuffer1D<int, Stride1D.Dense> _tokens, _targets, _distinct, _starts, _order;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _losses;
    readonly int[] _savedInputs, _savedTargets;
    readonly float[] _hostLosses;
    float[] _hostLogits = [];
    MemoryBuffer1D<float, Stride1D.Dense>? _adapterScratch;
    readonly Dictionary<LoraAdapter, MemoryBuffer1D<float, Stride1D.Dense>> _adapterWeights = [];
    AdapterSet? _adapters;
    int _lastBatch, _lastLength;
    Rng _dropoutRng;

    internal DeviceContext(DeviceModel model, ContextKind kind, int maxBatch, bool weightGradients)
    {
        if (maxBatch <= 0) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "the largest batch must be positive");
        _model = model;
        _k = model.Device.Kernels;
        _acc = model.Device.Accelerator;
        var host = model.Host;
        Kind = kind;
        MaxBatch = kind == ContextKind.Decoding ? 1 : maxBatch;
        _slots = host.Info.Slots;
        _ops = model.Ops;
        _tailStart = LastBlockOp(_ops) + 1;
        _layout = ContextLayout.Build(host.Info, host.VocabSize, MaxBatch, kind, keepActivations: kind == ContextKind.Training);
        long scratch = kind == ContextKind.Training ? AttentionMapLength() : 0;
        long bytes = _layout.Bytes + 4L * scratch + (weightGradients ? 4L * host.Layout.WeightLength : 0);
        if (bytes > model.Device.MemoryBytes)
            throw new EdgeException($"a {kind.ToString().ToLowerInvariant()} context for {host.Name} at batch {MaxBatch} needs {bytes / (1024.0 * 1024):N0} MiB, " +
                $"more than the device's {model.Device.MemoryBytes / (1024.0 * 1024):N0} MiB; use a smaller batch");
        _arena = _acc.Allocate1D<float>(Math.Max(1, _layout.ArenaLength));
        if (kind == ContextKind.Training)
        {
            _gradients = _acc.Allocate1D<float>(Math.Max(1, _layout.GradientLength));
            _attentionScratch = _acc.Allocate1D<float>(Math.Max(1, scratch));
            if (weightGradients)
            {
                _weightGradients = _acc.Allocate1D<float>(Math.Max(1, host.Layout.WeightLength));
                _weightGradients.MemSetToZero();
            }
        }
        int tokens = MaxBatch * host.InputLength;
        _tokens = _acc.Allocate1D<int>(tokens);
        _targets = _acc.Allocate1D<int>(MaxBatch * host.TargetLength);
        _distinct = _acc.Allocate1D<int>(tokens);
        _starts = _acc.Allocate1D<int>(tokens + 1);
        _order = _acc.Allocate1D<int>(tokens);
        _losses = _acc.Allocate1D<float>(MaxBatch * host.TargetLength);
        _hostLosses = new float[MaxBatch * host.TargetLength];
        _savedInputs = new int[tokens];
        _savedTargets = new int[MaxBatch * host.TargetLength];
        DropoutRate = (float)host.Info.Recipe.Dropout;
        _dropoutRng = new Rng(0xD0D0_0000_0000_0001UL);
    }

    public DeviceModel DeviceModel => _model;
    /// <summary>Dispose the device model with this context (a host that uploads a model per context).</summary>
    public bool OwnsModel { get; set; }
    public LanguageModel Model => _model.Host;
    public ContextKind Kind { get; }
    public int MaxBatch { get; }
    /// <summary>Bytes of device memory this context holds.</summary>
    public long MemoryBytes => _layout.Bytes + 4L * ((_attentionScratch?.Length ?? 0) + (_weightGradients?.Length ?? 0));

    /// <summary>LoRA adapters (an <see cref="AdapterSet"/>): their A and B go to the device once; the set's switches are read at every pass.</summary>
    public ProjectionAdapters? Adapters
    {
        get => _adapters;
        set
        {
            if (value is not null and not AdapterSet)
                throw new EdgeException("the device backend applies LoRA adapter sets only");
            _adapters = (AdapterSet?)value;
            if (_adapters is null) return;
            if (_adapters.Adapters.Any(a => a.TrainingEnabled))
                throw new EdgeException("adapters train on the CPU: the device backend applies trained adapters");
            foreach (var a in _adapters.Adapters)
                if (!_adapterWeights.ContainsKey(a)) _adapterWeights[a] = _acc.Allocate1D(a.Weights.ToArray());
        }
    }

    public float DropoutRate { get; set; }

    public (ulong, ulong, ulong, ulong) DropoutState
    {
        get => _dropoutRng.State;
        set => _dropoutRng = Rng.FromState(value);
    }

    public void SeedDropout(ulong seed) => _dropoutRng = new Rng(seed ^ 0xD0D0_0000_0000_0001UL);

    /// <summary>Whether the last forward pass applied dropout.</summary>
    public bool Dropped { get; private set; }

    internal ArrayView<float> WeightGradients => (_weightGradients ?? throw new InvalidOperationException("only a training context has gradients")).View;

    // ---- passes ----

    public float Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batch, int length = 0, bool training = false)
    {
        if (Kind == ContextKind.Decoding) throw new InvalidOperationException("a decoding context runs Prefill and DecodeStep; use an inference context for losses");
        if (training && Kind != ContextKind.Training) throw new InvalidOperationException("a training pass needs a training context");
        length = ContextArguments.Batch(Model, MaxBatch, inputs, batch, length);
        int targetCount = batch * (Model.IsSequenceModel ? length : 1);
        if (targets.Length < targetCount) throw new ArgumentException($"targets: expected {targetCount} ids, got {targets.Length}");
        ContextArguments.Tokens(Model, targets[..targetCount], "target", allowIgnored: true);
        int tokenCount = batch * length;
        inputs[..tokenCount].CopyTo(_savedInputs);
        targets[..targetCount].CopyTo(_savedTargets);
        _tokens.View.SubView(0, tokenCount).CopyFromCPU(ref _savedInputs[0], tokenCount);
        _targets.View.SubView(0, targetCount).CopyFromCPU(ref _savedTargets[0], targetCount);
        _lastBatch = Kind == ContextKind.Training ? batch : 0;
        _lastLength = length;
        Dropped = training && DropoutRate > 0f;
        RunForward(batch, length, training, withLoss: true);

        _losses.View.SubView(0, targetCount).CopyToCPU(ref _hostLosses[0], targetCount);
        double loss = 0;
        int counted = 0;
        for (int r = 0; r < targetCount; r++)
        {
            if (_savedTargets[r] == CpuKernels.SoftmaxCrossEntropy.IgnoredTarget) continue;
            loss += _hostLosses[r];
            counted++;
        }
        return counted == 0 ? 0f : (float)(loss / counted);
    }

    public void Backward()
    {
        if (Kind != ContextKind.Training) throw new InvalidOperationException("Backward needs a training context");
        if (_lastBatch == 0) throw new InvalidOperationException("Backward needs a Forward with targets first");
        _gradients!.MemSetToZero();
        RunBackward(_lastBatch, _lastLength);
    }

    public ReadOnlySpan<float> Logits(ReadOnlySpan<int> inputs, int batch, int length = 0)
    {
        if (Kind == ContextKind.Decoding) throw new InvalidOperationException("a decoding context runs Prefill and DecodeStep; use an inference context for Logits");
        length = ContextArguments.Batch(Model, MaxBatch, inputs, batch, length);
        int tokenCount = batch * length;
        inputs[..tokenCount].CopyTo(_savedInputs);
        _tokens.View.SubView(0, tokenCount).CopyFromCPU(ref _savedInputs[0], tokenCount);
        _lastBatch = 0;
        _lastLength = length;
        Dropped = false;
        RunForward(batch, length, training: false, withLoss: false);
        int logits = FindLogits();
        int n = (int)Elements(logits, new Pass(batch, length, decode: false, 0));
        return Download(Slot(logits).SubView(0, n), n);
    }

    // ---- decoding ----

    public int CachedPositions { get; private set; }

    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> prompt)
    {
        ContextArguments.Prefill(Model, Kind, prompt.Length);
        CachedPositions = 0;
        return Decode(prompt);
    }

    public ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens)
    {
        ContextArguments.Append(Model, Kind, CachedPositions, tokens.Length);
        return Decode(tokens);
    }

    public ReadOnlySpan<float> DecodeStep(int token)
    {
        ContextArguments.DecodeStep(Model, Kind, CachedPositions);
        return Decode(new ReadOnlySpan<int>(in token));
    }

    ReadOnlySpan<float> Decode(scoped ReadOnlySpan<int> tokens)
    {
        ContextArguments.Tokens(Model, tokens, "input");
        tokens.CopyTo(_savedInputs);
        _tokens.View.SubView(0, tokens.Length).CopyFromCPU(ref _savedInputs[0], tokens.Length);
        var pass = new Pass(1, tokens.Length, decode: true, CachedPositions);
        for (int i = 0; i < _ops.Count; i++)
        {
            if (_ops[i].Kind == OpKind.Loss) continue;
            pass.Tail = i >= _tailStart;
            Forward(_ops[i], ref pass);
        }
        CachedPositions += tokens.Length;
        return Download(Slot(FindLogits()).SubView(0, Model.VocabSize), Model.VocabSize);
    }


    ReadOnlySpan<float> Download(ArrayView<float> view, int n)
    {
        if (_hostLogits.Length < n) _hostLogits = new float[n];
        view.CopyToCPU(ref _hostLogits[0], n);
        return _hostLogits.AsSpan(0, n);
    }

    int FindLogits()
    {
        for (int i = _ops.Count - 1; i >= 0; i--)
            if (_ops[i].Kind == OpKind.Loss) return _ops[i].Slot("logits");
        throw new InvalidOperationException($"{Model.Name}'s op table has no loss");
    }

    // ---- the walk ----

    /// <summary>The shape of the pass being run: B sequences of T rows (decoding: T new rows at Position; Tail: past the blocks).</summary>
    struct Pass(int batch, int length, bool decode, int position)
    {
        public readonly int B = batch, T = length, Position = position;
        public readonly bool Decode = decode;
        public bool Training, Tail;
    }

    void RunForward(int batch, int length, bool training, bool withLoss)
    {
        var pass = new Pass(batch, length, decode: false, 0) { Training = training };
        foreach (var op in _ops)
        {
            if (op.Kind == OpKind.Loss && !withLoss) continue;
            Forward(op, ref pass);
        }
    }

    void RunBackward(int batch, int length)
    {
        var pass = new Pass(batch, length, decode: false, 0) { Training = true };
        PrepareEmbeddingBackward(batch * length);
        for (int i = _ops.Count - 1; i >= 0; i--) Backward(_ops[i], pass);
    }

    /// <summary>Rows of a slot in a pass; in the decode tail a slot the blocks wrote is read at its last row.</summary>
    long Rows(int slot, in Pass p)
    {
        var s = _slots[slot];
        if (p.Decode)
            return s.Rows switch
            {
                SlotRows.Tokens => p.Tail ? 1 : p.T,
                SlotRows.Sequence => p.T,
                SlotRows.Cache => Model.Info.Context,
                _ => throw new InvalidOperationException($"slot '{s.Name}' ({s.Rows}) has no decoding form"),
            };
        return s.Rows switch
        {
            SlotRows.Batch => p.B,
            SlotRows.Window => (long)p.B * Model.Info.Context,
            SlotRows.Tokens => (long)p.B * p.T,
            SlotRows.AttentionMap => (long)p.B * p.T * p.T,
            SlotRows.Sequence => p.T,
            _ => Model.Info.Context,
        };
    }

    int Width(int slot) => _slots[slot].Width < 0 ? Model.VocabSize : _slots[slot].Width;

    long Elements(int slot, in Pass p) => Rows(slot, p) * Width(slot);

    /// <summary>A slot's memory (empty when this kind of context does not hold it).</summary>
    ArrayView<float> Slot(int slot) => _layout.Lengths[slot] == 0 ? default : _arena.View.SubView(_layout.Offsets[slot], _layout.Lengths[slot]);

    /// <summary>A slot as an op of this pass reads or writes it: in the decode tail, the last row of a slot the blocks wrote.</summary>
    ArrayView<float> A(int slot, in Pass p)
    {
        var view = Slot(slot);
        if (p.Decode && p.Tail && _slots[slot].Rows == SlotRows.Tokens && !_slots[slot].Use.HasFlag(SlotUse.DecodeOneRow))
            return view.SubView((long)(p.T - 1) * Width(slot), Width(slot));
        return view;
    }

    /// <summary>A slot's gradient, or empty where none flows.</summary>
    ArrayView<float> D(int slot)
    {
        int at = _layout.GradientOffsets[slot];
        if (at < 0 || _gradients is null) return default;
        return _gradients.View.SubView(at, _slots[slot].Length(MaxBatch, Model.IsSequenceModel ? Model.Info.Context : 1, Model.Info.Context, Model.VocabSize));
    }

    ArrayView<float> W(int parameter) => _model.Parameter(parameter);

    ArrayView<float> OptionalW(int parameter) => parameter < 0 ? default : W(parameter);

    /// <summary>A parameter's gradient (empty without weight gradients, or for an absent optional parameter).</summary>
    ArrayView<float> G(int parameter)
    {
        if (parameter < 0 || _weightGradients is null) return default;
        var info = Model.Layout.Parameters[parameter];
        return _weightGradients.View.SubView(info.Offset, info.Length);
    }

    static ArrayView<float> From(ArrayView<float> view, long offset) => view.SubView(offset, view.Length - offset);

    void Forward(OpInfo op, ref Pass p)
    {
        switch (op.Kind)
        {
            case OpKind.Embedding:
            {
                int y = op.Slot("y"), dim = op.Int("dim");
                int count = (int)Rows(y, p);
                int positions = op.OptionalParam("positions");
                _k.Embed(_tokens.View, W(op.Param("table")), OptionalW(positions), A(y, p), count, dim, p.T, p.Position);
                break;
            }
            case OpKind.Bigram:
                _k.Embed(_tokens.View, W(op.Param("table")), default, A(op.Slot("y"), p), p.B, Model.VocabSize, 1, 0);
                break;
            case OpKind.Flatten:
                break;
            case OpKind.Project:
                Project(op, p);
                break;
            case OpKind.Tanh: _k.Tanh(A(op.Slot("x"), p), A(op.Slot("y"), p), N(op.Slot("y"), p)); break;
            case OpKind.Relu: _k.Relu(A(op.Slot("x"), p), A(op.Slot("y"), p), N(op.Slot("y"), p)); break;
            case OpKind.Gelu: _k.Gelu(A(op.Slot("x"), p), A(op.Slot("y"), p), N(op.Slot("y"), p)); break;
            case OpKind.GeluExact: _k.GeluExact(A(op.Slot("x"), p), A(op.Slot("y"), p), N(op.Slot("y"), p)); break;
            case OpKind.SwiGlu: _k.SwiGlu(A(op.Slot("gate"), p), A(op.Slot("up"), p), A(op.Slot("y"), p), N(op.Slot("y"), p)); break;
            case OpKind.LayerNorm:
            {
                int y = op.Slot("y"), width = op.Int("width");
                _k.LayerNormForward(A(op.Slot("x"), p), W(op.Param("weight")), OptionalW(op.OptionalParam("bias")), A(y, p),
                    A(op.Slot("mean"), p), A(op.Slot("rstd"), p), (int)(Elements(y, p) / width), width, CpuKernels.LayerNorm.Eps);
                break;
            }
            case OpKind.RmsNorm:
            {
                int y = op.Slot("y"), width = op.Int("width");
                _k.RmsNormForward(A(op.Slot("x"), p), W(op.Param("weight")), A(y, p), A(op.Slot("rstd"), p), (int)(Elements(y, p) / width), width, (float)op.Number);
                break;
            }
            case OpKind.Dropout:
            {
                int y = op.Slot("y");
                if (Dropped && !p.Decode) _k.Dropout(A(op.Slot("x"), p), A(y, p), A(op.Slot("mask"), p), N(y, p), DropoutRate, _dropoutRng.NextUInt64());
                else _k.Copy(A(op.Slot("x"), p), A(y, p), N(y, p));
                break;
            }
            case OpKind.Residual:
            {
                int y = op.Slot("y"), n = N(y, p);
                var branch = A(op.Slot("branch"), p);
                if (Dropped && !p.Decode)
                {
                    var dropped = A(op.Slot("dropped"), p);
                    _k.Dropout(branch, dropped, A(op.Slot("mask"), p), n, DropoutRate, _dropoutRng.NextUInt64());
                    branch = dropped;
                }
                _k.AddTo(A(op.Slot("x"), p), branch, A(y, p), n);
                break;
            }
            case OpKind.Rope:
            {
                int y = op.Slot("y"), heads = op.Int("heads"), hs = op.Int("headSize");
                var (cos, sin) = _model.RopeTable(hs, op.Number);
                _k.Rope(A(op.Slot("x"), p), A(y, p), cos, sin, (int)Rows(y, p), p.T, p.Position, heads, hs, op.Int("interleaved") == 1, backward: false);
                break;
            }
            case OpKind.Attention:
            case OpKind.GroupedAttention:
                Attention(op, p);
                break;
            case OpKind.Loss:
            {
                int logits = op.Slot("logits");
                _k.SoftmaxCrossEntropyForward(A(logits, p), _targets.View, A(op.Slot("probs"), p), _losses.View, (int)Rows(logits, p), Model.VocabSize);
                break;
            }
            default:
                throw new NotSupportedException($"the device backend has no kernel for {op.Kind} ops");
        }
    }

    int N(int slot, in Pass p) => checked((int)Elements(slot, p));

    /// <summary>The q, k, v views, their strides and the head shape of an attention op.</summary>
    (ArrayView<float> Q, ArrayView<float> K, ArrayView<float> V, AttentionShape Shape) AttentionInputs(OpInfo op, Func<int, ArrayView<float>> slot)
    {
        if (op.Kind == OpKind.Attention)
        {
            int width = op.Int("width"), heads = op.Int("heads");
            var qkv = slot(op.Slot("qkv"));
            var shape = new AttentionShape { Heads = heads, Group = 1, Hs = width / heads, QStride = 3 * width, KvStride = 3 * width };
            return (qkv, From(qkv, width), From(qkv, 2 * width), shape);
        }
        int h = op.Int("heads"), kvh = op.Int("kvHeads"), hs = op.Int("headSize");
        var s = new AttentionShape { Heads = h, Group = h / kvh, Hs = hs, QStride = h * hs, KvStride = kvh * hs };
        return (slot(op.Slot("q")), slot(op.Slot("k")), slot(op.Slot("v")), s);
    }

    void Attention(OpInfo op, in Pass p)
    {
        var pass = p;
        var (q, k, v, s) = AttentionInputs(op, slot => A(slot, pass));
        s.Scale = 1f / MathF.Sqrt(s.Hs);
        var y = A(op.Slot("y"), p);
        if (!p.Decode)
        {
            s.T = p.T;
            s.Start = 0;
            s.KeyRows = p.T;
            var att = p.Training ? A(op.Slot("att"), p) : default;
            _k.Attention(q, k, v, y, att, s, p.B, p.T);
            return;
        }
        // Decoding: the new rows' keys and values go into the cache, then every new query attends over the cache.
        int kvWidth = s.Hs * (s.Heads / s.Group);
        var keys = Slot(op.Slot("keys"));
        var values = Slot(op.Slot("values"));
        _k.AppendToCache(k, v, keys, values, p.T, kvWidth, s.KvStride, p.Position);
        s.T = p.T;
        s.Start = p.Position;
        s.KvStride = kvWidth;
        s.KeyRows = Model.Info.Context;
        _k.Attention(q, keys, values, y, default, s, 1, p.Position + p.T);
    }

    /// <summary>y = x @ W (+ b) at a projection site, then the active adapters' terms.</summary>
    void Project(OpInfo op, in Pass p)
    {
        var site = Model.Layout.Projections[op.Site("site")];
        int x = op.Slot("x"), y = op.Slot("y");
        int rows = (int)(Elements(x, p) / site.In);
        Products.Forward(_k, A(x, p), W(Weight(site)), OptionalW(op.OptionalParam("bias")), A(y, p), rows, site.In, site.Out, site.Transposed);
        AdaptersForward(site, A(x, p), A(y, p), rows);
    }

    int Weight(ProjectionInfo site)
    {
        var parameters = Model.Layout.Parameters;
        for (int i = 0; i < parameters.Count; i++)
            if (ReferenceEquals(parameters[i], site.Weight)) return i;
        throw new InvalidOperationException($"projection '{site.Name}' has no weight in the layout");
    }

    // ---- backward ----

    void Backward(OpInfo op, in Pass p)
    {
        switch (op.Kind)
        {
            case OpKind.Loss:
            {
                int logits = op.Slot("logits"), rows = (int)Rows(logits, p), counted = 0;
                for (int r = 0; r < rows; r++)
                    if (_savedTargets[r] != CpuKernels.SoftmaxCrossEntropy.IgnoredTarget) counted++;
                if (counted == 0) return;
                float scale = 1f / rows;
                if (counted < rows) scale = scale * rows / counted;
                _k.SoftmaxCrossEntropyBackward(A(op.Slot("probs"), p), _targets.View, D(logits), rows, Model.VocabSize, scale);
                break;
            }
            case OpKind.Project:
                ProjectBackward(op, p);
                break;
            case OpKind.Tanh:
                if (D(op.Slot("x")).Length > 0) _k.TanhBackward(A(op.Slot("y"), p), D(op.Slot("y")), D(op.Slot("x")), N(op.Slot("y"), p));
                break;
            case OpKind.Relu:
                if (D(op.Slot("x")).Length > 0) _k.ReluBackward(A(op.Slot("y"), p), D(op.Slot("y")), D(op.Slot("x")), N(op.Slot("y"), p));
                break;
            case OpKind.Gelu:
                if (D(op.Slot("x")).Length > 0) _k.GeluBackward(A(op.Slot("x"), p), D(op.Slot("y")), D(op.Slot("x")), N(op.Slot("y"), p));
                break;
            case OpKind.GeluExact:
                if (D(op.Slot("x")).Length > 0) _k.GeluExactBackward(A(op.Slot("x"), p), D(op.Slot("y")), D(op.Slot("x")), N(op.Slot("y"), p));
                break;
            case OpKind.SwiGlu:
                _k.SwiGluBackward(A(op.Slot("gate"), p), A(op.Slot("up"), p), D(op.Slot("y")), D(op.Slot("gate")), D(op.Slot("up")), N(op.Slot("y"), p));
                break;
            case OpKind.LayerNorm:
            {
                int y = op.Slot("y"), x = op.Slot("x"), width = op.Int("width"), rows = (int)(Elements(y, p) / width);
                if (D(x).Length > 0)
                    _k.LayerNormBackwardInput(D(y), A(x, p), W(op.Param("weight")), A(op.Slot("mean"), p), A(op.Slot("rstd"), p), D(x), rows, width);
                if (G(op.Param("weight")).Length > 0)
                    _k.LayerNormBackwardParameters(D(y), A(x, p), A(op.Slot("mean"), p), A(op.Slot("rstd"), p), G(op.Param("weight")), G(op.OptionalParam("bias")), rows, width);
                break;
            }
            case OpKind.RmsNorm:
            {
                int y = op.Slot("y"), x = op.Slot("x"), width = op.Int("width"), rows = (int)(Elements(y, p) / width);
                if (D(x).Length > 0)
                    _k.RmsNormBackwardInput(D(y), A(x, p), W(op.Param("weight")), A(op.Slot("rstd"), p), D(x), rows, width);
                if (G(op.Param("weight")).Length > 0)
                    _k.RmsNormBackwardWeight(D(y), A(x, p), A(op.Slot("rstd"), p), G(op.Param("weight")), rows, width);
                break;
            }
            case OpKind.Dropout:
            {
                int y = op.Slot("y"), x = op.Slot("x");
                if (D(x).Length == 0) break;
                if (Dropped) _k.MaskedAccumulate(D(y), A(op.Slot("mask"), p), D(x), N(y, p));
                else _k.Accumulate(D(y), D(x), N(y, p));
                break;
            }
            case OpKind.Residual:
            {
                int y = op.Slot("y"), x = op.Slot("x"), branch = op.Slot("branch"), n = N(y, p);
                if (D(x).Length > 0) _k.Accumulate(D(y), D(x), n);
                if (D(branch).Length == 0) break;
                if (Dropped) _k.MaskedAccumulate(D(y), A(op.Slot("mask"), p), D(branch), n);
                else _k.Accumulate(D(y), D(branch), n);
                break;
            }
            case OpKind.Rope:
            {
                int y = op.Slot("y"), heads = op.Int("heads"), hs = op.Int("headSize");
                if (D(op.Slot("x")).Length == 0) break;
                var (cos, sin) = _model.RopeTable(hs, op.Number);
                _k.Rope(D(y), D(op.Slot("x")), cos, sin, (int)Rows(y, p), p.T, 0, heads, hs, op.Int("interleaved") == 1, backward: true);
                break;
            }
            case OpKind.Attention:
            case OpKind.GroupedAttention:
            {
                var pass = p;
                var (q, k, v, s) = AttentionInputs(op, slot => A(slot, pass));
                var (dq, dk, dv, _) = AttentionInputs(op, D);
                s.Scale = 1f / MathF.Sqrt(s.Hs);
                s.T = p.T;
                s.KeyRows = p.T;
                _k.AttentionBackward(D(op.Slot("y")), q, k, v, A(op.Slot("att"), p), _attentionScratch!.View, dq, dk, dv, s, p.B);
                break;
            }
            case OpKind.Embedding:
            {
                int y = op.Slot("y"), dim = op.Int("dim"), positions = op.OptionalParam("positions");
                if (positions >= 0 && G(positions).Length > 0) _k.PositionsBackward(D(y), G(positions), p.B, p.T, dim);
                if (G(op.Param("table")).Length > 0)
                    _k.EmbedBackward(_distinct.View, _starts.View, _order.View, D(y), G(op.Param("table")), _distinctCount, dim);
                break;
            }
            case OpKind.Bigram:
                if (G(op.Param("table")).Length > 0)
                    _k.EmbedBackward(_distinct.View, _starts.View, _order.View, D(op.Slot("y")), G(op.Param("table")), _distinctCount, Model.VocabSize);
                break;
            case OpKind.Flatten:
                break;
            default:
                throw new NotSupportedException($"the device backend has no backward kernel for {op.Kind} ops");
        }
    }

    /// <summary>dx += dy W^T (or dy W, stored [out, in]); dW += x^T dy (or dy^T x); db += column sums of dy; then the adapters' share of dx.</summary>
    void ProjectBackward(OpInfo op, in Pass p)
    {
        var site = Model.Layout.Projections[op.Site("site")];
        int x = op.Slot("x"), y = op.Slot("y");
        int rows = (int)(Elements(x, p) / site.In);
        var dy = D(y);
        var dx = D(x);
        Products.Backward(_k, A(x, p), W(Weight(site)), dy, dx, G(Weight(site)), G(op.OptionalParam("bias")), rows, site.In, site.Out, site.Transposed);
        AdaptersBackward(site, dy, dx, rows);
    }

    int _distinctCount;

    /// <summary>The scatter-add's plan for the saved batch: every distinct token once, with its positions in order.</summary>
    void PrepareEmbeddingBackward(int count)
    {
        var tokens = _savedInputs.AsSpan(0, count);
        var order = new int[count];
        // (token, position) pairs sorted: each token's positions come out in order, so its sum has a fixed order.
        var pairs = new long[count];
        for (int i = 0; i < count; i++) pairs[i] = ((long)tokens[i] << 32) | (uint)i;
        Array.Sort(pairs);
        var distinct = new List<int>();
        var starts = new List<int>();
        for (int i = 0; i < count; i++)
        {
            int token = (int)(pairs[i] >> 32);
            order[i] = (int)(pairs[i] & 0xFFFFFFFF);
            if (i == 0 || token != (int)(pairs[i - 1] >> 32))
            {
                distinct.Add(token);
                starts.Add(i);
            }
        }
        starts.Add(count);
        _distinctCount = distinct.Count;
        if (count == 0) return;
        _distinct.View.SubView(0, distinct.Count).CopyFromCPU(distinct.ToArray());
        _starts.View.SubView(0, starts.Count).CopyFromCPU(starts.ToArray());
        _order.View.SubView(0, count).CopyFromCPU(order);
    }

    // ---- LoRA on the device ----

    /// <summary>y [rows, Out] += s * (x A^T) B^T for every active adapter targeting the site (A [r, In], B [Out, r]).</summary>
    void AdaptersForward(ProjectionInfo site, ArrayView<float> x, ArrayView<float> y, int rows)
    {
        if (_adapters is null) return;
        var set = _adapters;
        for (int i = 0; i < set.Adapters.Count; i++)
        {
            float scale = set.Scale(i);
            var adapter = set.Adapters[i];
            if (scale == 0f || adapter.TargetAt(site.Index) is not { } t) continue;
            int r = adapter.Rank;
            var (a, b, h) = AdapterViews(adapter, t, rows);
            _k.Gemm(x, a, h, default, new GemmShape { M = rows, N = r, K = t.In, Am = t.In, Ak = 1, Bk = 1, Bn = t.In });
            _k.Scale(h, adapter.Config.Scaling * scale, rows * r);
            _k.Gemm(h, b, y, default, new GemmShape { M = rows, N = t.Out, K = r, Am = r, Ak = 1, Bk = 1, Bn = r, Accumulate = 1 });
        }
    }

    /// <summary>The adapters' share of dx: dx [rows, In] += s * (dy B) A (the adapters themselves are not trained here).</summary>
    void AdaptersBackward(ProjectionInfo site, ArrayView<float> dy, ArrayView<float> dx, int rows)
    {
        if (_adapters is null || dx.Length == 0) return;
        var set = _adapters;
        for (int i = set.Adapters.Count - 1; i >= 0; i--)
        {
            float scale = set.Scale(i);
            var adapter = set.Adapters[i];
            if (scale == 0f || adapter.TargetAt(site.Index) is not { } t) continue;
            int r = adapter.Rank;
            var (a, b, dh) = AdapterViews(adapter, t, rows);
            _k.Gemm(dy, b, dh, default, new GemmShape { M = rows, N = r, K = t.Out, Am = t.Out, Ak = 1, Bk = r, Bn = 1 });
            _k.Scale(dh, adapter.Config.Scaling * scale, rows * r);
            _k.Gemm(dh, a, dx, default, new GemmShape { M = rows, N = t.In, K = r, Am = r, Ak = 1, Bk = t.In, Bn = 1, Accumulate = 1 });
        }
    }

    (ArrayView<float> A, ArrayView<float> B, ArrayView<float> Scratch) AdapterViews(LoraAdapter adapter, LoraTarget t, int rows)
    {
        var weights = _adapterWeights[adapter].View;
        int r = adapter.Rank;
        long need = (long)rows * r;
        if (_adapterScratch is null || _adapterScratch.Length < need)
        {
            _adapterScratch?.Dispose();
            _adapterScratch = _acc.Allocate1D<float>(Math.Max(need, (long)MaxBatch * Model.InputLength * r));
        }
        return (weights.SubView(t.AOffset, r * t.In), weights.SubView(t.BOffset, t.Out * r), _adapterScratch.View.SubView(0, need));
    }

    // ---- checks ----

    static int LastBlockOp(IReadOnlyList<OpInfo> ops)
    {
        for (int i = ops.Count - 1; i >= 0; i--)
            if (ops[i].Layer >= 0) return i;
        return -1;
    }

    long AttentionMapLength()
    {
        long longest = 0;
        for (int i = 0; i < _slots.Count; i++)
            if (_slots[i].Rows == SlotRows.AttentionMap) longest = Math.Max(longest, _layout.Lengths[i]);
        return longest;
    }



    public void Dispose()
    {
        _arena.Dispose();
        _gradients?.Dispose();
        _weightGradients?.Dispose();
        _attentionScratch?.Dispose();
        _tokens.Dispose();
        _targets.Dispose();
        _distinct.Dispose();
        _starts.Dispose();
        _order.Dispose();
        _losses.Dispose();
        _adapterScratch?.Dispose();
        foreach (var buffer in _adapterWeights.Values) buffer.Dispose();
        if (OwnsModel) _model.Dispose();
    }
}
