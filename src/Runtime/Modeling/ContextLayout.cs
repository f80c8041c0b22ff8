namespace Edge;

/// <summary>What a context is for, which decides the slots it holds and how they are placed.</summary>
public enum ContextKind
{
    /// <summary>Forward passes (evaluation, scoring, logits): slots whose lifetimes do not overlap share memory; no gradients.</summary>
    Inference,
    /// <summary>Forward and backward passes: every slot the backward pass reads has its own memory, and gradients where they flow.</summary>
    Training,
    /// <summary>Generation: batch 1 with a KV cache over the whole context; the prompt and each new token go through the decoding pass.</summary>
    Decoding,
}

/// <summary>
/// Where a context's slots live: an offset and a length per slot in one arena of activations (0 for a slot this kind of
/// context does not hold), and in training an offset per slot in a second arena of activation gradients (-1 where no
/// gradient flows). Offsets are multiples of 16 floats (64 bytes).
/// </summary>
public sealed class ContextLayout
{
    const int Align = 16;

    ContextLayout(int slots)
    {
        Offsets = new int[slots];
        Lengths = new int[slots];
        GradientOffsets = new int[slots];
        Array.Fill(GradientOffsets, -1);
    }

    public int[] Offsets { get; }
    public int[] Lengths { get; }
    public int[] GradientOffsets { get; }
    public long ArenaLength { get; private set; }
    public long GradientLength { get; private set; }
    /// <summary>Bytes of both arenas.</summary>
    public long Bytes => 4 * (ArenaLength + GradientLength);

    /// <param name="keepActivations">Inference: keep every activation of the last pass (attention maps included) instead of sharing memory.</param>
    public static ContextLayout Build(ModelInfo info, int vocab, int maxBatch, ContextKind kind, bool keepActivations = false)
    {
        var slots = info.Slots;
        var layout = new ContextLayout(slots.Count);
        int batch = kind == ContextKind.Decoding ? 1 : maxBatch, length = info.SequenceTargets ? info.Context : 1;
        long Size(SlotInfo s) =>
            kind == ContextKind.Decoding && s.Use.HasFlag(SlotUse.DecodeOneRow) ? s.Length(1, 1, info.Context, vocab) : s.Length(batch, length, info.Context, vocab);

        bool Holds(SlotInfo s) => kind switch
        {
            ContextKind.Training => s.Role != SlotRole.Decoding,
            ContextKind.Inference => keepActivations ? s.Role != SlotRole.Decoding : s.Use.HasFlag(SlotUse.Forward) && s.Role is SlotRole.Main or SlotRole.Saved,
            _ => s.Use.HasFlag(SlotUse.Decode) || s.Use.HasFlag(SlotUse.DecodeOneRow),
        };
        // Slots that live for the whole context get memory of their own; the others share by lifetime.
        bool Shares(SlotInfo s) => !keepActivations && kind != ContextKind.Training && s.Role != SlotRole.Decoding && s.FirstUse >= 0;

        var shared = new List<int>();
        long end = 0;
        for (int i = 0; i < slots.Count; i++)
        {
            var s = slots[i];
            if (!Holds(s)) continue;
            if (Shares(s)) { shared.Add(i); continue; }
            end = layout.Place(i, end, Size(s), info.Name);
        }
        layout.ArenaLength = Math.Max(end, layout.PlaceByLifetime(slots, shared, end, Size, info.Name));

        if (kind == ContextKind.Training)
        {
            long g = 0;
            for (int i = 0; i < slots.Count; i++)
            {
                if (!slots[i].Use.HasFlag(SlotUse.Gradient)) continue;
                layout.GradientOffsets[i] = Checked(g, info.Name);
                g = AlignUp(g + Size(slots[i]));
            }
            layout.GradientLength = g;
        }
        return layout;
    }

    long Place(int slot, long offset, long size, string model)
    {
        Offsets[slot] = Checked(offset, model);
        Lengths[slot] = Checked(size, model);
        return AlignUp(offset + size);
    }

    /// <summary>
    /// Greedy placement in order of first use: a slot takes the lowest free range that fits, freed by slots whose last use
    /// came before its first (never one an op still reads while writing this one). Returns the arena's end.
    /// </summary>
    long PlaceByLifetime(IReadOnlyList<SlotInfo> slots, List<int> order, long start, Func<SlotInfo, long> size, string model)
    {
        order.Sort((a, b) => slots[a].FirstUse != slots[b].FirstUse ? slots[a].FirstUse.CompareTo(slots[b].FirstUse) : a.CompareTo(b));
        var live = new List<(long Start, long End, int Last)>();   // ranges in use, with the op that frees them
        long end = start;
        foreach (int i in order)
        {
            var s = slots[i];
            live.RemoveAll(r => r.Last < s.FirstUse);
            long n = AlignUp(size(s)), at = start;
            foreach (var r in live.OrderBy(r => r.Start))
            {
                if (r.Start - at >= n) break;
                at = Math.Max(at, r.End);
            }
            Offsets[i] = Checked(at, model);
            Lengths[i] = Checked(size(s), model);
            live.Add((at, at + n, s.LastUse));
            end = Math.Max(end, at + n);
        }
        return end;
    }

    static long AlignUp(long n) => (n + Align - 1) / Align * Align;

    static int Checked(long value, string model) => value <= int.MaxValue
        ? (int)value
        : throw new EdgeException($"model {model}: the activations do not fit in one arena ({value:N0} floats at one offset); use a smaller batch");
}
