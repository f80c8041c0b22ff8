using System.Linq;
using Microsoft.CodeAnalysis;

namespace Edge.Generators.Parsing
{
    /// <summary>
    /// Turns Roslyn's view of an attribute application into an instance of the attribute class itself (compiled into
    /// the generator from the runtime's source): constructor arguments through the constructor, named arguments
    /// through the properties, matched with nameof so that a renamed property is a compile error here. Defaults are
    /// therefore the attribute's own and never restated.
    /// </summary>
    internal static class AttributeReader
    {
        /// <summary>The attribute for an Edge attribute class name, or null for a name this generator does not read.</summary>
        public static object? Read(string typeName, AttributeData data)
        {
            var ctor = data.ConstructorArguments;
            object? Arg(int i) => i < ctor.Length ? ctor[i].Value : null;
            switch (typeName)
            {
                case nameof(LanguageModelAttribute):
                {
                    var a = new LanguageModelAttribute(Arg(0) as string ?? "");
                    foreach (var (name, value) in Named(data))
                        switch (name)
                        {
                            case nameof(a.Context): a.Context = Int(value, a.Context); break;
                            case nameof(a.Data): a.Data = (DataLayout)Int(value, (int)a.Data); break;
                            case nameof(a.Description): a.Description = value as string ?? ""; break;
                        }
                    return a;
                }
                case nameof(TokenEmbeddingAttribute):
                {
                    var a = new TokenEmbeddingAttribute(Int(Arg(0), 0));
                    foreach (var (name, value) in Named(data))
                        if (name == nameof(a.Positional)) a.Positional = value is true;
                    return a;
                }
                case nameof(FlattenAttribute): return new FlattenAttribute();
                case nameof(LayerNormAttribute): return new LayerNormAttribute();
                case nameof(DenseAttribute):
                {
                    var a = new DenseAttribute(Int(Arg(0), 0), (Activation)Int(Arg(1), 0));
                    foreach (var (name, value) in Named(data))
                        if (name == nameof(a.Name)) a.Name = value as string;
                    return a;
                }
                case nameof(BigramTableAttribute):
                {
                    var a = new BigramTableAttribute();
                    foreach (var (name, value) in Named(data))
                        switch (name)
                        {
                            case nameof(a.Counting): a.Counting = value is true; break;
                            case nameof(a.Smoothing): a.Smoothing = Double(value, a.Smoothing); break;
                        }
                    return a;
                }
                case nameof(OutputHeadAttribute):
                {
                    var a = new OutputHeadAttribute();
                    foreach (var (name, value) in Named(data))
                        switch (name)
                        {
                            case nameof(a.Bias): a.Bias = value is true; break;
                            case nameof(a.TiedToEmbedding): a.TiedToEmbedding = value is true; break;
                        }
                    return a;
                }
                case nameof(TransformerBlocksAttribute):
                {
                    var a = new TransformerBlocksAttribute();
                    foreach (var (name, value) in Named(data))
                        switch (name)
                        {
                            case nameof(a.Layers): a.Layers = Int(value, a.Layers); break;
                            case nameof(a.Heads): a.Heads = Int(value, a.Heads); break;
                            case nameof(a.MlpRatio): a.MlpRatio = Int(value, a.MlpRatio); break;
                            case nameof(a.Dropout): a.Dropout = Double(value, a.Dropout); break;
                            case nameof(a.Bias): a.Bias = value is true; break;
                            case nameof(a.Gelu): a.Gelu = (GeluForm)Int(value, (int)a.Gelu); break;
                        }
                    return a;
                }
                case nameof(LlamaBlocksAttribute):
                {
                    var a = new LlamaBlocksAttribute();
                    foreach (var (name, value) in Named(data))
                        switch (name)
                        {
                            case nameof(a.Layers): a.Layers = Int(value, a.Layers); break;
                            case nameof(a.Heads): a.Heads = Int(value, a.Heads); break;
                            case nameof(a.KvHeads): a.KvHeads = Int(value, a.KvHeads); break;
                            case nameof(a.MlpHidden): a.MlpHidden = Int(value, a.MlpHidden); break;
                            case nameof(a.RopeTheta): a.RopeTheta = Double(value, a.RopeTheta); break;
                            case nameof(a.Rope): a.Rope = (RopeLayout)Int(value, (int)a.Rope); break;
                            case nameof(a.NormEpsilon): a.NormEpsilon = Double(value, a.NormEpsilon); break;
                            case nameof(a.QkvBias): a.QkvBias = value is true; break;
                            case nameof(a.Dropout): a.Dropout = Double(value, a.Dropout); break;
                        }
                    return a;
                }
                case nameof(RmsNormAttribute):
                {
                    var a = new RmsNormAttribute();
                    foreach (var (name, value) in Named(data))
                        if (name == nameof(a.Epsilon)) a.Epsilon = Double(value, a.Epsilon);
                    return a;
                }
                case nameof(TrainingRecipeAttribute):
                {
                    var a = new TrainingRecipeAttribute();
                    foreach (var (name, value) in Named(data))
                        switch (name)
                        {
                            case nameof(a.Optimizer): a.Optimizer = (OptimizerKind)Int(value, (int)a.Optimizer); break;
                            case nameof(a.LearningRate): a.LearningRate = Double(value, a.LearningRate); break;
                            case nameof(a.Batch): a.Batch = Int(value, a.Batch); break;
                            case nameof(a.Steps): a.Steps = Int(value, a.Steps); break;
                            case nameof(a.DecayStep): a.DecayStep = Int(value, a.DecayStep); break;
                            case nameof(a.DecayFactor): a.DecayFactor = Double(value, a.DecayFactor); break;
                            case nameof(a.WeightDecay): a.WeightDecay = Double(value, a.WeightDecay); break;
                            case nameof(a.EvalInterval): a.EvalInterval = Int(value, a.EvalInterval); break;
                            case nameof(a.Schedule): a.Schedule = (ScheduleKind)Int(value, (int)a.Schedule); break;
                            case nameof(a.Warmup): a.Warmup = Int(value, a.Warmup); break;
                            case nameof(a.MinLearningRate): a.MinLearningRate = Double(value, a.MinLearningRate); break;
                            case nameof(a.Beta2): a.Beta2 = Double(value, a.Beta2); break;
                            case nameof(a.GradClip): a.GradClip = Double(value, a.GradClip); break;
                        }
                    return a;
                }
                default: return null;
            }
        }

        static System.Collections.Generic.IEnumerable<(string Name, object? Value)> Named(AttributeData data) =>
            data.NamedArguments.Select(a => (a.Key, a.Value.Kind == TypedConstantKind.Array ? null : a.Value.Value));

        static int Int(object? value, int fallback) => value is int i ? i : fallback;

        static double Double(object? value, double fallback) => value switch { double d => d, float f => f, int i => i, _ => fallback };
    }
}
