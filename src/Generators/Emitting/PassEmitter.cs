using System.Collections.Generic;
using System.Linq;
using Edge.Generators.Planning;

namespace Edge.Generators.Emitting
{
    /// <summary>
    /// The passes, each the plan's ops printed in one form: the forward in order, the backward in reverse, and
    /// decoding in order (derived from the same ops, not restated). Ops of the block print once, inside a loop over
    /// layers that names the layer's tensors through <c>var h = new Block(l)</c>.
    /// </summary>
    internal static class PassEmitter
    {
        public static void EmitForward(CodeWriter w, Plan plan)
        {
            var e = new Emit(Pass.Forward, plan.Context);
            w.Line(plan.Sequence
                ? "/// <summary>tokens [B, T] -> logits [B, T, V]: every layer in order; dropout only when asked.</summary>"
                : $"/// <summary>tokens [B, {plan.Context}] -> logits [B, V]: every layer in order.</summary>");
            w.Open("void RunLayers(E.ModelContext c, global::System.ReadOnlySpan<int> tokens, int B, int T, bool dropout)");
            Locals(w, plan);
            Ops(w, e, plan.Before.Where(op => op is not LossOp), reverse: false);
            if (plan.Blocks is { } blocks)
            {
                w.Line();
                w.Open($"for (int l = 0; l < {blocks.Layers.Count}; l++)");
                w.Line("var h = new Block(l);");
                Ops(w, e, blocks.Template, reverse: false, first: true);
                w.Close();
            }
            Ops(w, e, plan.After.Where(op => op is not LossOp), reverse: false);
            w.Close();
            w.Line();

            w.Line("/// <summary>The forward pass and the mean cross-entropy loss of the targets (probabilities kept for backward).</summary>");
            w.Open("protected override float ForwardCore(E.ModelContext c, global::System.ReadOnlySpan<int> tokens, global::System.ReadOnlySpan<int> targets, int B, int T, bool dropout)");
            Locals(w, plan);
            w.Line("RunLayers(c, tokens, B, T, dropout);");
            Ops(w, e, new[] { plan.Loss }, reverse: false, first: true);
            w.Close();
            w.Line();

            w.Line("/// <summary>The forward pass without a loss: the logits.</summary>");
            w.Open("protected override global::System.ReadOnlySpan<float> LogitsCore(E.ModelContext c, global::System.ReadOnlySpan<int> tokens, int B, int T)");
            Locals(w, plan);
            w.Line("RunLayers(c, tokens, B, T, dropout: false);");
            w.Line($"return {e.A(plan.Loss.Logits)};");
            w.Close();
            w.Line();
        }

        public static void EmitBackward(CodeWriter w, Plan plan)
        {
            var e = new Emit(Pass.Backward, plan.Context);
            w.Line("/// <summary>");
            w.Line("/// Every op's backward, last op first, for the last training forward: gradients accumulate into c.G (parameters;");
            w.Line("/// empty while the weights are frozen) and c.D (activations; the context clears the ones this batch uses first).");
            w.Line("/// </summary>");
            w.Open("protected override void BackwardCore(E.ModelContext c, int B, int T)");
            Locals(w, plan);
            w.Line("var tokens = c.SavedInputs;");
            w.Line("var targets = c.SavedTargets;");
            Ops(w, e, plan.After, reverse: true);
            if (plan.Blocks is { } blocks)
            {
                w.Line();
                w.Open($"for (int l = {blocks.Layers.Count - 1}; l >= 0; l--)");
                w.Line("var h = new Block(l);");
                Ops(w, e, blocks.Template, reverse: true, first: true);
                w.Close();
            }
            Ops(w, e, plan.Before, reverse: true);
            w.Close();
            w.Line();
        }

        public static void EmitDecode(CodeWriter w, Plan plan)
        {
            var e = new Emit(Pass.Decode, plan.Context);
            w.Line("/// <summary>");
            w.Line("/// Decoding: T new tokens of one sequence at <paramref name=\"position\"/> (a prompt, or one generated token) go");
            w.Line("/// through the same ops, their keys and values into the context's KV cache, attending over every cached");
            w.Line("/// position; the tail runs on the last row only. Returns the logits [V] for the token after them.");
            w.Line("/// </summary>");
            w.Open("protected override global::System.ReadOnlySpan<float> DecodeCore(E.ModelContext c, global::System.ReadOnlySpan<int> tokens, int position)");
            w.Line("int V = VocabSize, T = tokens.Length;");
            Ops(w, e, plan.Before.Where(op => op.Decodes), reverse: false);
            if (plan.Blocks is { } blocks)
            {
                w.Line();
                w.Open($"for (int l = 0; l < {blocks.Layers.Count}; l++)");
                w.Line("var h = new Block(l);");
                Ops(w, e, blocks.Template, reverse: false, first: true);
                w.Close();
            }
            e.Tail = true;
            Ops(w, e, plan.After.Where(op => op is not LossOp), reverse: false);
            w.Line($"return {e.A(plan.Loss.Logits)};");
            w.Close();
            w.Line();
        }

        /// <summary>
        /// The op table (Edge.OpInfo) for backends that walk the plan at run time: the forward's ops in order, blocks
        /// unrolled by the same loop the passes use. Built when first asked for, so models that never need it pay nothing.
        /// </summary>
        public static void EmitOpTable(CodeWriter w, Plan plan)
        {
            w.Line("/// <summary>The forward pass's ops in order, blocks unrolled (E.OpInfo): for backends that walk the plan at run time.</summary>");
            w.Open("static global::System.Collections.Generic.IReadOnlyList<E.OpInfo> DescribeOps()");
            w.Line("var ops = new global::System.Collections.Generic.List<E.OpInfo>();");
            foreach (var op in plan.Before) w.Line(OpEntry(op, "-1"));
            if (plan.Blocks is { } blocks)
            {
                w.Open($"for (int l = 0; l < {blocks.Layers.Count}; l++)");
                w.Line("var h = new Block(l);");
                foreach (var op in blocks.Template) w.Line(OpEntry(op, "l"));
                w.Close();
            }
            foreach (var op in plan.After) w.Line(OpEntry(op, "-1"));
            w.Line("return ops;");
            w.Close();
            w.Line();
        }

        static string OpEntry(Op op, string layer)
        {
            var d = op.Describe();
            var args = d.Args.Select(a => a.Tensor is null
                ? $"E.OpArg.Int(\"{a.Role}\", {Plan.I(a.Number)})"
                : $"E.OpArg.{a.Kind}(\"{a.Role}\", {Emit.Ref(a.Tensor)})");
            string number = d.Number == 0 ? "" : ", " + d.Number.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            return $"ops.Add(new(E.OpKind.{d.Kind}, {layer}, [{string.Join(", ", args)}]{number}));";
        }

        static void Locals(CodeWriter w, Plan plan)
        {
            if (!plan.Sequence) w.Line("int V = VocabSize;");
            else w.Line("int V = VocabSize, BT = B * T;");
        }

        /// <summary>Each op's comment and statements (an op with nothing to print in this pass prints nothing), a blank line between ops.</summary>
        static void Ops(CodeWriter w, Emit e, IEnumerable<Op> ops, bool reverse, bool first = false)
        {
            foreach (var op in reverse ? ops.Reverse() : ops)
            {
                e.Clear();
                switch (e.Pass)
                {
                    case Pass.Forward: op.Forward(e); break;
                    case Pass.Backward: op.Backward(e); break;
                    default: op.Decode(e); break;
                }
                string comment = e.Pass == Pass.Backward ? op.BackwardComment(e) : op.Comment(e);
                if (e.Lines.Count == 0 && !(op is FlattenOp && e.Pass == Pass.Forward)) continue;
                if (!first) w.Line();
                first = false;
                w.Line("// " + comment);
                foreach (var line in e.Lines) w.Line(line);
            }
        }
    }
}
