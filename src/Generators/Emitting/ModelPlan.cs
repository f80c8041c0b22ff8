using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Edge.Generators.Spec;

namespace Edge.Generators.Emitting
{
    /// <summary>A parameter tensor: checkpoint name, shape as C# expressions over V, and how to initialise it.</summary>
    internal sealed record PlannedParameter(string Name, string[] Shape, bool Decay, float InitStd, string InitNote)
    {
        public string Field => ModelPlan.FieldName(Name);
        public string Length => string.Join(" * ", Shape);
    }

    /// <summary>An activation buffer: name and length as a C# expression over B and V.</summary>
    internal sealed record PlannedActivation(string Name, string Length)
    {
        public string Field => ModelPlan.FieldName(Name);
    }

    /// <summary>
    /// The model turned into code-shaped pieces: tensors, activations, and per layer the forward and backward
    /// statements with a shape comment. The emitter only arranges these; all shape reasoning happens here.
    /// Generated methods use these locals: V (vocabulary), B (batch), w/g (weights/gradients), a/da
    /// (activations and their gradients), tokens/targets (this batch's ids).
    /// </summary>
    internal sealed class ModelPlan
    {
        public readonly List<PlannedParameter> Parameters = new();
        public readonly List<PlannedActivation> Activations = new();
        /// <summary>(shape comment, statements) per layer, in forward order.</summary>
        public readonly List<(string Comment, string[] Code)> Forward = new();
        /// <summary>(shape comment, statements) per layer, in backward order.</summary>
        public readonly List<(string Comment, string[] Code)> Backward = new();
        public readonly List<string> Summary = new();
        public string LogitsRows = "B";
        public PlannedParameter? CountingTable;
        public double Smoothing;

        public static string FieldName(string tensor)
        {
            var parts = tensor.Split('.', '_');
            return "_" + parts[0] + string.Concat(parts.Skip(1).Select(p => p.Length == 0 ? p : char.ToUpperInvariant(p[0]) + p.Substring(1)));
        }

        static string Num(float f) => f.ToString("0.0######", CultureInfo.InvariantCulture) + "f";

        string P(PlannedParameter p) => $"w.Slice({p.Field}, {p.Length})";
        string G(PlannedParameter p) => $"g.Slice({p.Field}, {p.Length})";
        string A(PlannedActivation x) => $"a.Slice({x.Field}, {x.Length})";
        string D(PlannedActivation x) => $"da.Slice({x.Field}, {x.Length})";

        PlannedParameter Param(string name, string[] shape, bool decay, float std, string note)
        {
            var p = new PlannedParameter(name, shape, decay, std, note);
            Parameters.Add(p);
            return p;
        }

        PlannedActivation Act(string name, string length)
        {
            var x = new PlannedActivation(name, length);
            Activations.Add(x);
            return x;
        }

        public static ModelPlan Build(ModelSpec model)
        {
            var plan = new ModelPlan();
            plan.Lay(model);
            return plan;
        }

        void Lay(ModelSpec model)
        {
            int c = model.Context;
            PlannedActivation? current = null;
            int width = 0, positions = c; // current activation: [B, positions, width]
            Summary.Add($"tokens        [B, {c}]");

            foreach (var layer in model.Layers)
            {
                switch (layer.Kind)
                {
                    case LayerKind.TokenEmbedding:
                    {
                        int e = layer.Width;
                        var table = Param("wte.weight", new[] { "V", I(e) }, decay: true, 1f, "N(0, 1), as in makemore");
                        var emb = Act("emb", $"B * {c * e}");
                        Summary.Add($"wte           embedding [V, {e}] -> emb [B, {c}, {e}]");
                        Forward.Add(($"wte: tokens [B, {c}] -> emb [B, {c}, {e}]", new[]
                        {
                            $"K.Embedding.Forward(tokens, {P(table)}, {A(emb)}, B * {c}, {e});",
                        }));
                        Backward.Insert(0, ($"wte: demb [B, {c}, {e}] -> dwte [V, {e}] (scatter-add)", new[]
                        {
                            $"K.Embedding.Backward(tokens, {D(emb)}, {G(table)}, B * {c}, {e});",
                        }));
                        current = emb; width = e;
                        break;
                    }
                    case LayerKind.Flatten:
                        Summary.Add($"flatten       emb [B, {positions}, {width}] -> [B, {positions * width}]");
                        Forward.Add(($"flatten: emb [B, {positions}, {width}] is [B, {positions * width}] in memory; no work", Array.Empty<string>()));
                        width *= positions; positions = 1;
                        break;
                    case LayerKind.Dense:
                    {
                        int n = width, m = layer.Width;
                        var (gain, gainNote) = layer.Activation switch
                        {
                            ActivationKind.Tanh => (5f / 3f, "tanh gain 5/3"),
                            ActivationKind.Relu => ((float)Math.Sqrt(2), "ReLU gain sqrt(2)"),
                            _ => (1f, "gain 1"),
                        };
                        var weight = Param(layer.Name + ".weight", new[] { I(n), I(m) }, decay: true,
                            gain / (float)Math.Sqrt(n), $"N(0, ({gainNote}) / sqrt({n})): Kaiming");
                        var bias = Param(layer.Name + ".bias", new[] { I(m) }, decay: false, 0f, "zeros");
                        var x = current!;
                        string act = layer.Activation switch { ActivationKind.Tanh => "Tanh", ActivationKind.Relu => "Relu", _ => "" };
                        var pre = Act(act.Length > 0 ? layer.Name + ".pre" : layer.Name, $"B * {m}");
                        var output = act.Length > 0 ? Act(layer.Name, $"B * {m}") : pre;
                        string actText = act.Length > 0 ? $", {act.ToLowerInvariant()}" : "";
                        Summary.Add($"{layer.Name,-13} dense [{n}, {m}]{actText} -> {output.Name} [B, {m}]");
                        var fwd = new List<string>
                        {
                            $"K.Linear.Forward({A(x)}, {P(weight)}, {P(bias)}, {A(pre)}, B, {n}, {m});",
                        };
                        if (act.Length > 0) fwd.Add($"K.Activations.{act}Forward({A(pre)}, {A(output)});");
                        Forward.Add(($"{layer.Name}: {x.Name} [B, {n}] @ {weight.Name} [{n}, {m}] + {bias.Name} [{m}] -> {pre.Name} [B, {m}]"
                                     + (act.Length > 0 ? $"; {act.ToLowerInvariant()} -> {output.Name} [B, {m}]" : ""), fwd.ToArray()));
                        var bwd = new List<string>();
                        if (act.Length > 0) bwd.Add($"K.Activations.{act}Backward({A(output)}, {D(output)}, {D(pre)});");
                        bwd.Add($"K.Linear.Backward({A(x)}, {P(weight)}, {D(pre)}, {D(x)}, {G(weight)}, {G(bias)}, B, {n}, {m});");
                        Backward.Insert(0, ($"{layer.Name}: d{output.Name} [B, {m}] -> d{x.Name} [B, {n}], d{weight.Name}, d{bias.Name}", bwd.ToArray()));
                        current = output; width = m;
                        break;
                    }
                    case LayerKind.OutputHead:
                    {
                        int n = width;
                        var weight = Param("lm_head.weight", new[] { I(n), "V" }, decay: true, 0.01f, "N(0, 0.01): near-uniform predictions at the start");
                        var bias = layer.Flag ? Param("lm_head.bias", new[] { "V" }, decay: false, 0f, "zeros") : null;
                        var x = current!;
                        var logits = Act("logits", "B * V");
                        Summary.Add($"lm_head       dense [{n}, V] -> logits [B, V]");
                        Forward.Add(($"lm_head: {x.Name} [B, {n}] @ lm_head.weight [{n}, V]{(bias is null ? "" : " + lm_head.bias [V]")} -> logits [B, V]", new[]
                        {
                            $"K.Linear.Forward({A(x)}, {P(weight)}, {(bias is null ? "default" : P(bias))}, {A(logits)}, B, {n}, V);",
                        }));
                        Backward.Insert(0, ($"lm_head: dlogits [B, V] -> d{x.Name} [B, {n}], dlm_head", new[]
                        {
                            $"K.Linear.Backward({A(x)}, {P(weight)}, {D(logits)}, {D(x)}, {G(weight)}, {(bias is null ? "default" : G(bias))}, B, {n}, V);",
                        }));
                        break;
                    }
                    case LayerKind.BigramTable:
                    {
                        var table = Param("table.weight", new[] { "V", "V" }, decay: true, 0f, "zeros: uniform predictions at the start");
                        var logits = Act("logits", "B * V");
                        Summary.Add("table         bigram [V, V] -> logits [B, V]");
                        Forward.Add(("table: the previous token's row is its logits: tokens [B, 1] -> logits [B, V]", new[]
                        {
                            $"K.Embedding.Forward(tokens, {P(table)}, {A(logits)}, B, V);",
                        }));
                        Backward.Insert(0, ("table: dlogits [B, V] -> dtable [V, V] (scatter-add into the rows used)", new[]
                        {
                            $"K.Embedding.Backward(tokens, {D(logits)}, {G(table)}, B, V);",
                        }));
                        if (layer.Flag) { CountingTable = table; Smoothing = layer.Number; }
                        break;
                    }
                }
            }
            var probs = Act("probs", "B * V");
            Summary.Add("loss          softmax cross-entropy over logits [B, V]");
            Backward.Insert(0, ("loss: dlogits [B, V] = (probs - onehot(targets)) / B", new[]
            {
                $"K.SoftmaxCrossEntropy.Backward({A(probs)}, targets, {D(Activations.First(x => x.Name == "logits"))}, B, V, 1f / B);",
            }));
        }

        public string LogitsSlice => A(Activations.First(x => x.Name == "logits"));
        public string LossStatement =>
            $"return K.SoftmaxCrossEntropy.Forward({LogitsSlice}, targets, {A(Activations.First(x => x.Name == "probs"))}, B, V);";

        public static string InitStatement(PlannedParameter p) =>
            p.InitStd == 0 ? $"// {p.Name} {ShapeText(p)}: {p.InitNote}"
                           : $"global::Edge.Init.Normal(w.Slice({p.Field}, {p.Length}), ref rng, {Num(p.InitStd)}); // {p.Name} {ShapeText(p)}: {p.InitNote}";

        public static string ShapeText(PlannedParameter p) => "[" + string.Join(", ", p.Shape) + "]";

        static string I(int i) => i.ToString(CultureInfo.InvariantCulture);
    }
}
