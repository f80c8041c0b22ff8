using System.Collections.Generic;
using System.Linq;

namespace Edge.Generators.Planning
{
    /// <summary>
    /// One step of a model: a kernel call (or a few) with its tensors. An op prints its forward statements, its
    /// backward statements (the backward pass is the ops in reverse) and its decoding statements, each with a
    /// comment that gives the shapes; and it says which of its input slots its backward sends a gradient to. A new
    /// layer kind is one spec record, one op (or a few) here, and a kernel pair in the runtime.
    /// </summary>
    internal abstract class Op
    {
        /// <summary>The slots whose gradient this op's backward reads (its outputs on the gradient path).</summary>
        public virtual IEnumerable<Slot> GradientOutputs => Enumerable.Empty<Slot>();
        /// <summary>The input slots this op's backward adds a gradient to.</summary>
        public virtual IEnumerable<Slot> GradientInputs => Enumerable.Empty<Slot>();

        /// <summary>The comment above the forward statements (shapes), and above the backward ones.</summary>
        public abstract string Comment(Emit e);
        public virtual string BackwardComment(Emit e) => Comment(e);

        public abstract void Forward(Emit e);
        public abstract void Backward(Emit e);
        /// <summary>Decoding form; by default the forward's statements at the decoding shapes.</summary>
        public virtual void Decode(Emit e) => Forward(e);
        /// <summary>Whether the op has anything to do when decoding (window models have no decoding pass at all).</summary>
        public virtual bool Decodes => true;

        /// <summary>The op as an entry of the runtime op table (Edge.OpInfo): its kind and its arguments by role.</summary>
        public abstract OpDescription Describe();
    }

    /// <summary>An op's entry in the generated op table: an Edge.OpKind name and (role, tensor or number) arguments.</summary>
    internal sealed class OpDescription
    {
        public OpDescription(string kind) => Kind = kind;

        public string Kind { get; }
        public List<(string Role, string Kind, Tensor? Tensor, int Number)> Args { get; } = new();
        /// <summary>A real-valued option (RMSNorm's epsilon).</summary>
        public double Number { get; set; }

        public OpDescription Slot(string role, Slot s) { Args.Add((role, "Slot", s, 0)); return this; }
        public OpDescription Site(string role, Site s) { Args.Add((role, "Site", s, 0)); return this; }
        /// <summary>A parameter; an absent optional one (null) is left out.</summary>
        public OpDescription Param(string role, Param? p) { if (p is not null) Args.Add((role, "Param", p, 0)); return this; }
        public OpDescription Int(string role, int n) { Args.Add((role, "Int", null, n)); return this; }
    }

    /// <summary>wte (and wpe): token ids [rows] -> vectors [rows, Dim], plus the position's vector when positional.</summary>
    internal sealed class EmbeddingOp : Op
    {
        public EmbeddingOp(Param table, Param? positions, Slot output, int dim)
        {
            Table = table;
            Positions = positions;
            Output = output;
            Dim = dim;
        }

        public Param Table { get; }
        public Param? Positions { get; }
        public Slot Output { get; }
        public int Dim { get; }

        public override IEnumerable<Slot> GradientOutputs => new[] { Output };

        string Rows(Emit e) => e.Pass == Pass.Decode ? "T" : Output.Rows == Planning.Rows.Window ? $"B, {Plan.I(e.Context)}" : "B, T";

        public override string Comment(Emit e) => Positions is null
            ? $"{Table.Name.Replace(".weight", "")}: tokens [{Rows(e)}] -> {Output.Name} [{Rows(e)}, {Dim}]"
            : $"wte + wpe: tokens [{Rows(e)}] -> {Output.Name} [{Rows(e)}, {Dim}] = wte[token] + wpe[position]";

        public override string BackwardComment(Emit e) => Positions is null
            ? $"{Table.Name.Replace(".weight", "")}: d{Output.Name} [{Rows(e)}, {Dim}] -> d{Table.Name.Replace(".weight", "")} (scatter-add)"
            : $"wte + wpe: d{Output.Name} [{Rows(e)}, {Dim}] -> dwte [V, {Dim}] (scatter-add), dwpe";

        public override void Forward(Emit e)
        {
            e.Line($"Embed({e.ParamRef(Table)}, tokens, {e.W(Table)}, {e.A(Output)}, {e.RowsOf(Output)}, {Dim});");
            if (Positions is not null)
                e.Line($"K.Embedding.AddPositions({e.A(Output)}, {e.W(Positions)}, B, T, {Dim});");
        }

        public override void Backward(Emit e)
        {
            if (Positions is not null)
                e.Line($"K.Embedding.PositionsBackward({e.D(Output)}, {e.G(Positions)}, B, T, {Dim});");
            e.Line($"K.Embedding.Backward(tokens, {e.D(Output)}, {e.G(Table)}, {e.RowsOf(Output)}, {Dim});");
        }

        public override void Decode(Emit e)
        {
            e.Line($"Embed({e.ParamRef(Table)}, tokens, {e.W(Table)}, {e.A(Output)}, T, {Dim});");
            if (Positions is not null)
                e.Line($"K.Embedding.AddPositions({e.A(Output)}, {e.W(Positions)}.Slice(position * {Dim}), 1, T, {Dim});");
        }

        public override OpDescription Describe() =>
            new OpDescription("Embedding").Param("table", Table).Param("positions", Positions).Slot("y", Output).Int("dim", Dim);
    }

    /// <summary>[B, Context, Width] is [B, Context * Width] in memory: a comment, no work.</summary>
    internal sealed class FlattenOp : Op
    {
        public FlattenOp(Slot input, int positions, int width)
        {
            Input = input;
            Positions = positions;
            Width = width;
        }

        public Slot Input { get; }
        public int Positions { get; }
        public int Width { get; }
        public override bool Decodes => false;

        public override string Comment(Emit e) =>
            $"flatten: {Input.Name} [B, {Positions}, {Width}] is [B, {Positions * Width}] in memory; no work";

        public override void Forward(Emit e) { }
        public override void Backward(Emit e) { }

        public override OpDescription Describe() =>
            new OpDescription("Flatten").Slot("x", Input).Int("positions", Positions).Int("width", Width);
    }

    /// <summary>
    /// y [rows, Out] = x [rows, In] @ W + b through the model's projection hook (fp32, transposed or quantised kernel,
    /// then the active adapters' terms at this site).
    /// </summary>
    internal sealed class ProjectOp : Op
    {
        public ProjectOp(Site site, Slot x, Param? bias, Slot y, string comment)
        {
            Site = site;
            X = x;
            Bias = bias;
            Y = y;
            Text = comment;
        }

        public Site Site { get; }
        public Slot X { get; }
        public Param? Bias { get; }
        public Slot Y { get; }
        /// <summary>The shape comment, with {R} for the rows.</summary>
        public string Text { get; }

        public override IEnumerable<Slot> GradientOutputs => new[] { Y };
        public override IEnumerable<Slot> GradientInputs => new[] { X };

        string R(Emit e) => e.Pass == Pass.Decode ? (e.Tail ? "1" : "T") : X.Rows == Rows.Batch ? "B" : "B, T";

        public override string Comment(Emit e) => Text.Replace("{R}", R(e));
        public override string BackwardComment(Emit e) =>
            $"{Site.LocalName}: d{Y.LocalName} -> d{X.LocalName}, d{Site.Weight.LocalName.Replace(".weight", "")}{(Bias is null ? "" : ", d" + Bias.LocalName)}";

        public override void Forward(Emit e)
        {
            string x = e.A(X);
            e.WritesOneRow(Y);
            e.Line($"Project(c, {e.SiteRef(Site)}, {x}, {e.W(Site.Weight)}, {e.Opt(Bias, e.W)}, {e.A(Y)}, {e.RowsOf(Y)}, {Site.In}, {Site.Out});");
        }

        public override void Backward(Emit e) =>
            e.Line($"ProjectBackward(c, {e.SiteRef(Site)}, {e.A(X)}, {e.W(Site.Weight)}, {e.D(Y)}, {e.D(X)}, {e.G(Site.Weight)}, {e.Opt(Bias, e.G)}, {e.RowsOf(Y)}, {Site.In}, {Site.Out});");

        public override OpDescription Describe() =>
            new OpDescription("Project").Site("site", Site).Slot("x", X).Param("bias", Bias).Slot("y", Y);
    }

    /// <summary>tanh or ReLU, element-wise; the backward reads the output.</summary>
    internal sealed class ActivationOp : Op
    {
        public ActivationOp(Activation kind, Slot pre, Slot output)
        {
            Kind = kind;
            Pre = pre;
            Output = output;
        }

        public Activation Kind { get; }
        public Slot Pre { get; }
        public Slot Output { get; }
        public override bool Decodes => false;
        public override IEnumerable<Slot> GradientOutputs => new[] { Output };
        public override IEnumerable<Slot> GradientInputs => new[] { Pre };

        string Name => Kind == Activation.Tanh ? "Tanh" : "Relu";

        public override string Comment(Emit e) => $"{Name.ToLowerInvariant()}: {Pre.Name} -> {Output.Name} [B, {Output.Width}]";
        public override string BackwardComment(Emit e) => $"{Name.ToLowerInvariant()}: d{Output.Name} -> d{Pre.Name}";
        public override void Forward(Emit e) => e.Line($"K.Activations.{Name}Forward({e.A(Pre)}, {e.A(Output)});");
        public override void Backward(Emit e) => e.Line($"K.Activations.{Name}Backward({e.A(Output)}, {e.D(Output)}, {e.D(Pre)});");

        public override OpDescription Describe() =>
            new OpDescription(Name).Slot("x", Pre).Slot("y", Output);
    }

    /// <summary>The bigram model: the previous token's row of table [V, V] is the logits.</summary>
    internal sealed class BigramOp : Op
    {
        public BigramOp(Param table, Slot logits)
        {
            Table = table;
            Logits = logits;
        }

        public Param Table { get; }
        public Slot Logits { get; }
        public override bool Decodes => false;
        public override IEnumerable<Slot> GradientOutputs => new[] { Logits };

        public override string Comment(Emit e) => "table: the previous token's row is its logits: tokens [B, 1] -> logits [B, V]";
        public override string BackwardComment(Emit e) => "table: dlogits [B, V] -> dtable [V, V] (scatter-add into the rows used)";
        public override void Forward(Emit e) => e.Line($"K.Embedding.Forward(tokens, {e.W(Table)}, {e.A(Logits)}, B, V);");
        public override void Backward(Emit e) => e.Line($"K.Embedding.Backward(tokens, {e.D(Logits)}, {e.G(Table)}, B, V);");

        public override OpDescription Describe() =>
            new OpDescription("Bigram").Param("table", Table).Slot("y", Logits);
    }

    /// <summary>LayerNorm over the last dimension: y = (x - mean) / std * weight + bias, mean and 1/std per row kept.</summary>
    internal sealed class LayerNormOp : Op
    {
        public LayerNormOp(string name, Slot x, Param weight, Param? bias, Slot y, Slot mean, Slot rstd, int width)
        {
            Name = name;
            X = x;
            Weight = weight;
            Bias = bias;
            Y = y;
            Mean = mean;
            Rstd = rstd;
            Width = width;
        }

        public string Name { get; }
        public Slot X { get; }
        public Param Weight { get; }
        public Param? Bias { get; }
        public Slot Y { get; }
        public Slot Mean { get; }
        public Slot Rstd { get; }
        public int Width { get; }

        public override IEnumerable<Slot> GradientOutputs => new[] { Y };
        public override IEnumerable<Slot> GradientInputs => new[] { X };

        string R(Emit e) => e.Pass == Pass.Decode ? (e.Tail ? "1" : "T") : "B, T";

        public override string Comment(Emit e) =>
            $"{Name}: x [{R(e)}, {Width}] -> {Name} [{R(e)}, {Width}]{(e.Pass == Pass.Decode ? "" : " (mean and 1/std per row kept for backward)")}";

        public override string BackwardComment(Emit e) => $"{Name}: d{Name} -> dx, d{Name}.weight{(Bias is null ? "" : ", d" + Name + ".bias")}";

        public override void Forward(Emit e)
        {
            string x = e.A(X);
            e.WritesOneRow(Y);
            e.WritesOneRow(Mean);
            e.WritesOneRow(Rstd);
            e.Line($"K.LayerNorm.Forward({x}, {e.W(Weight)}, {e.Opt(Bias, e.W)}, {e.A(Y)}, {e.A(Mean)}, {e.A(Rstd)}, {e.RowsOf(Y)}, {Width});");
        }

        public override void Backward(Emit e) =>
            e.Line($"K.LayerNorm.Backward({e.D(Y)}, {e.A(X)}, {e.W(Weight)}, {e.A(Mean)}, {e.A(Rstd)}, {e.D(X)}, {e.G(Weight)}, {e.Opt(Bias, e.G)}, {e.RowsOf(Y)}, {Width});");

        public override OpDescription Describe() =>
            new OpDescription("LayerNorm").Slot("x", X).Param("weight", Weight).Param("bias", Bias).Slot("y", Y).Slot("mean", Mean).Slot("rstd", Rstd).Int("width", Width);
    }

    /// <summary>y = dropout(x) in training (mask kept), a copy otherwise.</summary>
    internal sealed class DropoutOp : Op
    {
        public DropoutOp(string name, Slot x, Slot y, Slot mask)
        {
            Name = name;
            X = x;
            Y = y;
            Mask = mask;
        }

        public string Name { get; }
        public Slot X { get; }
        public Slot Y { get; }
        public Slot Mask { get; }

        public override IEnumerable<Slot> GradientOutputs => new[] { Y };
        public override IEnumerable<Slot> GradientInputs => new[] { X };

        public override string Comment(Emit e) => e.Pass == Pass.Decode
            ? $"no dropout when decoding: {Y.Name} = {X.Name} [T, {X.Width}]"
            : $"dropout on the {Name}: {X.Name} -> {Y.Name} [B, T, {X.Width}]";
        public override string BackwardComment(Emit e) => $"dropout on the {Name}: d{Y.Name} -> d{X.Name}";

        public override void Forward(Emit e)
        {
            string n = e.Length(Y);
            e.Line($"if (dropout) K.Dropout.Forward({e.A(X)}, {e.A(Y)}, {e.A(Mask)}, {n}, c.DropoutRate, ref c.DropoutRng);");
            e.Line($"else {e.A(X)}.CopyTo({e.A(Y)});");
        }

        public override void Backward(Emit e) =>
            e.Line($"if (c.Dropped) K.Dropout.Backward({e.D(Y)}, {e.A(Mask)}, {e.D(X)}, {e.Length(Y)}); else K.VectorMath.Add({e.D(Y)}, {e.D(X)});");

        public override void Decode(Emit e) => e.Line($"{e.A(X)}.CopyTo({e.A(Y)});");

        public override OpDescription Describe() =>
            new OpDescription("Dropout").Slot("x", X).Slot("y", Y).Slot("mask", Mask);
    }

    /// <summary>out = x + dropout(branch): a residual connection around a sub-layer.</summary>
    internal sealed class ResidualOp : Op
    {
        public ResidualOp(string name, Slot x, Slot branch, Slot output, Slot dropped, Slot mask)
        {
            Name = name;
            X = x;
            Branch = branch;
            Output = output;
            Dropped = dropped;
            Mask = mask;
        }

        public string Name { get; }
        public Slot X { get; }
        public Slot Branch { get; }
        public Slot Output { get; }
        public Slot Dropped { get; }
        public Slot Mask { get; }

        public override IEnumerable<Slot> GradientOutputs => new[] { Output };
        public override IEnumerable<Slot> GradientInputs => new[] { X, Branch };

        public override string Comment(Emit e) =>
            $"{Name} residual: {Short(Output)} = x + {(e.Pass == Pass.Decode ? "" : "dropout(")}{Short(Branch)}{(e.Pass == Pass.Decode ? "" : ")")}, [{(e.Pass == Pass.Decode ? "T" : "B, T")}, {Output.Width}]";

        public override string BackwardComment(Emit e) =>
            $"{Name} residual: d{Short(Output)} flows to dx and (through the dropout mask) d{Short(Branch)}";

        static string Short(Slot s) => s.LocalName;

        public override void Forward(Emit e)
        {
            string n = e.Length(Output);
            e.Line($"if (dropout) {{ K.Dropout.Forward({e.A(Branch)}, {e.A(Dropped)}, {e.A(Mask)}, {n}, c.DropoutRate, ref c.DropoutRng); K.VectorMath.AddTo({e.A(X)}, {e.A(Dropped)}, {e.A(Output)}, {n}); }}");
            e.Line($"else K.VectorMath.AddTo({e.A(X)}, {e.A(Branch)}, {e.A(Output)}, {n});");
        }

        public override void Backward(Emit e)
        {
            e.Line($"K.VectorMath.Add({e.D(Output)}, {e.D(X)});");
            e.Line($"if (c.Dropped) K.Dropout.Backward({e.D(Output)}, {e.A(Mask)}, {e.D(Branch)}, {e.Length(Output)}); else K.VectorMath.Add({e.D(Output)}, {e.D(Branch)});");
        }

        public override void Decode(Emit e) =>
            e.Line($"K.VectorMath.AddTo({e.A(X)}, {e.A(Branch)}, {e.A(Output)}, {e.Length(Output)});");

        public override OpDescription Describe() =>
            new OpDescription("Residual").Slot("x", X).Slot("branch", Branch).Slot("y", Output).Slot("dropped", Dropped).Slot("mask", Mask);
    }

    /// <summary>GELU, element-wise: GPT-2's tanh form (Gelu) or the exact erf form (GeluExact).</summary>
    internal sealed class GeluOp : Op
    {
        public GeluOp(GeluForm form, Slot x, Slot y)
        {
            Form = form;
            X = x;
            Y = y;
        }

        public GeluForm Form { get; }
        public Slot X { get; }
        public Slot Y { get; }
        public override IEnumerable<Slot> GradientOutputs => new[] { Y };
        public override IEnumerable<Slot> GradientInputs => new[] { X };

        string Kernel => Form == GeluForm.Exact ? "GeluExact" : "Gelu";
        public override string Comment(Emit e) => $"{(Form == GeluForm.Exact ? "exact gelu" : "gelu")}: fc -> gelu";
        public override string BackwardComment(Emit e) => $"{(Form == GeluForm.Exact ? "exact gelu" : "gelu")}: dgelu -> dfc";
        public override void Forward(Emit e) => e.Line($"K.{Kernel}.Forward({e.A(X)}, {e.A(Y)});");
        public override void Backward(Emit e) => e.Line($"K.{Kernel}.Backward({e.A(X)}, {e.D(Y)}, {e.D(X)});");

        public override OpDescription Describe() =>
            new OpDescription(Kernel).Slot("x", X).Slot("y", Y);
    }

    /// <summary>
    /// Causal multi-head self-attention over a fused qkv [B, T, 3C] (GPT-2). Training keeps the probabilities (att)
    /// for the backward pass; decoding appends this chunk's keys and values to the layer's cache and attends over it.
    /// </summary>
    internal sealed class AttentionOp : Op
    {
        public AttentionOp(Slot qkv, Slot y, Slot att, Slot scratch, Slot scores, Slot keys, Slot values, int width, int heads)
        {
            Qkv = qkv;
            Y = y;
            Att = att;
            Scratch = scratch;
            Scores = scores;
            Keys = keys;
            Values = values;
            Width = width;
            Heads = heads;
        }

        public Slot Qkv { get; }
        public Slot Y { get; }
        public Slot Att { get; }
        public Slot Scratch { get; }
        public Slot Scores { get; }
        public Slot Keys { get; }
        public Slot Values { get; }
        public int Width { get; }
        public int Heads { get; }

        public override IEnumerable<Slot> GradientOutputs => new[] { Y };
        public override IEnumerable<Slot> GradientInputs => new[] { Qkv };

        public override string Comment(Emit e) => e.Pass == Pass.Decode
            ? $"attn: the chunk's keys and values go to the cache at rows position..; its queries attend over rows 0 .. position + T - 1 -> y [T, {Width}]"
            : $"attn: causal self-attention, {Heads} heads of {Width / Heads}: qkv -> y [B, T, {Width}] (probabilities att [B, {Heads}, T, T] kept in training)";

        public override string BackwardComment(Emit e) => "attn: dy -> dqkv";

        public override void Forward(Emit e) =>
            e.Line($"K.Attention.Forward({e.A(Qkv)}, {e.A(Y)}, {e.A(Att)}, B, T, {Width}, {Heads});");

        public override void Backward(Emit e) =>
            e.Line($"K.Attention.Backward({e.D(Y)}, {e.A(Qkv)}, {e.A(Att)}, {e.D(Qkv)}, {e.A(Scratch)}, B, T, {Width}, {Heads});");

        public override void Decode(Emit e) =>
            e.Line($"K.AttentionDecode.Chunk({e.A(Qkv)}, {e.A(Keys)}, {e.A(Values)}, {e.A(Y)}, {e.A(Scores)}, position, T, {Width}, {Heads});");

        public override OpDescription Describe() =>
            new OpDescription("Attention").Slot("qkv", Qkv).Slot("y", Y).Slot("att", Att).Slot("scratch", Scratch).Slot("scores", Scores).Slot("keys", Keys).Slot("values", Values).Int("width", Width).Int("heads", Heads);
    }

    /// <summary>The loss: softmax cross-entropy of logits [rows, V] against the targets (probabilities kept for backward).</summary>
    internal sealed class LossOp : Op
    {
        public LossOp(Slot logits, Slot probs)
        {
            Logits = logits;
            Probs = probs;
        }

        public Slot Logits { get; }
        public Slot Probs { get; }
        public override IEnumerable<Slot> GradientInputs => new[] { Logits };

        public override string Comment(Emit e) => $"loss: logits [{e.RowsOf(Logits)}, V] -> probs; mean over rows of -log probs[row, target]";
        public override string BackwardComment(Emit e) => $"loss: dlogits [{e.RowsOf(Logits)}, V] = (probs - onehot(targets)) / {e.RowsOf(Logits)}";

        public override void Forward(Emit e) =>
            e.Line($"return K.SoftmaxCrossEntropy.Forward({e.A(Logits)}, targets, {e.A(Probs)}, {e.RowsOf(Logits)}, V);");

        public override void Backward(Emit e) =>
            e.Line($"K.SoftmaxCrossEntropy.Backward({e.A(Probs)}, targets, {e.D(Logits)}, {e.RowsOf(Logits)}, V, 1f / {e.RowsOf(Logits)});");

        public override void Decode(Emit e) { }

        public override OpDescription Describe() =>
            new OpDescription("Loss").Slot("logits", Logits).Slot("probs", Probs);
    }
}

namespace Edge.Generators.Planning
{
    /// <summary>Llama's RMSNorm over the last dimension: y = x / rms(x) * weight, 1/rms per row kept for backward.</summary>
    internal sealed class RmsNormOp : Op
    {
        public RmsNormOp(string name, Slot x, Param weight, Slot y, Slot rstd, int width, double epsilon)
        {
            Name = name;
            X = x;
            Weight = weight;
            Y = y;
            Rstd = rstd;
            Width = width;
            Epsilon = epsilon;
        }

        public string Name { get; }
        public Slot X { get; }
        public Param Weight { get; }
        public Slot Y { get; }
        public Slot Rstd { get; }
        public int Width { get; }
        public double Epsilon { get; }

        public override IEnumerable<Slot> GradientOutputs => new[] { Y };
        public override IEnumerable<Slot> GradientInputs => new[] { X };

        string R(Emit e) => e.Pass == Pass.Decode ? (e.Tail ? "1" : "T") : "B, T";
        string Eps => ((float)Epsilon).ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "f";

        public override string Comment(Emit e) =>
            $"{Name}: rmsnorm x [{R(e)}, {Width}] -> {Y.LocalName} [{R(e)}, {Width}]{(e.Pass == Pass.Decode ? "" : " (1/rms per row kept for backward)")}";

        public override string BackwardComment(Emit e) => $"{Name}: d{Y.LocalName} -> dx, d{Weight.LocalName.Replace(".weight", "")}";

        public override void Forward(Emit e)
        {
            string x = e.A(X);
            e.WritesOneRow(Y);
            e.WritesOneRow(Rstd);
            e.Line($"K.RmsNorm.Forward({x}, {e.W(Weight)}, {e.A(Y)}, {e.A(Rstd)}, {e.RowsOf(Y)}, {Width}, {Eps});");
        }

        public override void Backward(Emit e) =>
            e.Line($"K.RmsNorm.Backward({e.D(Y)}, {e.A(X)}, {e.W(Weight)}, {e.A(Rstd)}, {e.D(X)}, {e.G(Weight)}, {e.RowsOf(Y)}, {Width});");

        public override OpDescription Describe() =>
            new OpDescription("RmsNorm") { Number = Epsilon }.Slot("x", X).Param("weight", Weight).Slot("y", Y).Slot("rstd", Rstd).Int("width", Width);
    }

    /// <summary>Rotary position embeddings on a projection's heads (queries or keys): y = R(position) x, per head.</summary>
    internal sealed class RopeOp : Op
    {
        public RopeOp(Slot x, Slot y, int heads, int headSize, bool interleaved, double theta)
        {
            Theta = theta;
            X = x;
            Y = y;
            Heads = heads;
            HeadSize = headSize;
            Interleaved = interleaved;
        }

        public Slot X { get; }
        public Slot Y { get; }
        public int Heads { get; }
        public int HeadSize { get; }
        public bool Interleaved { get; }
        /// <summary>The rotation base (the generated class's RopeTable is built from it).</summary>
        public double Theta { get; }

        public override IEnumerable<Slot> GradientOutputs => new[] { Y };
        public override IEnumerable<Slot> GradientInputs => new[] { X };

        string Layout => Interleaved ? "true" : "false";

        public override string Comment(Emit e) =>
            $"rope: {X.LocalName} -> {Y.LocalName}, {Heads} heads of {HeadSize} rotated by position{(e.Pass == Pass.Decode ? " (position ..)" : "")} ({(Interleaved ? "interleaved pairs" : "half rotation")})";

        public override string BackwardComment(Emit e) => $"rope: d{Y.LocalName} -> d{X.LocalName} (the inverse rotation)";

        public override void Forward(Emit e) =>
            e.Line($"K.Rope.Forward({e.A(X)}, {e.A(Y)}, RopeTable.Cos, RopeTable.Sin, B, T, 0, {Heads}, {HeadSize}, interleaved: {Layout});");

        public override void Backward(Emit e) =>
            e.Line($"K.Rope.Backward({e.D(Y)}, {e.D(X)}, RopeTable.Cos, RopeTable.Sin, B, T, 0, {Heads}, {HeadSize}, interleaved: {Layout});");

        public override void Decode(Emit e) =>
            e.Line($"K.Rope.Forward({e.A(X)}, {e.A(Y)}, RopeTable.Cos, RopeTable.Sin, 1, T, position, {Heads}, {HeadSize}, interleaved: {Layout});");

        public override OpDescription Describe() =>
            new OpDescription("Rope") { Number = Theta }.Slot("x", X).Slot("y", Y).Int("heads", Heads).Int("headSize", HeadSize).Int("interleaved", Interleaved ? 1 : 0);
    }

    /// <summary>
    /// Causal grouped-query attention over separate q [B, T, H*hs] and k, v [B, T, KvH*hs] (Llama): training keeps the
    /// probabilities; decoding appends the chunk's keys and values to the layer's cache [Context, KvH*hs].
    /// </summary>
    internal sealed class GroupedAttentionOp : Op
    {
        public GroupedAttentionOp(Slot q, Slot k, Slot v, Slot y, Slot att, Slot scratch, Slot scores, Slot keys, Slot values, int heads, int kvHeads, int headSize)
        {
            Q = q; K = k; V = v; Y = y; Att = att; Scratch = scratch; Scores = scores; Keys = keys; Values = values;
            Heads = heads;
            KvHeads = kvHeads;
            HeadSize = headSize;
        }

        public Slot Q { get; }
        public Slot K { get; }
        public Slot V { get; }
        public Slot Y { get; }
        public Slot Att { get; }
        public Slot Scratch { get; }
        public Slot Scores { get; }
        public Slot Keys { get; }
        public Slot Values { get; }
        public int Heads { get; }
        public int KvHeads { get; }
        public int HeadSize { get; }

        int QDim => Heads * HeadSize;
        int KvDim => KvHeads * HeadSize;
        string Shape => $"{Heads}, {KvHeads}, {HeadSize}";

        public override IEnumerable<Slot> GradientOutputs => new[] { Y };
        public override IEnumerable<Slot> GradientInputs => new[] { Q, K, V };

        public override string Comment(Emit e) => e.Pass == Pass.Decode
            ? $"attn: the chunk's keys and values go to the cache at rows position..; its queries attend over rows 0 .. position + T - 1 -> y [T, {QDim}]"
            : $"attn: causal attention, {Heads} query heads over {KvHeads} key/value heads of {HeadSize}: q, k, v -> y [B, T, {QDim}] (probabilities kept in training)";

        public override string BackwardComment(Emit e) => "attn: dy -> dq, dk, dv";

        public override void Forward(Emit e) =>
            e.Line($"K.Attention.Forward({e.A(Q)}, {e.A(K)}, {e.A(V)}, {QDim}, {KvDim}, {e.A(Y)}, {e.A(Att)}, B, T, {Shape});");

        public override void Backward(Emit e) =>
            e.Line($"K.Attention.Backward({e.D(Y)}, {e.A(Q)}, {e.A(K)}, {e.A(V)}, {QDim}, {KvDim}, {e.A(Att)}, {e.D(Q)}, {e.D(K)}, {e.D(V)}, {e.A(Scratch)}, B, T, {Shape});");

        public override void Decode(Emit e) =>
            e.Line($"K.AttentionDecode.Chunk({e.A(Q)}, {e.A(K)}, {e.A(V)}, {QDim}, {KvDim}, {e.A(Keys)}, {e.A(Values)}, {e.A(Y)}, {e.A(Scores)}, position, T, {Shape});");

        public override OpDescription Describe() =>
            new OpDescription("GroupedAttention").Slot("q", Q).Slot("k", K).Slot("v", V).Slot("y", Y).Slot("att", Att).Slot("scratch", Scratch).Slot("scores", Scores).Slot("keys", Keys).Slot("values", Values).Int("heads", Heads).Int("kvHeads", KvHeads).Int("headSize", HeadSize);
    }

    /// <summary>Llama's gated MLP activation: h = SiLU(gate) * up.</summary>
    internal sealed class SwiGluOp : Op
    {
        public SwiGluOp(Slot gate, Slot up, Slot h)
        {
            Gate = gate;
            Up = up;
            H = h;
        }

        public Slot Gate { get; }
        public Slot Up { get; }
        public Slot H { get; }

        public override IEnumerable<Slot> GradientOutputs => new[] { H };
        public override IEnumerable<Slot> GradientInputs => new[] { Gate, Up };

        public override string Comment(Emit e) => $"swiglu: silu(gate) * up -> {H.LocalName} [{(e.Pass == Pass.Decode ? "T" : "B, T")}, {H.Width}]";
        public override string BackwardComment(Emit e) => $"swiglu: d{H.LocalName} -> dgate, dup";
        public override void Forward(Emit e) => e.Line($"K.SwiGlu.Forward({e.A(Gate)}, {e.A(Up)}, {e.A(H)});");
        public override void Backward(Emit e) => e.Line($"K.SwiGlu.Backward({e.A(Gate)}, {e.A(Up)}, {e.D(H)}, {e.D(Gate)}, {e.D(Up)});");

        public override OpDescription Describe() =>
            new OpDescription("SwiGlu").Slot("gate", Gate).Slot("up", Up).Slot("y", H);
    }
}
