using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Edge.Generators.Spec;

namespace Edge.Generators.Planning
{
    /// <summary>
    /// <see cref="ModelSpec"/> in, <see cref="Plan"/> out: the parameters (in checkpoint order, with their initial
    /// values), the projection sites, the activation slots and the ops, then two passes over the ops: which slots a
    /// gradient flows to, and which slots each pass touches and when (their lifetimes, for memory reuse).
    /// </summary>
    internal sealed class Planner
    {
        readonly Plan _plan = new();
        readonly ModelSpec _model;
        // The op list being filled (before, one block layer, after) and the block layer being planned (-1: none).
        List<Op> _ops;
        int _layer = -1;
        Slot? _x;              // the current activation
        Param? _wte;

        Planner(ModelSpec model)
        {
            _model = model;
            _ops = _plan.Before;
            _plan.Context = model.Context;
            _plan.Sequence = model.Sequence;
        }

        public static Plan Build(ModelSpec model)
        {
            var planner = new Planner(model);
            planner.Lay();
            var plan = planner._plan;
            MarkGradients(plan);
            MarkUses(plan);
            return plan;
        }

        // ---- tensors ----

        /// <summary>PascalCase of a tensor's local name: "attn.c_attn.weight" -> AttnCAttnWeight.</summary>
        static string Member(string local) =>
            string.Concat(local.Split('.', '_').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p.Substring(1)));

        // Block tensors are named "{prefix}.{layer}.{local}": GPT-2's "h.3.ln_1.weight", Llama's "model.layers.3.input_layernorm.weight".
        string _prefix = "h";
        string Full(string local) => _layer >= 0 ? $"{_prefix}.{_layer}.{local}" : local;

        Param Param(string local, string[] shape, bool decay, InitKind init, float std, string note)
        {
            var p = new Param(Full(local), local, Member(local), _layer, shape, decay, init, std, note) { Index = _plan.Params.Count };
            _plan.Params.Add(p);
            return p;
        }

        Param? Bias(string local, string size, bool present) =>
            present ? Param(local, new[] { size }, decay: false, InitKind.Zeros, 0f, "zeros") : null;

        Site Site(string local, Param weight, string inDim, string outDim, bool transposed = false)
        {
            var s = new Site(Full(local), local, Member(local), _layer, weight, inDim, outDim, transposed) { Index = _plan.Sites.Count };
            _plan.Sites.Add(s);
            return s;
        }

        Slot Slot(string local, Rows rows, string width, SlotRole role = SlotRole.Main)
        {
            var s = new Slot(Full(local), local, Member(local), _layer, rows, width, role) { Index = _plan.Slots.Count };
            _plan.Slots.Add(s);
            return s;
        }

        void Add(Op op) => _ops.Add(op);

        static string I(int i) => Plan.I(i);

        // ---- layers ----

        void Lay()
        {
            int c = _model.Context;
            _plan.Summary.Add(_model.Sequence ? $"tokens        [B, T] (T <= {I(c)})" : $"tokens        [B, {I(c)}]");
            foreach (var layer in _model.Layers)
            {
                switch (layer)
                {
                    case EmbeddingSpec e: LayEmbedding(e); break;
                    case FlattenSpec f: LayFlatten(f); break;
                    case DenseSpec d: LayDense(d); break;
                    case GptBlocksSpec b: LayBlocks(b); break;
                    case LlamaBlocksSpec b: LayLlamaBlocks(b); break;
                    case FinalNormSpec n: LayFinalNorm(n); break;
                    case FinalRmsNormSpec n: LayFinalRmsNorm(n); break;
                    case HeadSpec h: LayHead(h); break;
                    case BigramSpec b: LayBigram(b); break;
                    default: throw new InvalidOperationException("unknown layer " + layer.GetType().Name);
                }
            }
            var logits = _x!;
            var probs = Slot("probs", logits.Rows, "V", SlotRole.Saved);
            _plan.Summary.Add($"loss          softmax cross-entropy over logits [{(_model.Sequence ? "B * T" : "B")}, V]");
            _plan.Loss = new LossOp(logits, probs);
            Add(_plan.Loss);
        }

        void LayEmbedding(EmbeddingSpec layer)
        {
            int e = layer.Dim, c = _model.Context;
            bool seq = _model.Sequence;
            float std = seq ? 0.02f : 1f;
            string note = layer.Llama ? "N(0, 0.02)" : seq ? "N(0, 0.02), GPT-2" : "N(0, 1), as in makemore";
            _wte = Param(layer.Llama ? "model.embed_tokens.weight" : "wte.weight", new[] { "V", I(e) }, decay: true, InitKind.Normal, std, note);
            var wpe = layer.Positional ? Param("wpe.weight", new[] { I(c), I(e) }, decay: true, InitKind.Normal, std, note) : null;
            var emb = Slot("emb", seq ? Rows.Tokens : Rows.Window, I(e));
            string positions = seq ? "T" : I(c);
            _plan.Summary.Add(layer.Llama
                ? $"embed_tokens  embedding [V, {e}] -> emb [B, {positions}, {e}]"
                : $"wte           embedding [V, {e}]{(wpe is not null ? $" + wpe [{c}, {e}]" : "")} -> emb [B, {positions}, {e}]");
            Add(new EmbeddingOp(_wte, wpe, emb, e));
            _x = emb;
        }

        void LayFlatten(FlattenSpec layer)
        {
            _plan.Summary.Add($"flatten       emb [B, {layer.Positions}, {layer.Width}] -> [B, {layer.Positions * layer.Width}]");
            Add(new FlattenOp(_x!, layer.Positions, layer.Width));
        }

        void LayDense(DenseSpec layer)
        {
            int n = layer.In, m = layer.Out;
            var (gain, gainNote) = layer.Activation switch
            {
                Activation.Tanh => (5f / 3f, "tanh gain 5/3"),
                Activation.Relu => ((float)Math.Sqrt(2), "ReLU gain sqrt(2)"),
                _ => (1f, "gain 1"),
            };
            var weight = Param(layer.Name + ".weight", new[] { I(n), I(m) }, decay: true, InitKind.Normal,
                gain / (float)Math.Sqrt(n), $"N(0, ({gainNote}) / sqrt({n})): Kaiming");
            var bias = Param(layer.Name + ".bias", new[] { I(m) }, decay: false, InitKind.Zeros, 0f, "zeros");
            bool act = layer.Activation != Activation.None;
            var x = _x!;
            var pre = Slot(act ? layer.Name + ".pre" : layer.Name, Rows.Batch, I(m));
            var output = act ? Slot(layer.Name, Rows.Batch, I(m)) : pre;
            string actText = act ? ", " + layer.Activation.ToString().ToLowerInvariant() : "";
            _plan.Summary.Add($"{layer.Name,-13} dense [{n}, {m}]{actText} -> {output.Name} [B, {m}]");
            var site = Site(layer.Name, weight, I(n), I(m));
            Add(new ProjectOp(site, x, bias, pre,
                $"{layer.Name}: {x.Name} [B, {n}] @ {weight.Name} [{n}, {m}] + {bias.Name} [{m}] -> {pre.Name} [B, {m}]"));
            if (act) Add(new ActivationOp(layer.Activation, pre, output));
            _x = output;
        }

        LayerNormOp LayerNorm(string local, Slot x, int width, bool bias)
        {
            var scale = Param(local + ".weight", new[] { I(width) }, decay: false, InitKind.Ones, 0f, "ones");
            var shift = Bias(local + ".bias", I(width), bias);
            var y = Slot(local, Rows.Tokens, I(width));
            var mean = Slot(local + ".mean", Rows.Tokens, "1", SlotRole.Saved);
            var rstd = Slot(local + ".rstd", Rows.Tokens, "1", SlotRole.Saved);
            return new LayerNormOp(local, x, scale, shift, y, mean, rstd, width);
        }

        void LayFinalNorm(FinalNormSpec layer)
        {
            _plan.Summary.Add($"ln_f          layer norm [{layer.Width}] -> ln_f [B * T, {layer.Width}]");
            var op = LayerNorm("ln_f", _x!, layer.Width, layer.Bias);
            Add(op);
            _x = op.Y;
        }

        void LayBlocks(GptBlocksSpec b)
        {
            int c = b.Width, heads = b.Heads, hs = b.HeadSize, hidden = b.Hidden, layers = b.Layers;
            _plan.Dropout = b.Dropout;
            float projStd = 0.02f / (float)Math.Sqrt(2 * layers);
            string projNote = $"N(0, 0.02 / sqrt(2 * {layers})): GPT-2's scaled residual projections";

            // Embedding dropout: x0 = dropout(emb).
            var emb = _x!;
            var embDrop = Slot("emb.drop", Rows.Tokens, I(c));
            var embMask = Slot("emb.mask", Rows.Tokens, I(c), SlotRole.Training);
            Add(new DropoutOp("embeddings", emb, embDrop, embMask));
            var scratch = Slot("attn.scratch", Rows.Sequence, "1", SlotRole.Training);
            var scores = Slot("attn.scores", Rows.Cache, "1", SlotRole.Decoding);
            _plan.Summary.Add($"h.0..{layers - 1}        {layers} x block: x += attn(ln_1(x)) ({heads} heads of {hs}); x += mlp(ln_2(x)) " +
                $"({(b.Gelu == GeluForm.Exact ? "exact gelu" : "gelu")}, {hidden}); dropout {b.Dropout.ToString(CultureInfo.InvariantCulture)}");

            var perLayer = new List<List<Op>>();
            var inputs = new List<SlotProxy>();
            var outputs = new List<Slot>();
            Slot input = embDrop;
            for (int l = 0; l < layers; l++)
            {
                _layer = l;
                _ops = new List<Op>();
                perLayer.Add(_ops);
                var x = new SlotProxy("In", l, input);
                inputs.Add(x);

                // x += attn(ln_1(x))
                var ln1 = LayerNorm("ln_1", x, c, b.Bias);
                Add(ln1);
                var wAttn = Param("attn.c_attn.weight", new[] { I(c), I(3 * c) }, decay: true, InitKind.Normal, 0.02f, "N(0, 0.02)");
                var bAttn = Bias("attn.c_attn.bias", I(3 * c), b.Bias);
                var wProj = Param("attn.c_proj.weight", new[] { I(c), I(c) }, decay: true, InitKind.Normal, projStd, projNote);
                var bProj = Bias("attn.c_proj.bias", I(c), b.Bias);
                var pAttn = Site("attn.c_attn", wAttn, I(c), I(3 * c));
                var pProj = Site("attn.c_proj", wProj, I(c), I(c));
                var qkv = Slot("attn.qkv", Rows.Tokens, I(3 * c));
                var att = Slot("attn.att", Rows.AttentionMap, I(heads), SlotRole.Training);
                var y = Slot("attn.y", Rows.Tokens, I(c));
                var proj = Slot("attn.proj", Rows.Tokens, I(c));
                var keys = Slot("attn.keys", Rows.Cache, I(c), SlotRole.Decoding);
                var values = Slot("attn.values", Rows.Cache, I(c), SlotRole.Decoding);
                Add(new ProjectOp(pAttn, ln1.Y, bAttn, qkv, $"attn.c_attn: ln_1 [{{R}}, {c}] @ [{c}, {3 * c}]{(b.Bias ? $" + [{3 * c}]" : "")} -> qkv [{{R}}, {3 * c}]"));
                Add(new AttentionOp(qkv, y, att, scratch, scores, keys, values, c, heads));
                Add(new ProjectOp(pProj, y, bProj, proj, $"attn.c_proj: y [{{R}}, {c}] @ [{c}, {c}]{(b.Bias ? $" + [{c}]" : "")} -> proj [{{R}}, {c}]"));
                var attnOut = Residual("attn", x, proj, c);

                // x += mlp(ln_2(x))
                var ln2 = LayerNorm("ln_2", attnOut, c, b.Bias);
                Add(ln2);
                var wFc = Param("mlp.c_fc.weight", new[] { I(c), I(hidden) }, decay: true, InitKind.Normal, 0.02f, "N(0, 0.02)");
                var bFc = Bias("mlp.c_fc.bias", I(hidden), b.Bias);
                var wOut = Param("mlp.c_proj.weight", new[] { I(hidden), I(c) }, decay: true, InitKind.Normal, projStd, projNote);
                var bOut = Bias("mlp.c_proj.bias", I(c), b.Bias);
                var pFc = Site("mlp.c_fc", wFc, I(c), I(hidden));
                var pOut = Site("mlp.c_proj", wOut, I(hidden), I(c));
                var fc = Slot("mlp.fc", Rows.Tokens, I(hidden));
                var gelu = Slot("mlp.gelu", Rows.Tokens, I(hidden));
                var mlpOut = Slot("mlp.proj", Rows.Tokens, I(c));
                Add(new ProjectOp(pFc, ln2.Y, bFc, fc, $"mlp.c_fc: ln_2 [{{R}}, {c}] @ [{c}, {hidden}]{(b.Bias ? $" + [{hidden}]" : "")} -> fc [{{R}}, {hidden}]"));
                Add(new GeluOp(b.Gelu, fc, gelu));
                Add(new ProjectOp(pOut, gelu, bOut, mlpOut, $"mlp.c_proj: gelu [{{R}}, {hidden}] @ [{hidden}, {c}]{(b.Bias ? $" + [{c}]" : "")} -> proj [{{R}}, {c}]"));
                input = Residual("mlp", attnOut, mlpOut, c);
                outputs.Add(input);
            }
            _layer = -1;
            _ops = _plan.After;
            _plan.Blocks = new BlockItem("h", perLayer, inputs, outputs);
            _x = new SlotProxy("BlocksOut", -1, input);
        }

        void LayFinalRmsNorm(FinalRmsNormSpec layer)
        {
            _plan.Summary.Add($"model.norm    rmsnorm [{layer.Width}] -> norm [B * T, {layer.Width}]");
            var op = RmsNorm("model.norm", "norm", _x!, layer.Width, layer.Epsilon);
            Add(op);
            _x = op.Y;
        }

        /// <summary>RMSNorm: the parameter local.weight, the output slot (named <paramref name="slot"/>) and its 1/rms.</summary>
        RmsNormOp RmsNorm(string local, string slot, Slot x, int width, double epsilon)
        {
            var scale = Param(local + ".weight", new[] { I(width) }, decay: false, InitKind.Ones, 0f, "ones");
            var y = Slot(slot, Rows.Tokens, I(width));
            var rstd = Slot(slot + ".rstd", Rows.Tokens, "1", SlotRole.Saved);
            return new RmsNormOp(local, x, scale, y, rstd, width, epsilon);
        }

        /// <summary>
        /// Llama blocks with Hugging Face's names (model.layers.N.self_attn.q_proj, ...) and torch.nn.Linear's [out, in]
        /// weights: x += o_proj(attn(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))), n = rmsnorm(x);
        /// x += down_proj(silu(gate_proj(n)) * up_proj(n)), n = rmsnorm(x).
        /// </summary>
        void LayLlamaBlocks(LlamaBlocksSpec b)
        {
            int c = b.Width, heads = b.Heads, kvHeads = b.KvHeads, hs = b.HeadSize, kv = b.KvWidth, hidden = b.MlpHidden, layers = b.Layers;
            bool interleaved = b.Rope == RopeLayout.Interleaved;
            _plan.Dropout = b.Dropout;
            _plan.Rope = (hs, b.RopeTheta);
            float projStd = 0.02f / (float)Math.Sqrt(2 * layers);
            string projNote = $"N(0, 0.02 / sqrt(2 * {layers})): scaled residual projections, as GPT-2 and nanoGPT";

            var emb = _x!;
            var embDrop = Slot("emb.drop", Rows.Tokens, I(c));
            var embMask = Slot("emb.mask", Rows.Tokens, I(c), SlotRole.Training);
            Add(new DropoutOp("embeddings", emb, embDrop, embMask));
            var scratch = Slot("attn.scratch", Rows.Sequence, "1", SlotRole.Training);
            var scores = Slot("attn.scores", Rows.Cache, "1", SlotRole.Decoding);
            _plan.Summary.Add($"model.layers  {layers} x block: x += attn(rmsnorm(x)) ({heads} query heads over {kvHeads} key/value heads of {hs}, " +
                $"rope theta {b.RopeTheta.ToString(CultureInfo.InvariantCulture)}, {(interleaved ? "interleaved" : "half")}); x += swiglu mlp ({hidden}); " +
                $"dropout {b.Dropout.ToString(CultureInfo.InvariantCulture)}");

            _prefix = "model.layers";
            var perLayer = new List<List<Op>>();
            var inputs = new List<SlotProxy>();
            var outputs = new List<Slot>();
            Slot input = embDrop;
            for (int l = 0; l < layers; l++)
            {
                _layer = l;
                _ops = new List<Op>();
                perLayer.Add(_ops);
                var x = new SlotProxy("In", l, input);
                inputs.Add(x);

                // x += attn(rmsnorm(x))
                var n1 = RmsNorm("input_layernorm", "input_layernorm", x, c, b.NormEpsilon);
                Add(n1);
                Site Linear(string local, int inDim, int outDim, bool bias, float std, string note, out Param? b0)
                {
                    var w = Param(local + ".weight", new[] { I(outDim), I(inDim) }, decay: true, InitKind.Normal, std, note);
                    b0 = Bias(local + ".bias", I(outDim), bias);
                    return Site(local, w, I(inDim), I(outDim), transposed: true);
                }
                var pq = Linear("self_attn.q_proj", c, c, b.QkvBias, 0.02f, "N(0, 0.02)", out var bq);
                var pk = Linear("self_attn.k_proj", c, kv, b.QkvBias, 0.02f, "N(0, 0.02)", out var bk);
                var pv = Linear("self_attn.v_proj", c, kv, b.QkvBias, 0.02f, "N(0, 0.02)", out var bv);
                var po = Linear("self_attn.o_proj", c, c, false, projStd, projNote, out _);
                var q = Slot("self_attn.q", Rows.Tokens, I(c));
                var k = Slot("self_attn.k", Rows.Tokens, I(kv));
                var v = Slot("self_attn.v", Rows.Tokens, I(kv));
                var qr = Slot("self_attn.q_rot", Rows.Tokens, I(c));
                var kr = Slot("self_attn.k_rot", Rows.Tokens, I(kv));
                var att = Slot("self_attn.att", Rows.AttentionMap, I(heads), SlotRole.Training);
                var y = Slot("self_attn.y", Rows.Tokens, I(c));
                var o = Slot("self_attn.o", Rows.Tokens, I(c));
                var keys = Slot("self_attn.keys", Rows.Cache, I(kv), SlotRole.Decoding);
                var values = Slot("self_attn.values", Rows.Cache, I(kv), SlotRole.Decoding);
                string Plus(Param? p) => p is null ? "" : " + bias";
                Add(new ProjectOp(pq, n1.Y, bq, q, $"self_attn.q_proj: n [{{R}}, {c}] @ [{c}, {c}]^T{Plus(bq)} -> q [{{R}}, {c}]"));
                Add(new ProjectOp(pk, n1.Y, bk, k, $"self_attn.k_proj: n [{{R}}, {c}] @ [{kv}, {c}]^T{Plus(bk)} -> k [{{R}}, {kv}]"));
                Add(new ProjectOp(pv, n1.Y, bv, v, $"self_attn.v_proj: n [{{R}}, {c}] @ [{kv}, {c}]^T{Plus(bv)} -> v [{{R}}, {kv}]"));
                Add(new RopeOp(q, qr, heads, hs, interleaved, b.RopeTheta));
                Add(new RopeOp(k, kr, kvHeads, hs, interleaved, b.RopeTheta));
                Add(new GroupedAttentionOp(qr, kr, v, y, att, scratch, scores, keys, values, heads, kvHeads, hs));
                Add(new ProjectOp(po, y, null, o, $"self_attn.o_proj: y [{{R}}, {c}] @ [{c}, {c}]^T -> o [{{R}}, {c}]"));
                var attnOut = Residual("self_attn", x, o, c);

                // x += mlp(rmsnorm(x))
                var n2 = RmsNorm("post_attention_layernorm", "post_attention_layernorm", attnOut, c, b.NormEpsilon);
                Add(n2);
                var pg = Linear("mlp.gate_proj", c, hidden, false, 0.02f, "N(0, 0.02)", out _);
                var pu = Linear("mlp.up_proj", c, hidden, false, 0.02f, "N(0, 0.02)", out _);
                var pd = Linear("mlp.down_proj", hidden, c, false, projStd, projNote, out _);
                var gate = Slot("mlp.gate", Rows.Tokens, I(hidden));
                var up = Slot("mlp.up", Rows.Tokens, I(hidden));
                var act = Slot("mlp.act", Rows.Tokens, I(hidden));
                var down = Slot("mlp.down", Rows.Tokens, I(c));
                Add(new ProjectOp(pg, n2.Y, null, gate, $"mlp.gate_proj: n [{{R}}, {c}] @ [{hidden}, {c}]^T -> gate [{{R}}, {hidden}]"));
                Add(new ProjectOp(pu, n2.Y, null, up, $"mlp.up_proj: n [{{R}}, {c}] @ [{hidden}, {c}]^T -> up [{{R}}, {hidden}]"));
                Add(new SwiGluOp(gate, up, act));
                Add(new ProjectOp(pd, act, null, down, $"mlp.down_proj: act [{{R}}, {hidden}] @ [{c}, {hidden}]^T -> down [{{R}}, {c}]"));
                input = Residual("mlp", attnOut, down, c);
                outputs.Add(input);
            }
            _layer = -1;
            _ops = _plan.After;
            _plan.Blocks = new BlockItem(_prefix, perLayer, inputs, outputs);
            _x = new SlotProxy("BlocksOut", -1, input);
        }

        /// <summary>out = x + dropout(branch), [B * T, width]; returns out.</summary>
        Slot Residual(string local, Slot x, Slot branch, int width)
        {
            var dropped = Slot(local + ".drop", Rows.Tokens, I(width), SlotRole.Training);
            var mask = Slot(local + ".mask", Rows.Tokens, I(width), SlotRole.Training);
            var output = Slot(local + ".out", Rows.Tokens, I(width));
            Add(new ResidualOp(local, x, branch, output, dropped, mask));
            return output;
        }

        void LayHead(HeadSpec layer)
        {
            int n = layer.In;
            var x = _x!;
            var rows = _model.Sequence ? Rows.Tokens : Rows.Batch;
            string r = _model.Sequence ? "{R}" : "B";
            if (layer.Tied)
            {
                var bias = layer.Bias ? Param("lm_head.bias", new[] { "V" }, decay: false, InitKind.Zeros, 0f, "zeros") : null;
                var logits = Slot("logits", rows, "V");
                _plan.Summary.Add($"lm_head       tied to {(layer.Llama ? "embed_tokens" : "wte")}: {x.LocalName} @ {(layer.Llama ? "embed_tokens" : "wte")}^T [{n}, V] -> logits [{(_model.Sequence ? "B * T" : "B")}, V]");
                var tied = Site("lm_head", _wte!, I(n), "V", transposed: true);
                Add(new ProjectOp(tied, x, bias, logits, $"lm_head (tied): {x.LocalName} [{r}, {n}] @ {(layer.Llama ? "embed_tokens" : "wte")}^T [{n}, V] -> logits [{r}, V]"));
                _x = logits;
                return;
            }
            if (layer.Llama)
            {
                // torch.nn.Linear's orientation: lm_head.weight [V, In], read by rows.
                var w = Param("lm_head.weight", new[] { "V", I(n) }, decay: true, InitKind.Normal, 0.02f, "N(0, 0.02)");
                var bb = layer.Bias ? Param("lm_head.bias", new[] { "V" }, decay: false, InitKind.Zeros, 0f, "zeros") : null;
                var y = Slot("logits", rows, "V");
                _plan.Summary.Add($"lm_head       [V, {n}]^T -> logits [B * T, V]");
                var rowsHead = Site("lm_head", w, I(n), "V", transposed: true);
                Add(new ProjectOp(rowsHead, x, bb, y, $"lm_head: {x.LocalName} [{r}, {n}] @ lm_head.weight [V, {n}]^T -> logits [{r}, V]"));
                _x = y;
                return;
            }
            float std = _model.Sequence ? 0.02f : 0.01f;
            var weight = Param("lm_head.weight", new[] { I(n), "V" }, decay: true, InitKind.Normal, std,
                _model.Sequence ? "N(0, 0.02)" : "N(0, 0.01): near-uniform predictions at the start");
            var b = layer.Bias ? Param("lm_head.bias", new[] { "V" }, decay: false, InitKind.Zeros, 0f, "zeros") : null;
            var output = Slot("logits", rows, "V");
            _plan.Summary.Add($"lm_head       dense [{n}, V] -> logits [{(_model.Sequence ? "B * T" : "B")}, V]");
            var head = Site("lm_head", weight, I(n), "V");
            Add(new ProjectOp(head, x, b, output,
                $"lm_head: {x.Name} [{r}, {n}] @ lm_head.weight [{n}, V]{(b is null ? "" : " + lm_head.bias [V]")} -> logits [{r}, V]"));
            _x = output;
        }

        void LayBigram(BigramSpec layer)
        {
            var table = Param("table.weight", new[] { "V", "V" }, decay: true, InitKind.Zeros, 0f, "zeros: uniform predictions at the start");
            var logits = Slot("logits", Rows.Batch, "V");
            _plan.Summary.Add("table         bigram [V, V] -> logits [B, V]");
            Add(new BigramOp(table, logits));
            if (layer.Counting)
            {
                _plan.CountingTable = table;
                _plan.Smoothing = layer.Smoothing;
            }
            _x = logits;
        }

        // ---- passes over the ops ----

        /// <summary>Backwards from the loss: a slot gets a gradient when an op whose output has one sends it there.</summary>
        static void MarkGradients(Plan plan)
        {
            foreach (var op in plan.AllOps.Reverse())
            {
                bool flows = op is LossOp || op.GradientOutputs.Any(s => s.Actual.NeedsGrad);
                if (!flows) continue;
                foreach (var s in op.GradientInputs)
                {
                    if (s.Actual.Role != SlotRole.Main) throw new InvalidOperationException($"slot '{s.Name}' gets a gradient but is not on the main path");
                    s.Actual.NeedsGrad = true;
                }
            }
        }

        /// <summary>
        /// Which slots each pass touches and when: the forward pass printed op by op (blocks unrolled) gives every
        /// slot's first and last use, the lifetime an inference context reuses memory by; the decoding pass gives the
        /// slots a decoding context needs, and which of them hold one row (the tail's).
        /// </summary>
        static void MarkUses(Plan plan)
        {
            int index = 0;
            var forward = new Emit(Pass.Forward, plan.Context)
            {
                OnSlot = (s, gradient) =>
                {
                    if (gradient) return;
                    s.InForward = true;
                    s.FirstUse = Math.Min(s.FirstUse, index);
                    s.LastUse = Math.Max(s.LastUse, index);
                },
            };
            foreach (var op in plan.AllOps)
            {
                op.Forward(forward);
                index++;
            }
            if (!plan.Sequence) return;
            var decode = new Emit(Pass.Decode, plan.Context) { OnSlot = (s, _) => s.InDecode = true };
            foreach (var op in plan.Before.Concat(plan.Blocks?.Layers.SelectMany(l => l) ?? Enumerable.Empty<Op>())) op.Decode(decode);
            decode.Tail = true;
            foreach (var op in plan.After) op.Decode(decode);
            foreach (var s in decode.OneRow) s.DecodeOneRow = true;
        }
    }
}
