namespace Edge;

/// <summary>How many rows an activation slot has for a context's largest batch B and sequence length T; its length is rows x width.</summary>
public enum SlotRows
{
    /// <summary>B: one row per example (window models).</summary>
    Batch = 0,
    /// <summary>B * Context: one row per position of a window (window models' embeddings).</summary>
    Window = 1,
    /// <summary>B * T: one row per position (sequence models).</summary>
    Tokens = 2,
    /// <summary>B * T * T: attention probabilities, width = heads.</summary>
    AttentionMap = 3,
    /// <summary>T: one value per position of one sequence (scratch).</summary>
    Sequence = 4,
    /// <summary>Context: every position a KV cache holds.</summary>
    Cache = 5,
}

/// <summary>What a slot is for: it decides which contexts hold it.</summary>
public enum SlotRole
{
    /// <summary>An activation on the path from the tokens to the loss; gets a gradient slot when one flows to it.</summary>
    Main = 0,
    /// <summary>Kept by the forward pass for the backward pass (LayerNorm statistics, softmax probabilities).</summary>
    Saved = 1,
    /// <summary>Written only in training (dropout masks, attention maps, backward scratch): absent from inference contexts.</summary>
    Training = 2,
    /// <summary>Decoding state (the KV cache, attention scores): only in decoding contexts.</summary>
    Decoding = 3,
}

/// <summary>Which passes use a slot.</summary>
[Flags]
public enum SlotUse
{
    None = 0,
    /// <summary>The forward pass reads or writes it.</summary>
    Forward = 1,
    /// <summary>A gradient flows to it: training contexts give it a gradient slot.</summary>
    Gradient = 2,
    /// <summary>The decoding pass uses it with up to T rows.</summary>
    Decode = 4,
    /// <summary>The decoding pass uses one row of it (the ops after the blocks run on the last position only).</summary>
    DecodeOneRow = 8,
}

/// <summary>
/// One activation slot of a model, as the generator lays it out: name, rows x width (width -1: the vocabulary), role, the
/// passes that use it, and its first and last use among the forward pass's ops (blocks unrolled; -1 when the forward pass
/// does not use it). Contexts size and place their slots from this table: a training context gives each its own memory, an
/// inference context lets slots whose lifetimes do not overlap share memory.
/// </summary>
public sealed record SlotInfo(string Name, SlotRows Rows, int Width, SlotRole Role, SlotUse Use, int FirstUse, int LastUse)
{
    /// <summary>Floats for B examples of T positions (T: the context for sequence models), V the vocabulary.</summary>
    public long Length(int batch, int length, int context, int vocab)
    {
        long rows = Rows switch
        {
            SlotRows.Batch => batch,
            SlotRows.Window => (long)batch * context,
            SlotRows.Tokens => (long)batch * length,
            SlotRows.AttentionMap => (long)batch * length * length,
            SlotRows.Sequence => length,
            SlotRows.Cache => context,
            _ => throw new ArgumentOutOfRangeException(nameof(Rows)),
        };
        return rows * (Width < 0 ? vocab : Width);
    }
}
