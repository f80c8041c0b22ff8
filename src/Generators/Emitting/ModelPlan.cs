using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Edge.Generators.Spec;

namespace Edge.Generators.Emitting
{
    /// <summary>How a parameter starts: N(0, std²), zeros, or ones (LayerNorm scales).</summary>
    internal enum InitKind { Normal, Zeros, Ones }

    /// <summary>A parameter tensor: checkpoint name, shape as C# expressions over V, and how to initialise it.</summary>
    internal sealed record PlannedParameter(string Name, string[] Shape, bool Decay, InitKind Init, float InitStd, string InitNote)
    {
        public string Field => ModelPlan.FieldName(Name);
        public string Length => string.Join(" * ", Shape);
    }

    /// <summary>An activation buffer: name and length as a C# expression over B, T and V.</summary>
    internal sealed record PlannedActivation(string Name, string Length)
    {
        public string Field => ModelPlan.FieldName(Name);
    }

    /// <summary>
    /// The model turned into code-shaped pieces: tensors, activations, and per layer the forward and backward
    /// statements with a shape comment. The emitter only arranges these; all shape reasoning happens here.
    /// Generated methods use these locals: V (vocabulary), B (batch), T (sequence length; sequence models),
    /// w/g (weights/gradients), a/da (activations and their gradients), tokens/targets (this batch's ids),
    /// dropout (a training pass with dropout on).
    /// </summary>
    /// <summary>A weight-matrix product (a LoRA and quantisation site): index, name, weight, in and out as C# expressions.</summary>
    internal sealed record PlannedProjection(int Index, string Name, PlannedParameter Weight, string In, string Out, bool Transposed);

    internal sealed class ModelPlan
    {
        public readonly List<PlannedParameter> Parameters = new();
        public readonly List<PlannedActivation> Activations = new();
        /// <summary>Per-session decoding buffers (KV cache, one position's activations): a separate arena per session.</summary>
        public readonly List<PlannedActivation> SessionActivations = new();
        public readonly List<PlannedProjection> Projections = new();
        /// <summary>(shape comment, statements) per layer, in forward order.</summary>
        public readonly List<(string Comment, string[] Code)> Forward = new();
        /// <summary>(shape comment, statements) per layer, in backward order.</summary>
        public readonly List<(string Comment, string[] Code)> Backward = new();
        public readonly List<string> Summary = new();
        public PlannedParameter? CountingTable;
        public double Smoothing;
        public bool Sequence;
        public double Dropout;
        /// <summary>Rows of the logits: B for window models, B * T for sequence models.</summary>
        public string Rows = "B";

        public static string FieldName(string tensor)
        {
            var parts = tensor.Split('.', '_');
            return "_" + parts[0] + string.Concat(parts.Skip(1).Select(p => p.Length == 0 ? p : char.ToUpperInvariant(p[0]) + p.Substring(1)));
        }

        static string Num(float f) => f.ToString("0.0######", CultureInfo.InvariantCulture) + "f";
        static string I(int i) => i.ToString(CultureInfo.InvariantCulture);

        static string P(PlannedParameter p) => $"w.Slice({p.Field}, {p.Length})";
        /// <summary>An optional parameter's slice, or `default` (an empty span: the kernel skips it).</summary>
        static string Opt(PlannedParameter? p, Func<PlannedParameter, string> slice) => p is null ? "default" : slice(p);
        /// <summary>A parameter's gradient slice; empty while the base is frozen (LoRA training), so kernels skip it.</summary>
        static string G(PlannedParameter p) => $"Grad({p.Field}, {p.Length})";
        static string A(PlannedActivation x) => $"a.Slice({x.Field}, {x.Length})";
        static string D(PlannedActivation x) => $"da.Slice({x.Field}, {x.Length})";
        /// <summary>A buffer of the decoding session's arena.</summary>
        static string S(PlannedActivation x) => $"s.Slice({x.Field}, {x.Length})";

        PlannedProjection Projection(string name, PlannedParameter weight, string inDim, string outDim, bool transposed = false)
        {
            var p = new PlannedProjection(Projections.Count, name, weight, inDim, outDim, transposed);
            Projections.Add(p);
            return p;
        }

        PlannedProjection FindProjection(string name) => Projections.First(p => p.Name == name);

        /// <summary>
        /// y [rows, out] = x [rows, in] @ W + b through the model's projection hook: the fp32 kernel, or the quantised
        /// one when this weight is quantised, then the terms of any active LoRA adapters on this site.
        /// </summary>
        static string ProjectCall(PlannedProjection p, string x, string w, string b, string y, string rows, string adapters = "adapters") =>
            $"Project({p.Index}, {x}, {w}, {b}, {y}, {rows}, {p.In}, {p.Out}, {adapters}); // {p.Name}";

        /// <summary>The projection's backward: dx (and dW, db unless the base is frozen), and the adapters' gradients.</summary>
        static string ProjectBackwardCall(PlannedProjection p, string x, string w, string dy, string dx, string dw, string db, string rows) =>
            $"ProjectBackward({p.Index}, {x}, {w}, {dy}, {dx}, {dw}, {db}, {rows}, {p.In}, {p.Out}); // {p.Name}";

        PlannedParameter Param(string name, string[] shape, bool decay, InitKind init, float std, string note)
        {
            var p = new PlannedParameter(name, shape, decay, init, std, note);
            Parameters.Add(p);
            return p;
        }

        PlannedActivation Act(string name, string length)
        {
            var x = new PlannedActivation(name, length);
            Activations.Add(x);
            return x;
        }

        PlannedActivation SessionAct(string name, string length)
        {
            var x = new PlannedActivation(name, length);
            SessionActivations.Add(x);
            return x;
        }

        void Fwd(string comment, params string[] code) => Forward.Add((comment, code));
        void Bwd(string comment, params string[] code) => Backward.Insert(0, (comment, code));

        public static ModelPlan Build(ModelSpec model)
        {
            var plan = new ModelPlan();
            plan.Lay(model);
            return plan;
        }

        // The current activation while walking the layers: [rows, width], rows a C# expression.
        PlannedActivation? _x;
        string _rows = "B";
        int _width;
        PlannedParameter? _wte;
        int _embeddingWidth;
        bool _bias = true; // transformer blocks (and the final LayerNorm after them) may drop every bias

        void Lay(ModelSpec model)
        {
            int c = model.Context;
            Sequence = model.Layers.Any(l => l.Kind == LayerKind.TransformerBlocks);
            Summary.Add(Sequence ? "tokens        [B, T] (T <= " + I(c) + ")" : $"tokens        [B, {c}]");
            foreach (var layer in model.Layers)
            {
                switch (layer.Kind)
                {
                    case LayerKind.TokenEmbedding: LayEmbedding(layer, c); break;
                    case LayerKind.Flatten: LayFlatten(); break;
                    case LayerKind.Dense: LayDense(layer); break;
                    case LayerKind.TransformerBlocks: LayBlocks(layer); break;
                    case LayerKind.LayerNorm: LayLayerNorm("ln_f"); break;
                    case LayerKind.OutputHead: LayHead(layer); break;
                    case LayerKind.BigramTable: LayBigram(layer); break;
                }
            }
            Rows = _rows;
            var logits = Activations.First(x => x.Name == "logits");
            var probs = Act("probs", $"{_rows} * V");
            Summary.Add($"loss          softmax cross-entropy over logits [{_rows}, V]");
            Bwd($"loss: dlogits [{_rows}, V] = (probs - onehot(targets)) / ({_rows})",
                $"K.SoftmaxCrossEntropy.Backward({A(probs)}, targets, {D(logits)}, {_rows}, V, 1f / ({_rows}));");
            LossStatement = $"return K.SoftmaxCrossEntropy.Forward({A(logits)}, targets, {A(probs)}, {_rows}, V);";
            LogitsSlice = A(logits);
            if (Sequence) LayDecode(model);
        }

        /// <summary>
        /// The decoding path of a transformer: the same layers on one position, appending that position's key and
        /// value to per-layer caches [Context, C] and attending over the cached positions. Every buffer it uses lives
        /// in the session arena `s` (one per <c>DecodeSession</c>), so sessions decode side by side on one model;
        /// `adapters` is the session's set of active LoRA adapters.
        /// </summary>
        void LayDecode(ModelSpec model)
        {
            int ctx = model.Context;
            var blocks = model.Layers.First(l => l.Kind == LayerKind.TransformerBlocks);
            var embedding = model.Layers.First(l => l.Kind == LayerKind.TokenEmbedding);
            int c = embedding.Width, heads = blocks.Heads, hidden = blocks.Ratio * c;
            var x = SessionAct("dec.x", I(c));
            var ln = SessionAct("dec.ln", I(c));
            var stats = SessionAct("dec.stats", "2");
            var qkv = SessionAct("dec.qkv", I(3 * c));
            var y = SessionAct("dec.y", I(c));
            var proj = SessionAct("dec.proj", I(c));
            var fc = SessionAct("dec.fc", I(hidden));
            var gelu = SessionAct("dec.gelu", I(hidden));
            var scores = SessionAct("dec.scores", I(ctx));
            var logits = SessionAct("dec.logits", "V");
            string mean = $"s.Slice({stats.Field}, 1)", rstd = $"s.Slice({stats.Field} + 1, 1)";
            string X = S(x), LN = S(ln), QKV = S(qkv), Y = S(y), PROJ = S(proj);

            var wte = Find("wte.weight");
            var embed = new List<string> { $"Embed({Parameters.IndexOf(wte)}, new global::System.ReadOnlySpan<int>(in token), {P(wte)}, {X}, 1, {c});" };
            if (embedding.Flag) embed.Add($"K.VectorMath.Add(w.Slice({Find("wpe.weight").Field} + position * {c}, {c}), {X});");
            Decode.Add(($"wte[token]{(embedding.Flag ? " + wpe[position]" : "")} -> x [{c}]", embed.ToArray()));

            for (int l = 0; l < blocks.Layers; l++)
            {
                string h = $"h.{l}";
                var k = SessionAct($"kv.{h}.k", $"{ctx} * {c}");
                var v = SessionAct($"kv.{h}.v", $"{ctx} * {c}");
                Decode.Add(($"{h}: x += attn(ln_1(x)); this position's key and value go to the cache at row `position`", new[]
                {
                    $"K.LayerNorm.Forward({X}, {P(Find(h + ".ln_1.weight"))}, {Maybe(h + ".ln_1.bias")}, {LN}, {mean}, {rstd}, 1, {c});",
                    ProjectCall(FindProjection(h + ".attn.c_attn"), LN, P(Find(h + ".attn.c_attn.weight")), Maybe(h + ".attn.c_attn.bias"), QKV, "1"),
                    $"{QKV}.Slice({c}, {c}).CopyTo(s.Slice({k.Field} + position * {c}, {c}));",
                    $"{QKV}.Slice({2 * c}, {c}).CopyTo(s.Slice({v.Field} + position * {c}, {c}));",
                    $"K.AttentionDecode.Forward({QKV}, s.Slice({k.Field}, (position + 1) * {c}), s.Slice({v.Field}, (position + 1) * {c}), {Y}, {S(scores)}, position + 1, {c}, {heads});",
                    ProjectCall(FindProjection(h + ".attn.c_proj"), Y, P(Find(h + ".attn.c_proj.weight")), Maybe(h + ".attn.c_proj.bias"), PROJ, "1"),
                    $"K.VectorMath.Add({PROJ}, {X});",
                }));
                Decode.Add(($"{h}: x += mlp(ln_2(x))", new[]
                {
                    $"K.LayerNorm.Forward({X}, {P(Find(h + ".ln_2.weight"))}, {Maybe(h + ".ln_2.bias")}, {LN}, {mean}, {rstd}, 1, {c});",
                    ProjectCall(FindProjection(h + ".mlp.c_fc"), LN, P(Find(h + ".mlp.c_fc.weight")), Maybe(h + ".mlp.c_fc.bias"), S(fc), "1"),
                    $"K.{GeluKernel(blocks)}.Forward({S(fc)}, {S(gelu)});",
                    ProjectCall(FindProjection(h + ".mlp.c_proj"), S(gelu), P(Find(h + ".mlp.c_proj.weight")), Maybe(h + ".mlp.c_proj.bias"), PROJ, "1"),
                    $"K.VectorMath.Add({PROJ}, {X});",
                }));
                var fullQkv = Activations.First(a => a.Name == h + ".attn.qkv");
                Prefill.Add($"a.Slice({fullQkv.Field} + t * {3 * c} + {c}, {c}).CopyTo(s.Slice({k.Field} + t * {c}, {c}));");
                Prefill.Add($"a.Slice({fullQkv.Field} + t * {3 * c} + {2 * c}, {c}).CopyTo(s.Slice({v.Field} + t * {c}, {c}));");
            }

            var final = new List<string>();
            string input = X;
            if (Parameters.Any(p => p.Name == "ln_f.weight"))
            {
                final.Add($"K.LayerNorm.Forward({X}, {P(Find("ln_f.weight"))}, {Maybe("ln_f.bias")}, {LN}, {mean}, {rstd}, 1, {c});");
                input = LN;
            }
            var head = FindProjection("lm_head");
            final.Add(ProjectCall(head, input, P(head.Weight), Maybe("lm_head.bias"), S(logits), "1"));
            Decode.Add(("ln_f and the head -> logits [V]", final.ToArray()));
            DecodeLogits = S(logits);
        }

        public string LossStatement = "";
        public string LogitsSlice = "";
        /// <summary>Sequence models: one-position decoding against the KV cache, and the cache fill after a prefill.</summary>
        public readonly List<(string Comment, string[] Code)> Decode = new();
        public readonly List<string> Prefill = new();
        public string DecodeLogits = "";

        PlannedParameter Find(string name) => Parameters.First(p => p.Name == name);
        string Maybe(string name) => Parameters.FirstOrDefault(p => p.Name == name) is { } p ? P(p) : "default";

        void LayEmbedding(LayerSpec layer, int c)
        {
            int e = layer.Width;
            string positions = Sequence ? "T" : I(c);
            _rows = Sequence ? "B * T" : $"B * {c}";
            float std = Sequence ? 0.02f : 1f;
            string note = Sequence ? "N(0, 0.02), GPT-2" : "N(0, 1), as in makemore";
            _wte = Param("wte.weight", new[] { "V", I(e) }, decay: true, InitKind.Normal, std, note);
            _embeddingWidth = e;
            var emb = Act("emb", $"{_rows} * {e}");
            Summary.Add($"wte           embedding [V, {e}]{(layer.Flag ? $" + wpe [{c}, {e}]" : "")} -> emb [B, {positions}, {e}]");
            if (layer.Flag)
            {
                var wpe = Param("wpe.weight", new[] { I(c), I(e) }, decay: true, InitKind.Normal, std, note);
                Fwd($"wte + wpe: tokens [B, {positions}] -> emb [B, {positions}, {e}] = wte[token] + wpe[position]",
                    $"Embed({Parameters.IndexOf(_wte)}, tokens, {P(_wte)}, {A(emb)}, {_rows}, {e});",
                    $"K.Embedding.AddPositions({A(emb)}, {P(wpe)}, B, {positions}, {e});");
                Bwd($"wte + wpe: demb [B, {positions}, {e}] -> dwte [V, {e}] (scatter-add), dwpe [{c}, {e}]",
                    $"K.Embedding.PositionsBackward({D(emb)}, {G(wpe)}, B, {positions}, {e});",
                    $"K.Embedding.Backward(tokens, {D(emb)}, {G(_wte)}, {_rows}, {e});");
            }
            else
            {
                Fwd($"wte: tokens [B, {positions}] -> emb [B, {positions}, {e}]",
                    $"Embed({Parameters.IndexOf(_wte)}, tokens, {P(_wte)}, {A(emb)}, {_rows}, {e});");
                Bwd($"wte: demb [B, {positions}, {e}] -> dwte [V, {e}] (scatter-add)",
                    $"K.Embedding.Backward(tokens, {D(emb)}, {G(_wte)}, {_rows}, {e});");
            }
            _x = emb;
            _width = e;
        }

        void LayFlatten()
        {
            string positions = _rows.Substring("B * ".Length);
            Summary.Add($"flatten       emb [B, {positions}, {_width}] -> [B, {int.Parse(positions) * _width}]");
            Fwd($"flatten: emb [B, {positions}, {_width}] is [B, {int.Parse(positions) * _width}] in memory; no work");
            _width *= int.Parse(positions);
            _rows = "B";
        }

        void LayDense(LayerSpec layer)
        {
            int n = _width, m = layer.Width;
            var (gain, gainNote) = layer.Activation switch
            {
                ActivationKind.Tanh => (5f / 3f, "tanh gain 5/3"),
                ActivationKind.Relu => ((float)Math.Sqrt(2), "ReLU gain sqrt(2)"),
                _ => (1f, "gain 1"),
            };
            var weight = Param(layer.Name + ".weight", new[] { I(n), I(m) }, decay: true, InitKind.Normal,
                gain / (float)Math.Sqrt(n), $"N(0, ({gainNote}) / sqrt({n})): Kaiming");
            var bias = Param(layer.Name + ".bias", new[] { I(m) }, decay: false, InitKind.Zeros, 0f, "zeros");
            var x = _x!;
            string act = layer.Activation switch { ActivationKind.Tanh => "Tanh", ActivationKind.Relu => "Relu", _ => "" };
            var pre = Act(act.Length > 0 ? layer.Name + ".pre" : layer.Name, $"{_rows} * {m}");
            var output = act.Length > 0 ? Act(layer.Name, $"{_rows} * {m}") : pre;
            string actText = act.Length > 0 ? $", {act.ToLowerInvariant()}" : "";
            Summary.Add($"{layer.Name,-13} dense [{n}, {m}]{actText} -> {output.Name} [B, {m}]");
            var proj = Projection(layer.Name, weight, I(n), I(m));
            var fwd = new List<string> { ProjectCall(proj, A(x), P(weight), P(bias), A(pre), _rows) };
            if (act.Length > 0) fwd.Add($"K.Activations.{act}Forward({A(pre)}, {A(output)});");
            Fwd($"{layer.Name}: {x.Name} [B, {n}] @ {weight.Name} [{n}, {m}] + {bias.Name} [{m}] -> {pre.Name} [B, {m}]"
                + (act.Length > 0 ? $"; {act.ToLowerInvariant()} -> {output.Name} [B, {m}]" : ""), fwd.ToArray());
            var bwd = new List<string>();
            if (act.Length > 0) bwd.Add($"K.Activations.{act}Backward({A(output)}, {D(output)}, {D(pre)});");
            bwd.Add(ProjectBackwardCall(proj, A(x), P(weight), D(pre), D(x), G(weight), G(bias), _rows));
            Bwd($"{layer.Name}: d{output.Name} [B, {m}] -> d{x.Name} [B, {n}], d{weight.Name}, d{bias.Name}", bwd.ToArray());
            _x = output;
            _width = m;
        }

        /// <summary>LayerNorm over the current activation's last dimension.</summary>
        void LayLayerNorm(string name)
        {
            int c = _width;
            var x = _x!;
            var scale = Param(name + ".weight", new[] { I(c) }, decay: false, InitKind.Ones, 0f, "ones");
            var shift = _bias ? Param(name + ".bias", new[] { I(c) }, decay: false, InitKind.Zeros, 0f, "zeros") : null;
            var y = Act(name, $"{_rows} * {c}");
            var mean = Act(name + ".mean", _rows);
            var rstd = Act(name + ".rstd", _rows);
            if (name == "ln_f") Summary.Add($"ln_f          layer norm [{c}] -> ln_f [{_rows}, {c}]");
            Fwd($"{name}: {x.Name} [{_rows}, {c}] -> {name} [{_rows}, {c}] (mean and 1/std per row kept for backward)",
                $"K.LayerNorm.Forward({A(x)}, {P(scale)}, {Opt(shift, P)}, {A(y)}, {A(mean)}, {A(rstd)}, {_rows}, {c});");
            Bwd($"{name}: d{name} [{_rows}, {c}] -> d{x.Name}, d{scale.Name}{(shift is null ? "" : ", d" + shift.Name)}",
                $"K.LayerNorm.Backward({D(y)}, {A(x)}, {P(scale)}, {A(mean)}, {A(rstd)}, {D(x)}, {G(scale)}, {Opt(shift, G)}, {_rows}, {c});");
            _x = y;
        }

        /// <summary>out = x + dropout(branch): a residual connection around a sub-layer.</summary>
        void Residual(string name, PlannedActivation x, PlannedActivation branch)
        {
            var dropped = Act(name + ".drop", $"{_rows} * {_width}");
            var mask = Act(name + ".mask", $"{_rows} * {_width}");
            var output = Act(name + ".out", $"{_rows} * {_width}");
            string n = $"{_rows} * {_width}";
            Fwd($"{name} residual: {output.Name} = {x.Name} + dropout({branch.Name}), [{_rows}, {_width}]",
                $"if (dropout) {{ K.Dropout.Forward({A(branch)}, {A(dropped)}, {A(mask)}, {n}, DropoutRate, ref DropoutRng); K.VectorMath.AddTo({A(x)}, {A(dropped)}, {A(output)}, {n}); }}",
                $"else K.VectorMath.AddTo({A(x)}, {A(branch)}, {A(output)}, {n});");
            Bwd($"{name} residual: d{output.Name} flows to d{x.Name} and (through the dropout mask) d{branch.Name}",
                $"K.VectorMath.Add({D(output)}, {D(x)});",
                $"if (_dropped) K.Dropout.Backward({D(output)}, {A(mask)}, {D(branch)}, {n}); else K.VectorMath.Add({D(output)}, {D(branch)});");
            _x = output;
        }

        /// <summary>The MLP's GELU kernel: Edge.Kernels.Gelu (tanh form) or GeluExact (erf form).</summary>
        static string GeluKernel(LayerSpec blocks) => blocks.ExactGelu ? "GeluExact" : "Gelu";

        void LayBlocks(LayerSpec layer)
        {
            int c = _width, heads = layer.Heads, hs = c / heads, hidden = layer.Ratio * c, layers = layer.Layers;
            Dropout = layer.Number;
            _bias = layer.Flag;
            PlannedParameter? Bias(string name, int size) =>
                _bias ? Param(name, new[] { I(size) }, decay: false, InitKind.Zeros, 0f, "zeros") : null;
            float projStd = 0.02f / (float)Math.Sqrt(2 * layers);
            string projNote = $"N(0, 0.02 / sqrt(2 * {layers})): GPT-2's scaled residual projections";

            // Embedding dropout: x0 = dropout(emb).
            var emb = _x!;
            var embDrop = Act("emb.drop", $"{_rows} * {c}");
            var embMask = Act("emb.mask", $"{_rows} * {c}");
            Fwd($"dropout on the embeddings: emb -> emb.drop [B, T, {c}]",
                $"if (dropout) K.Dropout.Forward({A(emb)}, {A(embDrop)}, {A(embMask)}, {_rows} * {c}, DropoutRate, ref DropoutRng);",
                $"else {A(emb)}.CopyTo({A(embDrop)});");
            Bwd($"dropout on the embeddings: demb.drop -> demb",
                $"if (_dropped) K.Dropout.Backward({D(embDrop)}, {A(embMask)}, {D(emb)}, {_rows} * {c}); else K.VectorMath.Add({D(embDrop)}, {D(emb)});");
            _x = embDrop;
            Summary.Add($"h.0..{layers - 1}        {layers} x block: x += attn(ln_1(x)) ({heads} heads of {hs}); x += mlp(ln_2(x)) ({(layer.ExactGelu ? "exact gelu" : "gelu")}, {hidden}); dropout {Dropout.ToString(CultureInfo.InvariantCulture)}");

            var scratch = Act("attn.scratch", "T");
            for (int l = 0; l < layers; l++)
            {
                string h = $"h.{l}";
                var input = _x!;

                // x += attn(ln_1(x))
                LayLayerNorm(h + ".ln_1");
                var ln1 = _x!;
                var wAttn = Param(h + ".attn.c_attn.weight", new[] { I(c), I(3 * c) }, decay: true, InitKind.Normal, 0.02f, "N(0, 0.02)");
                var bAttn = Bias(h + ".attn.c_attn.bias", 3 * c);
                var wProj = Param(h + ".attn.c_proj.weight", new[] { I(c), I(c) }, decay: true, InitKind.Normal, projStd, projNote);
                var bProj = Bias(h + ".attn.c_proj.bias", c);
                var pAttn = Projection(h + ".attn.c_attn", wAttn, I(c), I(3 * c));
                var pProj = Projection(h + ".attn.c_proj", wProj, I(c), I(c));
                var qkv = Act(h + ".attn.qkv", $"{_rows} * {3 * c}");
                var att = Act(h + ".attn.att", $"B * {heads} * T * T");
                var y = Act(h + ".attn.y", $"{_rows} * {c}");
                var proj = Act(h + ".attn.proj", $"{_rows} * {c}");
                Fwd($"{h}.attn.c_attn: ln_1 [B, T, {c}] @ [{c}, {3 * c}] + [{3 * c}] -> qkv [B, T, {3 * c}]",
                    ProjectCall(pAttn, A(ln1), P(wAttn), Opt(bAttn, P), A(qkv), _rows));
                Bwd($"{h}.attn.c_attn: dqkv -> dln_1, dc_attn",
                    ProjectBackwardCall(pAttn, A(ln1), P(wAttn), D(qkv), D(ln1), G(wAttn), Opt(bAttn, G), _rows));
                Fwd($"{h}.attn: causal self-attention, {heads} heads of {hs}: qkv -> y [B, T, {c}] (probabilities att [B, {heads}, T, T] kept)",
                    $"K.Attention.Forward({A(qkv)}, {A(y)}, {A(att)}, B, T, {c}, {heads});");
                Bwd($"{h}.attn: dy -> dqkv",
                    $"K.Attention.Backward({D(y)}, {A(qkv)}, {A(att)}, {D(qkv)}, {A(scratch)}, B, T, {c}, {heads});");
                Fwd($"{h}.attn.c_proj: y [B, T, {c}] @ [{c}, {c}] + [{c}] -> proj [B, T, {c}]",
                    ProjectCall(pProj, A(y), P(wProj), Opt(bProj, P), A(proj), _rows));
                Bwd($"{h}.attn.c_proj: dproj -> dy, dc_proj",
                    ProjectBackwardCall(pProj, A(y), P(wProj), D(proj), D(y), G(wProj), Opt(bProj, G), _rows));
                Residual(h + ".attn", input, proj);
                var afterAttn = _x!;

                // x += mlp(ln_2(x))
                LayLayerNorm(h + ".ln_2");
                var ln2 = _x!;
                var wFc = Param(h + ".mlp.c_fc.weight", new[] { I(c), I(hidden) }, decay: true, InitKind.Normal, 0.02f, "N(0, 0.02)");
                var bFc = Bias(h + ".mlp.c_fc.bias", hidden);
                var wOut = Param(h + ".mlp.c_proj.weight", new[] { I(hidden), I(c) }, decay: true, InitKind.Normal, projStd, projNote);
                var bOut = Bias(h + ".mlp.c_proj.bias", c);
                var pFc = Projection(h + ".mlp.c_fc", wFc, I(c), I(hidden));
                var pOut = Projection(h + ".mlp.c_proj", wOut, I(hidden), I(c));
                var fc = Act(h + ".mlp.fc", $"{_rows} * {hidden}");
                var gelu = Act(h + ".mlp.gelu", $"{_rows} * {hidden}");
                var mlpOut = Act(h + ".mlp.proj", $"{_rows} * {c}");
                Fwd($"{h}.mlp: ln_2 [B, T, {c}] @ c_fc [{c}, {hidden}] -> gelu -> @ c_proj [{hidden}, {c}] -> proj [B, T, {c}]",
                    ProjectCall(pFc, A(ln2), P(wFc), Opt(bFc, P), A(fc), _rows),
                    $"K.{GeluKernel(layer)}.Forward({A(fc)}, {A(gelu)});",
                    ProjectCall(pOut, A(gelu), P(wOut), Opt(bOut, P), A(mlpOut), _rows));
                Bwd($"{h}.mlp: dproj -> dgelu -> dfc -> dln_2, dc_proj, dc_fc",
                    ProjectBackwardCall(pOut, A(gelu), P(wOut), D(mlpOut), D(gelu), G(wOut), Opt(bOut, G), _rows),
                    $"K.{GeluKernel(layer)}.Backward({A(fc)}, {D(gelu)}, {D(fc)});",
                    ProjectBackwardCall(pFc, A(ln2), P(wFc), D(fc), D(ln2), G(wFc), Opt(bFc, G), _rows));
                Residual(h + ".mlp", afterAttn, mlpOut);
            }
        }

        void LayHead(LayerSpec layer)
        {
            int n = _width;
            var x = _x!;
            var logits = Act("logits", $"{_rows} * V");
            if (layer.Tied)
            {
                var wte = _wte!;
                var bias = layer.Flag ? Param("lm_head.bias", new[] { "V" }, decay: false, InitKind.Zeros, 0f, "zeros") : null;
                Summary.Add($"lm_head       tied to wte: {x.Name} @ wte^T [{n}, V] -> logits [{_rows}, V]");
                var tied = Projection("lm_head", wte, I(n), "V", transposed: true);
                Fwd($"lm_head (tied): {x.Name} [{_rows}, {n}] @ wte^T [{n}, V] -> logits [{_rows}, V]",
                    ProjectCall(tied, A(x), P(wte), bias is null ? "default" : P(bias), A(logits), _rows));
                Bwd($"lm_head (tied): dlogits -> d{x.Name}, and dwte gets the head's share (the embedding adds its own)",
                    ProjectBackwardCall(tied, A(x), P(wte), D(logits), D(x), G(wte), bias is null ? "default" : G(bias), _rows));
                return;
            }
            float std = Sequence ? 0.02f : 0.01f;
            var weight = Param("lm_head.weight", new[] { I(n), "V" }, decay: true, InitKind.Normal, std,
                Sequence ? "N(0, 0.02)" : "N(0, 0.01): near-uniform predictions at the start");
            var b = layer.Flag ? Param("lm_head.bias", new[] { "V" }, decay: false, InitKind.Zeros, 0f, "zeros") : null;
            Summary.Add($"lm_head       dense [{n}, V] -> logits [{_rows}, V]");
            var head = Projection("lm_head", weight, I(n), "V");
            Fwd($"lm_head: {x.Name} [{_rows}, {n}] @ lm_head.weight [{n}, V]{(b is null ? "" : " + lm_head.bias [V]")} -> logits [{_rows}, V]",
                ProjectCall(head, A(x), P(weight), b is null ? "default" : P(b), A(logits), _rows));
            Bwd($"lm_head: dlogits [{_rows}, V] -> d{x.Name} [{_rows}, {n}], dlm_head",
                ProjectBackwardCall(head, A(x), P(weight), D(logits), D(x), G(weight), b is null ? "default" : G(b), _rows));
        }

        void LayBigram(LayerSpec layer)
        {
            var table = Param("table.weight", new[] { "V", "V" }, decay: true, InitKind.Zeros, 0f, "zeros: uniform predictions at the start");
            var logits = Act("logits", "B * V");
            Summary.Add("table         bigram [V, V] -> logits [B, V]");
            Fwd("table: the previous token's row is its logits: tokens [B, 1] -> logits [B, V]",
                $"K.Embedding.Forward(tokens, {P(table)}, {A(logits)}, B, V);");
            Bwd("table: dlogits [B, V] -> dtable [V, V] (scatter-add into the rows used)",
                $"K.Embedding.Backward(tokens, {D(logits)}, {G(table)}, B, V);");
            if (layer.Flag) { CountingTable = table; Smoothing = layer.Number; }
        }

        public static string InitStatement(PlannedParameter p) => p.Init switch
        {
            InitKind.Normal => $"global::Edge.Init.Normal(w.Slice({p.Field}, {p.Length}), ref rng, {Num(p.InitStd)}); // {p.Name} {ShapeText(p)}: {p.InitNote}",
            InitKind.Ones => $"w.Slice({p.Field}, {p.Length}).Fill(1f); // {p.Name} {ShapeText(p)}: ones",
            _ => $"// {p.Name} {ShapeText(p)}: {p.InitNote}",
        };

        public static string ShapeText(PlannedParameter p) => "[" + string.Join(", ", p.Shape) + "]";
    }
}
