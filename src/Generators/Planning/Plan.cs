using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace Edge.Generators.Planning
{
    // The op-level plan: what the emitters print. A model is a list of items, each one op or a block of ops repeated
    // over layers (a transformer's h.0 .. h.N-1). Ops refer to three kinds of tensors: parameters (in the model's
    // weight buffer), projection sites (the weight-matrix products, where LoRA and quantisation attach) and slots
    // (activation buffers in a context's arena). Block tensors exist once per layer; the emitted code reaches a
    // layer's through a Block struct (h.Ln1Weight, h.Ln1, h.AttnCAttn), everything else through the Param, Slot and
    // Site constants.

    /// <summary>How many rows an activation slot has; its length is rows x width.</summary>
    /// <remarks>The values are Edge.SlotRows's: the runtime sizes each context's slots from them.</remarks>
    internal enum Rows
    {
        /// <summary>B: one row per example (window models after flattening, and their logits).</summary>
        Batch = 0,
        /// <summary>B * Context: one row per position of a window (window models' embeddings).</summary>
        Window = 1,
        /// <summary>B * T: one row per position (sequence models).</summary>
        Tokens = 2,
        /// <summary>B * T * T: attention probabilities, one T x T map per example and head (width = heads).</summary>
        AttentionMap = 3,
        /// <summary>T: one value per position of one sequence (scratch).</summary>
        Sequence = 4,
        /// <summary>Context: every position a KV cache holds (decoding contexts only).</summary>
        Cache = 5,
    }

    /// <summary>What a slot is for, which decides in which contexts it exists and whether it can get a gradient.</summary>
    /// <remarks>The values are Edge.SlotRole's.</remarks>
    internal enum SlotRole
    {
        /// <summary>An activation on the path from the tokens to the loss: gets a gradient slot when one flows to it.</summary>
        Main = 0,
        /// <summary>Kept by the forward pass for the backward pass only (LayerNorm statistics): never a gradient.</summary>
        Saved = 1,
        /// <summary>Written only in training (dropout masks, attention maps, backward scratch): absent from inference contexts.</summary>
        Training = 2,
        /// <summary>Decoding state (the KV cache, scores scratch): only in contexts that decode.</summary>
        Decoding = 3,
    }

    /// <summary>Where a tensor lives: once per model, or once per layer of the block.</summary>
    internal abstract class Tensor
    {
        protected Tensor(string name, string local, string member, int layer)
        {
            Name = name;
            LocalName = local;
            Member = member;
            Layer = layer;
        }

        /// <summary>The full name, e.g. "h.3.ln_1.weight" (checkpoint name) or "h.3.attn.qkv".</summary>
        public string Name { get; }
        /// <summary>The C# identifier the emitted code uses: a constant (global) or a Block field (per layer).</summary>
        public string Member { get; }
        /// <summary>The block layer this tensor belongs to, or -1.</summary>
        public int Layer { get; }
        public bool InBlock => Layer >= 0;
        /// <summary>The name within its block ("ln_1.weight" for "h.3.ln_1.weight"); the full name outside blocks.</summary>
        public string LocalName { get; }
        /// <summary>Index among tensors of its kind in the whole model (layout order).</summary>
        public int Index { get; set; }
    }

    internal enum InitKind { Normal, Zeros, Ones }

    /// <summary>A parameter tensor: shape as C# expressions over V, and how it starts.</summary>
    internal sealed class Param : Tensor
    {
        public Param(string name, string local, string member, int layer, string[] shape, bool decay, InitKind init, float std, string note)
            : base(name, local, member, layer)
        {
            Shape = shape;
            Decay = decay;
            Init = init;
            InitStd = std;
            InitNote = note;
        }

        public string[] Shape { get; }
        public bool Decay { get; }
        public InitKind Init { get; }
        public float InitStd { get; }
        public string InitNote { get; }
        public string Length => string.Join(" * ", Shape);
        public string ShapeText => "[" + string.Join(", ", Shape) + "]";
    }

    /// <summary>A weight-matrix product x [rows, In] @ W (W stored [In, Out], or [Out, In] when transposed).</summary>
    internal sealed class Site : Tensor
    {
        public Site(string name, string local, string member, int layer, Param weight, string inDim, string outDim, bool transposed)
            : base(name, local, member, layer)
        {
            Weight = weight;
            In = inDim;
            Out = outDim;
            Transposed = transposed;
        }

        public Param Weight { get; }
        public string In { get; }
        public string Out { get; }
        public bool Transposed { get; }
    }

    /// <summary>An activation buffer of rows x <see cref="Width"/> floats (width a C# expression: a number or V).</summary>
    internal class Slot : Tensor
    {
        public Slot(string name, string local, string member, int layer, Rows rows, string width, SlotRole role)
            : base(name, local, member, layer)
        {
            Rows = rows;
            Width = width;
            Role = role;
        }

        public Rows Rows { get; }
        public string Width { get; }
        public SlotRole Role { get; }
        /// <summary>Whether some backward op adds a gradient into this slot (set by the planner's gradient pass).</summary>
        public bool NeedsGrad { get; set; }
        /// <summary>First and last op (in forward order, blocks unrolled) that touch the slot: its lifetime for reuse.</summary>
        public int FirstUse { get; set; } = int.MaxValue;
        public int LastUse { get; set; } = -1;
        /// <summary>Whether the forward pass touches it, and whether the decoding pass does (then with one row when the tail writes it).</summary>
        public bool InForward { get; set; }
        public bool InDecode { get; set; }
        public bool DecodeOneRow { get; set; }

        /// <summary>The slot this one stands for: itself, or a proxy's target.</summary>
        public virtual Slot Actual => this;
    }

    /// <summary>
    /// A name for another slot: a block's input (the previous block's output, or what precedes the blocks) is h.In;
    /// the last block's output, seen after the loop, is Slot.BlocksOut. Proxies take no memory.
    /// </summary>
    internal sealed class SlotProxy : Slot
    {
        public SlotProxy(string member, int layer, Slot target)
            : base(target.Name, target.LocalName, member, layer, target.Rows, target.Width, target.Role) => Target = target;

        public Slot Target { get; }
        public override Slot Actual => Target.Actual;
    }

    /// <summary>A block of ops repeated over layers; <see cref="Layers"/>[l] are layer l's ops (the same ops, other tensors).</summary>
    internal sealed class BlockItem
    {
        public BlockItem(string prefix, List<List<Op>> layers, List<SlotProxy> inputs, List<Slot> outputs)
        {
            Prefix = prefix;
            Layers = layers;
            Inputs = inputs;
            Outputs = outputs;
        }

        /// <summary>The name prefix of the block's tensors ("h").</summary>
        public string Prefix { get; }
        public List<List<Op>> Layers { get; }
        public List<Op> Template => Layers[0];
        /// <summary>Each layer's input (h.In: what precedes the blocks, then the previous layer's output) and output.</summary>
        public List<SlotProxy> Inputs { get; }
        public List<Slot> Outputs { get; }
    }

    /// <summary>The whole model as the emitters see it.</summary>
    internal sealed class Plan
    {
        public readonly List<Param> Params = new();
        public readonly List<Site> Sites = new();
        public readonly List<Slot> Slots = new();
        /// <summary>Ops before the blocks (all of a window model), the blocks (if any), and ops after them, in forward order.</summary>
        public readonly List<Op> Before = new(), After = new();
        public BlockItem? Blocks;
        /// <summary>Lines of the summary comment at the top of the generated file.</summary>
        public readonly List<string> Summary = new();
        /// <summary>The loss op (last of <see cref="After"/>), the logits it reads, and the decoding result.</summary>
        public LossOp Loss = null!;
        public bool Sequence;
        /// <summary>Llama models: the rotary table's head size and theta (the generated class holds RopeTable).</summary>
        public (int HeadSize, double Theta)? Rope;
        public int Context;
        public double Dropout;
        /// <summary>The counting bigram's table, if the model is fitted by counting.</summary>
        public Param? CountingTable;
        public double Smoothing;

        /// <summary>Every op instance in forward order, blocks unrolled.</summary>
        public IEnumerable<Op> AllOps => Before.Concat(Blocks?.Layers.SelectMany(l => l) ?? Enumerable.Empty<Op>()).Concat(After);

        public IEnumerable<Param> GlobalParams => Params.Where(p => !p.InBlock);
        public IEnumerable<Site> GlobalSites => Sites.Where(s => !s.InBlock);
        public IEnumerable<Slot> GlobalSlots => Slots.Where(s => !s.InBlock);

        public static string I(int i) => i.ToString(CultureInfo.InvariantCulture);
    }
}
