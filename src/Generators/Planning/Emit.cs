using System;
using System.Collections.Generic;

namespace Edge.Generators.Planning
{
    /// <summary>The three passes an op prints itself for.</summary>
    internal enum Pass
    {
        /// <summary>Training and evaluation: B sequences (or windows) of T tokens; locals B, T, BT, tokens, dropout.</summary>
        Forward,
        /// <summary>The forward's ops in reverse: gradients accumulate into c.D (activations) and c.G (parameters).</summary>
        Backward,
        /// <summary>
        /// Decoding one sequence against the KV cache: T new tokens at <c>position</c> (T = 1 for a decoded token, the
        /// prompt for a prefill). Ops after the blocks (the tail) run on the last row only: that row's logits are the result.
        /// </summary>
        Decode,
    }

    /// <summary>
    /// What an op prints through: C# expressions for its tensors in the current pass (a slice of a context slot,
    /// of the weights, of the gradients), and the statements. Every slot an op renders is reported to
    /// <see cref="OnSlot"/>, which is how the planner learns the slots each pass touches and their lifetimes.
    /// </summary>
    internal sealed class Emit
    {
        readonly List<string> _lines = new();

        public Emit(Pass pass, int context)
        {
            Pass = pass;
            Context = context;
        }

        public Pass Pass { get; }
        public int Context { get; }
        /// <summary>Decode: the op being printed runs on the last row only.</summary>
        public bool Tail { get; set; }
        /// <summary>Decode: slots written by tail ops, which hold one row.</summary>
        public HashSet<Slot> OneRow { get; } = new();
        /// <summary>Called for every slot rendered (after aliases are resolved), with whether it is a gradient.</summary>
        public Action<Slot, bool>? OnSlot { get; set; }

        public IReadOnlyList<string> Lines => _lines;
        public void Line(string code) => _lines.Add(code);
        public void Clear() => _lines.Clear();

        /// <summary>How generated code names a tensor's index: a Block field (h.X) inside the loop, else a constant.</summary>
        public static string Ref(Tensor t) =>
            t.InBlock ? "h." + t.Member : t switch { Param => "Param.", Site => "Site.", _ => "Slot." } + t.Member;

        public string SiteRef(Site s) => Ref(s);
        public string ParamRef(Param p) => Ref(p);

        /// <summary>Rows of a slot in this pass, as a C# expression.</summary>
        public string RowsOf(Slot s) => Pass == Pass.Decode
            ? s.Rows switch
            {
                Rows.Tokens => OneRow.Contains(s.Actual) || Tail ? "1" : "T",
                Rows.Sequence => "T",
                Rows.Cache => Plan.I(Context),
                _ => throw new InvalidOperationException($"slot '{s.Name}' ({s.Rows}) has no decoding form"),
            }
            : s.Rows switch
            {
                Rows.Batch => "B",
                Rows.Window => "B * " + Plan.I(Context),
                Rows.Tokens => "BT",
                Rows.AttentionMap => "B * T * T",
                Rows.Sequence => "T",
                _ => throw new InvalidOperationException($"slot '{s.Name}' ({s.Rows}) exists only when decoding"),
            };

        /// <summary>Floats of a slot in this pass: rows x width.</summary>
        public string Length(Slot s) => s.Width == "1" ? RowsOf(s) : RowsOf(s) == "1" ? s.Width : RowsOf(s) + " * " + s.Width;

        /// <summary>An activation slot's values: c.A(slot, length).</summary>
        public string A(Slot s)
        {
            OnSlot?.Invoke(s.Actual, false);
            // Decode tail: a slot the blocks wrote holds T rows; the tail reads its last.
            if (Pass == Pass.Decode && Tail && s.Rows == Rows.Tokens && !OneRow.Contains(s.Actual))
                return $"c.A({Ref(s)}, T * {s.Width}).Slice((T - 1) * {s.Width})";
            return $"c.A({Ref(s)}, {Length(s)})";
        }

        /// <summary>A slot written by the current op in the decode tail: one row.</summary>
        public void WritesOneRow(Slot s)
        {
            if (Pass == Pass.Decode && Tail) OneRow.Add(s.Actual);
        }

        /// <summary>An activation's gradient, c.D(slot, length), or default (an empty span: the kernel skips it) when none flows there.</summary>
        public string D(Slot slot)
        {
            if (!slot.Actual.NeedsGrad) return "default";
            OnSlot?.Invoke(slot.Actual, true);
            return $"c.D({Ref(slot)}, {Length(slot)})";
        }

        /// <summary>A parameter's weights.</summary>
        public string W(Param p) => $"W({Ref(p)}, {p.Length})";

        /// <summary>A parameter's gradient slice in this context (empty while the weights are frozen).</summary>
        public string G(Param p) => $"c.G({Ref(p)}, {p.Length})";

        public string Opt(Param? p, Func<Param, string> slice) => p is null ? "default" : slice(p);
    }
}
