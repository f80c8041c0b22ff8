using System.Collections.Generic;
using System.Linq;
using Edge.Generators.Planning;
using Edge.Generators.Spec;

namespace Edge.Generators.Emitting
{
    /// <summary>
    /// The tables: constants naming the global tensors (Param, Site, Slot), the Block struct that names one layer's,
    /// the slot table every context is laid out from, and Describe (the parameter and projection layout).
    /// </summary>
    internal static class LayoutEmitter
    {
        /// <summary>A run of consecutive tensors that are all global or all in the block.</summary>
        internal sealed record Group<T>(bool InBlock, List<T> Items);

        /// <summary>Tensors of every layer collapse to layer 0's: the emitted code loops over layers.</summary>
        internal static List<Group<T>> Groups<T>(IEnumerable<T> tensors) where T : Tensor
        {
            var groups = new List<Group<T>>();
            foreach (var t in tensors)
            {
                if (t.InBlock && t.Layer > 0) continue;
                if (groups.Count == 0 || groups[groups.Count - 1].InBlock != t.InBlock) groups.Add(new Group<T>(t.InBlock, new List<T>()));
                groups[groups.Count - 1].Items.Add(t);
            }
            return groups;
        }

        public static void EmitTables(CodeWriter w, ModelSpec m, Plan plan)
        {
            w.Line("/// <summary>Parameter indices in the layout (weights, gradients and optimiser state share it).</summary>");
            Constants(w, "Param", plan.GlobalParams.Select(p => (p.Member, p.Index)));
            w.Line("/// <summary>Projection sites: every weight-matrix product, where quantised kernels and LoRA adapters attach.</summary>");
            Constants(w, "Site", plan.GlobalSites.Select(s => (s.Member, s.Index)));
            w.Line("/// <summary>Activation slots: each context lays them out in its own arena (see SlotTable).</summary>");
            var slots = plan.GlobalSlots.Select(s => (s.Member, s.Index)).ToList();
            if (plan.Blocks is not null) slots.Add(("BlocksOut", plan.Blocks.Outputs[plan.Blocks.Outputs.Count - 1].Index));
            Constants(w, "Slot", slots);
            if (plan.Blocks is not null) EmitBlock(w, plan);
            EmitSlotTable(w, plan);
        }

        static void Constants(CodeWriter w, string name, IEnumerable<(string Member, int Index)> items)
        {
            var list = items.ToList();
            if (list.Count == 0)
            {
                w.Line($"static class {name} {{ }}");
                w.Line();
                return;
            }
            w.Open($"static class {name}");
            foreach (var (member, index) in list) w.Line($"public const int {member} = {index};");
            w.Close();
            w.Line();
        }

        static void EmitBlock(CodeWriter w, Plan plan)
        {
            int layers = plan.Blocks!.Layers.Count;
            var ps = plan.Params.Where(p => p.InBlock).ToList();
            var ss = plan.Sites.Where(s => s.InBlock).ToList();
            var xs = plan.Slots.Where(s => s.InBlock).ToList();
            // Layer l's tensor of kind k is the layer-0 one's index plus l times the tensors per layer.
            int pStride = ps.Count / layers, sStride = ss.Count / layers, xStride = xs.Count / layers;
            var input = plan.Blocks.Inputs[0].Target;
            var output = plan.Blocks.Outputs[0];

            w.Line($"/// <summary>Where block {plan.Blocks.Prefix}.l's tensors are: parameter indices, projection sites and activation slots (In: the block's input).</summary>");
            w.Open("readonly struct Block");
            w.Line($"public readonly int {string.Join(", ", ps.Take(pStride).Select(p => p.Member))};");
            w.Line($"public readonly int {string.Join(", ", ss.Take(sStride).Select(s => s.Member))};");
            w.Line($"public readonly int In, {string.Join(", ", xs.Take(xStride).Select(s => s.Member))};");
            w.Line();
            w.Open("public Block(int l)");
            foreach (var p in ps.Take(pStride)) w.Line($"{p.Member} = {p.Index} + {pStride} * l;");
            foreach (var s in ss.Take(sStride)) w.Line($"{s.Member} = {s.Index} + {sStride} * l;");
            w.Line($"In = l == 0 ? Slot.{input.Member} : {output.Index - xStride} + {xStride} * l;");
            foreach (var s in xs.Take(xStride)) w.Line($"{s.Member} = {s.Index} + {xStride} * l;");
            w.Close();
            w.Close();
            w.Line();
        }

        static void EmitSlotTable(CodeWriter w, Plan plan)
        {
            w.Line("/// <summary>");
            w.Line("/// Every activation slot: rows x width (-1: V), its role, what uses it, and its first and last use in forward order");
            w.Line("/// (blocks unrolled; -1: not in the forward pass). Contexts lay out their arenas from it.");
            w.Line("/// </summary>");
            w.Line("static readonly E.SlotInfo[] SlotTable =");
            w.Line("[");
            foreach (var s in plan.Slots)
            {
                var uses = new List<string>();
                if (s.InForward) uses.Add("E.SlotUse.Forward");
                if (s.NeedsGrad) uses.Add("E.SlotUse.Gradient");
                if (s.InDecode) uses.Add(s.DecodeOneRow ? "E.SlotUse.DecodeOneRow" : "E.SlotUse.Decode");
                string use = uses.Count == 0 ? "E.SlotUse.None" : string.Join(" | ", uses);
                string width = s.Width == "V" ? "-1" : s.Width;
                w.Line($"    new({ModelEmitter.Str(s.Name)}, E.SlotRows.{s.Rows}, {width}, E.SlotRole.{s.Role}, {use}, " +
                    $"{(s.InForward ? s.FirstUse : -1)}, {(s.InForward ? s.LastUse : -1)}),");
            }
            w.Line("];");
            w.Line();
        }

        public static void EmitDescribe(CodeWriter w, ModelSpec m, Plan plan)
        {
            w.Line("/// <summary>The parameters (checkpoint order) and projection sites for vocabulary V; allocates no tensors.</summary>");
            w.Open("public static E.ModelLayout Describe(int V)");
            w.Line($"var layout = new E.ModelLayout({ModelEmitter.Str(m.ModelName)}, V, inputLength: {m.Context}, targetLength: {(plan.Sequence ? m.Context : 1)});");
            foreach (var group in Groups(plan.Params))
            {
                if (group.InBlock) w.Open($"for (int l = 0; l < {plan.Blocks!.Layers.Count}; l++)");
                foreach (var p in group.Items)
                    w.Line($"layout.Parameter({Name(plan, p)}, [{string.Join(", ", p.Shape)}], decay: {ModelEmitter.Bool(p.Decay)});");
                if (group.InBlock) w.Close();
            }
            w.Line("// The weight-matrix products (LoRA and quantisation sites), numbered as the generated code numbers them.");
            foreach (var group in Groups(plan.Sites))
            {
                if (group.InBlock) w.Open($"for (int l = 0; l < {plan.Blocks!.Layers.Count}; l++)");
                foreach (var s in group.Items)
                    w.Line($"layout.Projection({Name(plan, s)}, {Name(plan, s.Weight)}, {s.In}, {s.Out}, transposed: {ModelEmitter.Bool(s.Transposed)});");
                if (group.InBlock) w.Close();
            }
            w.Line("return layout;");
            w.Close();
            w.Line();
        }

        /// <summary>A tensor's name as a C# string: interpolated with l inside the block loop.</summary>
        static string Name(Plan plan, Tensor t) => t.InBlock ? "$\"" + plan.Blocks!.Prefix + ".{l}." + t.LocalName + "\"" : ModelEmitter.Str(t.Name);
    }
}
