using System.Collections.Generic;
using System.Linq;
using Edge.Generators.Spec;
using Microsoft.CodeAnalysis;

namespace Edge.Generators.Parsing
{
    /// <summary>
    /// The one walk over a declaration's layers: tracks the shape of the current activation (positions per example x
    /// width), reports what cannot be built, and turns each layer attribute into its <see cref="LayerSpec"/> with every
    /// width resolved, so nothing after the parser walks shapes again.
    /// </summary>
    internal sealed class ShapeWalk
    {
        readonly string _model;
        readonly int _context;
        readonly Reporter _report;
        readonly Location _classLocation;

        public ShapeWalk(string model, int context, Reporter report, Location classLocation)
        {
            _model = model;
            _context = context;
            _report = report;
            _classLocation = classLocation;
        }

        /// <summary>True when the model has transformer blocks: it predicts a token at every position.</summary>
        public bool Sequence { get; private set; }

        static string Name(object attribute) => attribute.GetType().Name.Replace("Attribute", "");

        public List<LayerSpec> Run(List<(object Attribute, Location At)> layers)
        {
            var specs = new List<LayerSpec>();
            int outputIndex = layers.FindIndex(l => l.Attribute is OutputHeadAttribute or BigramTableAttribute);
            if (outputIndex < 0)
            {
                _report(Diagnostics.MissingOutput, _classLocation, _model);
                return specs;
            }
            for (int i = outputIndex + 1; i < layers.Count; i++)
                _report(Diagnostics.LayerAfterOutput, layers[i].At, _model, Name(layers[i].Attribute));

            if (layers[outputIndex].Attribute is BigramTableAttribute bigram)
            {
                foreach (var (attribute, at) in layers)
                    if (attribute is not BigramTableAttribute) _report(Diagnostics.BigramNotAlone, at, _model, Name(attribute));
                if (_context != 1) _report(Diagnostics.BigramContext, layers[outputIndex].At, _model, _context);
                specs.Add(new BigramSpec(bigram.Counting, bigram.Smoothing));
                return specs;
            }

            Sequence = layers.Any(l => l.Attribute is TransformerBlocksAttribute or LlamaBlocksAttribute);
            bool llama = layers.Any(l => l.Attribute is LlamaBlocksAttribute);
            var gpt = layers.FirstOrDefault(l => l.Attribute is TransformerBlocksAttribute);
            if (llama && gpt.Attribute is not null)
                _report(Diagnostics.WrongFamily, gpt.At, _model, "TransformerBlocks", "LlamaBlocks", "a model has one kind of block");
            bool haveVectors = false, flattened = _context == 1 || Sequence, shapeReported = false, blockBias = true;
            int width = 0, embeddingWidth = 0, denseCount = 0;
            var seen = new HashSet<System.Type>();
            var names = new HashSet<string>();
            foreach (var (attribute, at) in layers.Take(outputIndex + 1))
            {
                if (attribute is not DenseAttribute && !seen.Add(attribute.GetType()))
                    _report(Diagnostics.DuplicateLayer, at, _model, Name(attribute));
                if (Sequence && attribute is FlattenAttribute or DenseAttribute)
                    _report(Diagnostics.NotWithTransformer, at, _model, Name(attribute), llama ? "LlamaBlocks" : "TransformerBlocks");
                void NeedVectors()
                {
                    if (!haveVectors && !shapeReported) { _report(Diagnostics.MissingEmbedding, at, _model, Name(attribute)); shapeReported = true; }
                }
                switch (attribute)
                {
                    case TokenEmbeddingAttribute e:
                        if (e.Dim <= 0) _report(Diagnostics.NonPositive, at, _model, "the embedding size", e.Dim);
                        if (llama && e.Positional)
                            _report(Diagnostics.WrongFamily, at, _model, "TokenEmbedding(Positional = true)", "LlamaBlocks", "rotary positions replace a learned position table");
                        haveVectors = true;
                        width = embeddingWidth = e.Dim;
                        specs.Add(new EmbeddingSpec(e.Dim, e.Positional, llama));
                        break;
                    case FlattenAttribute:
                        if (!haveVectors) _report(Diagnostics.MissingEmbedding, at, _model, Name(attribute));
                        flattened = true;
                        specs.Add(new FlattenSpec(_context, width));
                        width *= _context;
                        break;
                    case TransformerBlocksAttribute b:
                        NeedVectors();
                        if (b.Layers <= 0) _report(Diagnostics.NonPositive, at, _model, nameof(b.Layers), b.Layers);
                        if (b.Heads <= 0) _report(Diagnostics.NonPositive, at, _model, nameof(b.Heads), b.Heads);
                        else if (width > 0 && width % b.Heads != 0) _report(Diagnostics.HeadsDoNotDivide, at, _model, b.Heads, width);
                        if (b.MlpRatio <= 0) _report(Diagnostics.NonPositive, at, _model, nameof(b.MlpRatio), b.MlpRatio);
                        if (b.Dropout < 0 || b.Dropout >= 1) _report(Diagnostics.BadRecipe, at, _model, "[TransformerBlocks] " + nameof(b.Dropout), "in [0, 1)", b.Dropout);
                        blockBias = b.Bias;
                        specs.Add(new GptBlocksSpec(width, b.Layers, b.Heads, b.MlpRatio, b.Dropout, b.Bias, b.Gelu));
                        break;
                    case LlamaBlocksAttribute b:
                    {
                        NeedVectors();
                        if (b.Layers <= 0) _report(Diagnostics.NonPositive, at, _model, nameof(b.Layers), b.Layers);
                        int kv = b.KvHeads == 0 ? b.Heads : b.KvHeads;
                        if (b.Heads <= 0) _report(Diagnostics.NonPositive, at, _model, nameof(b.Heads), b.Heads);
                        else if (width > 0 && width % b.Heads != 0) _report(Diagnostics.HeadsDoNotDivide, at, _model, b.Heads, width);
                        else if (kv <= 0) _report(Diagnostics.NonPositive, at, _model, nameof(b.KvHeads), kv);
                        else if (b.Heads % kv != 0) _report(Diagnostics.KvHeadsDoNotDivide, at, _model, kv, b.Heads);
                        else if (width > 0 && width / b.Heads % 2 != 0) _report(Diagnostics.OddHeadSize, at, _model, width / b.Heads, width, b.Heads);
                        if (b.MlpHidden <= 0) _report(Diagnostics.NonPositive, at, _model, nameof(b.MlpHidden), b.MlpHidden);
                        if (!(b.RopeTheta > 0)) _report(Diagnostics.BadRecipe, at, _model, "[LlamaBlocks] " + nameof(b.RopeTheta), "positive", b.RopeTheta);
                        if (!(b.NormEpsilon > 0)) _report(Diagnostics.BadRecipe, at, _model, "[LlamaBlocks] " + nameof(b.NormEpsilon), "positive", b.NormEpsilon);
                        if (b.Dropout < 0 || b.Dropout >= 1) _report(Diagnostics.BadRecipe, at, _model, "[LlamaBlocks] " + nameof(b.Dropout), "in [0, 1)", b.Dropout);
                        specs.Add(new LlamaBlocksSpec(width, b.Layers, b.Heads, kv, b.MlpHidden, b.RopeTheta, b.Rope, b.NormEpsilon, b.QkvBias, b.Dropout));
                        break;
                    }
                    case LayerNormAttribute:
                        NeedVectors();
                        if (llama) _report(Diagnostics.WrongFamily, at, _model, "LayerNorm", "LlamaBlocks", "Llama's final norm is [RmsNorm]");
                        specs.Add(new FinalNormSpec(width, blockBias));
                        break;
                    case RmsNormAttribute n:
                        NeedVectors();
                        if (gpt.Attribute is not null) _report(Diagnostics.WrongFamily, at, _model, "RmsNorm", "TransformerBlocks", "GPT-2's final norm is [LayerNorm]");
                        if (!(n.Epsilon > 0)) _report(Diagnostics.BadRecipe, at, _model, "[RmsNorm] " + nameof(n.Epsilon), "positive", n.Epsilon);
                        specs.Add(new FinalRmsNormSpec(width, n.Epsilon));
                        break;
                    case DenseAttribute d:
                    {
                        if (!shapeReported && !haveVectors) { _report(Diagnostics.MissingEmbedding, at, _model, Name(attribute)); shapeReported = true; }
                        else if (!shapeReported && !flattened) { _report(Diagnostics.NeedsFlatten, at, _model, Name(attribute), _context); shapeReported = true; }
                        string name = d.Name is { Length: > 0 } n ? n : "fc" + ++denseCount;
                        if (d.Name is { Length: > 0 }) denseCount++;
                        if (d.Width <= 0) _report(Diagnostics.NonPositive, at, _model, $"the width of dense layer '{name}'", d.Width);
                        if (!names.Add(name) || name is "wte" or "wpe" or "lm_head" or "ln_f" or "h")
                            _report(Diagnostics.DuplicateName, at, "Layer name", name);
                        specs.Add(new DenseSpec(name, width, d.Width, d.Activation));
                        width = d.Width;
                        break;
                    }
                    case OutputHeadAttribute head:
                        if (!shapeReported && !haveVectors) { _report(Diagnostics.MissingEmbedding, at, _model, Name(attribute)); shapeReported = true; }
                        else if (!shapeReported && !flattened) { _report(Diagnostics.NeedsFlatten, at, _model, Name(attribute), _context); shapeReported = true; }
                        if (head.TiedToEmbedding && haveVectors && width != embeddingWidth)
                            _report(Diagnostics.TiedWidth, at, _model, width, embeddingWidth);
                        specs.Add(new HeadSpec(width, head.Bias, head.TiedToEmbedding, llama));
                        break;
                }
            }
            return specs;
        }
    }
}
