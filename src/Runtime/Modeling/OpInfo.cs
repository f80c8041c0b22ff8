namespace Edge;

/// <summary>
/// The kinds of op the generator plans. The generated CPU code calls kernels directly; this table is for other backends
/// (the ILGPU one in src/Gpu) that walk a model's ops at run time. Each kind lists the roles of its arguments
/// (<see cref="OpInfo.Args"/>): slots are activation slots (<see cref="ModelInfo.Slots"/>), params are parameter indices
/// in the layout (<see cref="ModelLayout.Parameters"/>), sites are projection indices (<see cref="ModelLayout.Projections"/>).
/// Rows are the pass's: B x T positions in training, T new positions when decoding, one row in the decoding tail.
/// </summary>
public enum OpKind
{
    /// <summary>y[r] = table[token[r]] (+ positions[position(r)]). Params table, positions?; slot y; int dim.</summary>
    Embedding,
    /// <summary>[B, Context, Width] read as [B, Context * Width]: no work. Slot x; ints positions, width.</summary>
    Flatten,
    /// <summary>y [rows, out] = x [rows, in] @ W (+ bias): the site gives W, its shape and whether it is stored [out, in]. Site; slots x, y; param bias?.</summary>
    Project,
    /// <summary>y = tanh(x), element-wise. Slots x, y.</summary>
    Tanh,
    /// <summary>y = max(x, 0), element-wise. Slots x, y.</summary>
    Relu,
    /// <summary>logits [B, V] = table[previous token]. Param table; slot y.</summary>
    Bigram,
    /// <summary>y = (x - mean) * rstd * weight + bias per row (eps 1e-5). Slots x, y, mean, rstd; params weight, bias?; int width.</summary>
    LayerNorm,
    /// <summary>y = x * rstd * weight per row, rstd = 1 / sqrt(mean(x^2) + eps). Slots x, y, rstd; param weight; int width; <see cref="OpInfo.Number"/> eps.</summary>
    RmsNorm,
    /// <summary>y = dropout(x) in training (mask kept), x otherwise. Slots x, y, mask.</summary>
    Dropout,
    /// <summary>y = x + dropout(branch) (dropped, mask kept in training). Slots x, branch, y, dropped, mask.</summary>
    Residual,
    /// <summary>GPT-2's tanh GELU, element-wise. Slots x, y.</summary>
    Gelu,
    /// <summary>The exact GELU x Phi(x), element-wise. Slots x, y.</summary>
    GeluExact,
    /// <summary>y = silu(gate) * up, element-wise. Slots gate, up, y.</summary>
    SwiGlu,
    /// <summary>
    /// Rotary position embedding of heads x headSize vectors per row, by the row's position. Slots x, y; ints heads,
    /// headSize, interleaved (1: pairs (2i, 2i+1), 0: halves (i, i + headSize/2)); <see cref="OpInfo.Number"/> theta
    /// (cos and sin as <see cref="Kernels.Rope.Table"/> builds them).
    /// </summary>
    Rope,
    /// <summary>
    /// GPT-2's causal attention over a fused qkv [rows, 3 width]. Slots qkv, y, att (training probabilities [B, heads, T, T]),
    /// scratch (backward), scores, keys, values (decoding: the KV cache [Context, width]); ints width, heads.
    /// </summary>
    Attention,
    /// <summary>
    /// Causal grouped-query attention over q [rows, heads x headSize], k and v [rows, kvHeads x headSize]. Slots q, k, v, y,
    /// att, scratch, scores, keys, values; ints heads, kvHeads, headSize.
    /// </summary>
    GroupedAttention,
    /// <summary>Softmax cross-entropy of logits [rows, V] against the targets; probs kept for backward. Slots logits, probs.</summary>
    Loss,
}

/// <summary>What an <see cref="OpArg"/> refers to.</summary>
public enum OpArgKind
{
    /// <summary>An activation slot index.</summary>
    Slot,
    /// <summary>A parameter index in the layout.</summary>
    Param,
    /// <summary>A projection site index.</summary>
    Site,
    /// <summary>A number (a dimension, a count, a flag).</summary>
    Int,
}

/// <summary>One argument of an op: its role in the op ("x", "weight", "heads"), what it refers to, and the index or number.</summary>
public readonly record struct OpArg(string Role, OpArgKind Kind, int Value)
{
    public static OpArg Slot(string role, int slot) => new(role, OpArgKind.Slot, slot);
    public static OpArg Param(string role, int param) => new(role, OpArgKind.Param, param);
    public static OpArg Site(string role, int site) => new(role, OpArgKind.Site, site);
    public static OpArg Int(string role, int value) => new(role, OpArgKind.Int, value);
}

/// <summary>
/// One op of a model's forward pass, in forward order with the blocks unrolled (<see cref="Layer"/>: the block layer, or
/// -1). The backward pass is the same ops in reverse; decoding is the same ops over the KV cache, with the ops after the
/// last block on the last row only. Absent optional arguments (a bias, positions) are simply not listed.
/// </summary>
public sealed record OpInfo(OpKind Kind, int Layer, OpArg[] Args, double Number = 0)
{
    /// <summary>The argument with this role, or null.</summary>
    public OpArg? Find(string role)
    {
        foreach (var a in Args)
            if (a.Role == role) return a;
        return null;
    }

    int Get(string role, OpArgKind kind) =>
        Find(role) is { } a && a.Kind == kind ? a.Value : throw new InvalidOperationException($"{Kind} op has no {kind.ToString().ToLowerInvariant()} '{role}'");

    public int Slot(string role) => Get(role, OpArgKind.Slot);
    public int Param(string role) => Get(role, OpArgKind.Param);
    public int Site(string role) => Get(role, OpArgKind.Site);
    public int Int(string role) => Get(role, OpArgKind.Int);

    /// <summary>An optional parameter (a bias): its index, or -1 when the model has none.</summary>
    public int OptionalParam(string role) => Find(role) is { Kind: OpArgKind.Param } a ? a.Value : -1;

    public override string ToString() =>
        $"{Kind}{(Layer >= 0 ? $" (layer {Layer})" : "")}: {string.Join(", ", Args.Select(a => $"{a.Role}={a.Kind.ToString().ToLowerInvariant()} {a.Value}"))}";
}
