using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using Edge.Generators.Spec;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Edge.Generators.Parsing
{
    /// <summary>
    /// Symbols in, <see cref="ModelSpec"/> and diagnostics out. Reads the Edge attributes on a class in source
    /// order (the order of the attributes is the order of the layers) and checks that they describe a model
    /// that can be built.
    /// </summary>
    internal static class ModelParser
    {
        static readonly Regex ModelNamePattern = new("^[a-z][a-z0-9-]*$");

        public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancel)
        {
            var symbol = (INamedTypeSymbol)context.TargetSymbol;
            var syntax = (ClassDeclarationSyntax)context.TargetNode;
            var diagnostics = new List<DiagnosticInfo>();
            var classLocation = syntax.Identifier.GetLocation();

            void Report(DiagnosticDescriptor d, Location? at, params object[] args) =>
                diagnostics.Add(new DiagnosticInfo(d.Id, new EquatableArray<string>(args.Select(a => a?.ToString() ?? "")), ToInfo(at ?? classLocation)));

            if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
                Report(Diagnostics.NotPartial, classLocation, symbol.Name);
            if (symbol.ContainingType is not null || symbol.IsGenericType)
                Report(Diagnostics.NotTopLevel, classLocation, symbol.Name);
            if (symbol.BaseType is { SpecialType: not SpecialType.System_Object } baseType)
                Report(Diagnostics.HasBaseClass, classLocation, symbol.Name, baseType.ToDisplayString());

            string modelName = "", description = "";
            int contextLength = 1, dataLayout = 0;
            var layers = new List<LayerSpec>();
            var recipe = new RecipeSpec(Optimizer: 1, LearningRate: 1e-3, Batch: 32, Steps: 2000, DecayStep: 0, DecayFactor: 0.1, WeightDecay: 0,
                EvalInterval: 500, Schedule: 0, Warmup: 0, MinLearningRate: 0, Beta2: 0.999, GradClip: 0);
            Location? recipeLocation = null;
            var layerLocations = new List<Location>();
            int denseCount = 0;

            foreach (var attribute in symbol.GetAttributes())
            {
                cancel.ThrowIfCancellationRequested();
                var type = attribute.AttributeClass;
                if (type is null || type.ContainingNamespace?.ToDisplayString() != "Edge") continue;
                var at = attribute.ApplicationSyntaxReference?.GetSyntax(cancel).GetLocation();
                var named = attribute.NamedArguments.ToDictionary(a => a.Key, a => a.Value);
                var ctor = attribute.ConstructorArguments;

                switch (type.Name)
                {
                    case "LanguageModelAttribute":
                        modelName = ctor.Length > 0 ? ctor[0].Value as string ?? "" : "";
                        contextLength = Int(named, "Context", 1);
                        dataLayout = Int(named, "Data", 0);
                        description = named.TryGetValue("Description", out var d) ? d.Value as string ?? "" : "";
                        if (!ModelNamePattern.IsMatch(modelName)) Report(Diagnostics.BadModelName, at, modelName);
                        if (contextLength <= 0) Report(Diagnostics.NonPositive, at, modelName, "Context", contextLength);
                        break;
                    case "TokenEmbeddingAttribute":
                        layers.Add(new LayerSpec(LayerKind.TokenEmbedding, (int)ctor[0].Value!, ActivationKind.None, "wte",
                            named.TryGetValue("Positional", out var pos) && pos.Value is true, 0));
                        layerLocations.Add(at ?? classLocation);
                        break;
                    case "FlattenAttribute":
                        layers.Add(new LayerSpec(LayerKind.Flatten, 0, ActivationKind.None, "flatten", false, 0));
                        layerLocations.Add(at ?? classLocation);
                        break;
                    case "DenseAttribute":
                        denseCount++;
                        var name = named.TryGetValue("Name", out var n) && n.Value is string s && s.Length > 0 ? s : "fc" + denseCount;
                        layers.Add(new LayerSpec(LayerKind.Dense, (int)ctor[0].Value!, (ActivationKind)(int)ctor[1].Value!, name, false, 0));
                        layerLocations.Add(at ?? classLocation);
                        break;
                    case "BigramTableAttribute":
                        layers.Add(new LayerSpec(LayerKind.BigramTable, 0, ActivationKind.None, "table",
                            named.TryGetValue("Counting", out var c) && c.Value is true, Double(named, "Smoothing", 1)));
                        layerLocations.Add(at ?? classLocation);
                        break;
                    case "OutputHeadAttribute":
                        layers.Add(new LayerSpec(LayerKind.OutputHead, 0, ActivationKind.None, "lm_head",
                            !named.TryGetValue("Bias", out var b) || b.Value is true, 0,
                            Tied: named.TryGetValue("TiedToEmbedding", out var tied) && tied.Value is true));
                        layerLocations.Add(at ?? classLocation);
                        break;
                    case "TransformerBlocksAttribute":
                        layers.Add(new LayerSpec(LayerKind.TransformerBlocks, 0, ActivationKind.None, "h",
                            !named.TryGetValue("Bias", out var blockBias) || blockBias.Value is true, Double(named, "Dropout", 0),
                            Layers: Int(named, "Layers", 1), Heads: Int(named, "Heads", 1), Ratio: Int(named, "MlpRatio", 4),
                            ExactGelu: Int(named, "Gelu", 0) == 1));
                        layerLocations.Add(at ?? classLocation);
                        break;
                    case "LayerNormAttribute":
                        layers.Add(new LayerSpec(LayerKind.LayerNorm, 0, ActivationKind.None, "ln_f", false, 0));
                        layerLocations.Add(at ?? classLocation);
                        break;
                    case "TrainingRecipeAttribute":
                        recipeLocation = at;
                        recipe = new RecipeSpec(
                            Int(named, "Optimizer", recipe.Optimizer), Double(named, "LearningRate", recipe.LearningRate),
                            Int(named, "Batch", recipe.Batch), Int(named, "Steps", recipe.Steps),
                            Int(named, "DecayStep", recipe.DecayStep), Double(named, "DecayFactor", recipe.DecayFactor),
                            Double(named, "WeightDecay", recipe.WeightDecay), Int(named, "EvalInterval", recipe.EvalInterval),
                            Int(named, "Schedule", recipe.Schedule), Int(named, "Warmup", recipe.Warmup),
                            Double(named, "MinLearningRate", recipe.MinLearningRate), Double(named, "Beta2", recipe.Beta2),
                            Double(named, "GradClip", recipe.GradClip));
                        break;
                }
            }

            CheckLayers(modelName, contextLength, layers, layerLocations, Report, classLocation);
            CheckRecipe(modelName, recipe, recipeLocation, Report);

            var position = syntax.GetLocation().GetLineSpan();
            var spec = diagnostics.Count > 0 ? null : new ModelSpec(
                symbol.ContainingNamespace.IsGlobalNamespace ? "" : symbol.ContainingNamespace.ToDisplayString(),
                symbol.Name, modelName, description, contextLength, dataLayout,
                new EquatableArray<LayerSpec>(layers), recipe,
                position.Path + ":" + position.StartLinePosition.Line.ToString("D6"));
            return new ParseResult(spec, new EquatableArray<DiagnosticInfo>(diagnostics));
        }

        delegate void Reporter(DiagnosticDescriptor d, Location? at, params object[] args);

        static void CheckLayers(string model, int contextLength, List<LayerSpec> layers, List<Location> at,
            Reporter report, Location classLocation)
        {
            int outputIndex = layers.FindIndex(l => l.Kind is LayerKind.OutputHead or LayerKind.BigramTable);
            if (outputIndex < 0)
            {
                report(Diagnostics.MissingOutput, classLocation, model);
                return;
            }
            for (int i = outputIndex + 1; i < layers.Count; i++)
                report(Diagnostics.LayerAfterOutput, at[i], model, AttributeName(layers[i].Kind));

            if (layers[outputIndex].Kind == LayerKind.BigramTable)
            {
                foreach (var (layer, i) in layers.Select((l, i) => (l, i)))
                    if (layer.Kind != LayerKind.BigramTable) report(Diagnostics.BigramNotAlone, at[i], model, AttributeName(layer.Kind));
                if (contextLength != 1) report(Diagnostics.BigramContext, at[outputIndex], model, contextLength);
                return;
            }

            // Walk the layers tracking the shape of the current activation: positions per example x width.
            bool sequence = layers.Any(l => l.Kind == LayerKind.TransformerBlocks);
            bool haveVectors = false, flattened = contextLength == 1 || sequence, shapeReported = false;
            int width = 0, embeddingWidth = 0;
            var seen = new HashSet<LayerKind>();
            var names = new HashSet<string>();
            for (int i = 0; i < layers.Count; i++)
            {
                var layer = layers[i];
                if (layer.Kind is LayerKind.TokenEmbedding or LayerKind.Flatten or LayerKind.OutputHead or LayerKind.TransformerBlocks or LayerKind.LayerNorm
                    && !seen.Add(layer.Kind))
                    report(Diagnostics.DuplicateLayer, at[i], model, AttributeName(layer.Kind));
                if (sequence && layer.Kind is LayerKind.Flatten or LayerKind.Dense)
                    report(Diagnostics.NotWithTransformer, at[i], model, AttributeName(layer.Kind));
                switch (layer.Kind)
                {
                    case LayerKind.TokenEmbedding:
                        if (layer.Width <= 0) report(Diagnostics.NonPositive, at[i], model, "the embedding size", layer.Width);
                        haveVectors = true;
                        width = embeddingWidth = layer.Width;
                        break;
                    case LayerKind.Flatten:
                        if (!haveVectors) report(Diagnostics.MissingEmbedding, at[i], model, "Flatten");
                        flattened = true;
                        width *= contextLength;
                        break;
                    case LayerKind.TransformerBlocks:
                        if (!haveVectors && !shapeReported) { report(Diagnostics.MissingEmbedding, at[i], model, "TransformerBlocks"); shapeReported = true; }
                        if (layer.Layers <= 0) report(Diagnostics.NonPositive, at[i], model, "Layers", layer.Layers);
                        if (layer.Heads <= 0) report(Diagnostics.NonPositive, at[i], model, "Heads", layer.Heads);
                        else if (width > 0 && width % layer.Heads != 0) report(Diagnostics.HeadsDoNotDivide, at[i], model, layer.Heads, width);
                        if (layer.Ratio <= 0) report(Diagnostics.NonPositive, at[i], model, "MlpRatio", layer.Ratio);
                        if (layer.Number < 0 || layer.Number >= 1) report(Diagnostics.BadRecipe, at[i], model, "Dropout", "in [0, 1)", layer.Number);
                        break;
                    case LayerKind.LayerNorm:
                        if (!haveVectors && !shapeReported) { report(Diagnostics.MissingEmbedding, at[i], model, "LayerNorm"); shapeReported = true; }
                        break;
                    case LayerKind.Dense:
                    case LayerKind.OutputHead:
                        var attr = AttributeName(layer.Kind);
                        // One shape error per model: the layers after the first bad one would repeat it.
                        if (!shapeReported && !haveVectors) { report(Diagnostics.MissingEmbedding, at[i], model, attr); shapeReported = true; }
                        else if (!shapeReported && !flattened) { report(Diagnostics.NeedsFlatten, at[i], model, attr, contextLength); shapeReported = true; }
                        if (layer.Kind == LayerKind.Dense)
                        {
                            if (layer.Width <= 0) report(Diagnostics.NonPositive, at[i], model, $"the width of dense layer '{layer.Name}'", layer.Width);
                            if (!names.Add(layer.Name) || layer.Name is "wte" or "wpe" or "lm_head" or "ln_f" or "h")
                                report(Diagnostics.DuplicateName, at[i], "Layer name", layer.Name);
                            width = layer.Width;
                        }
                        else if (layer.Tied && haveVectors && width != embeddingWidth)
                            report(Diagnostics.TiedWidth, at[i], model, width, embeddingWidth);
                        break;
                }
            }
        }

        static void CheckRecipe(string model, RecipeSpec r, Location? at, Reporter report)
        {
            if (r.LearningRate <= 0) report(Diagnostics.BadRecipe, at, model, "LearningRate", "positive", r.LearningRate);
            if (r.Batch <= 0) report(Diagnostics.BadRecipe, at, model, "Batch", "positive", r.Batch);
            if (r.Steps <= 0) report(Diagnostics.BadRecipe, at, model, "Steps", "positive", r.Steps);
            if (r.DecayStep < 0) report(Diagnostics.BadRecipe, at, model, "DecayStep", "zero or positive", r.DecayStep);
            if (r.WeightDecay < 0) report(Diagnostics.BadRecipe, at, model, "WeightDecay", "zero or positive", r.WeightDecay);
            if (r.EvalInterval <= 0) report(Diagnostics.BadRecipe, at, model, "EvalInterval", "positive", r.EvalInterval);
            if (r.Warmup < 0) report(Diagnostics.BadRecipe, at, model, "Warmup", "zero or positive", r.Warmup);
            if (r.MinLearningRate < 0) report(Diagnostics.BadRecipe, at, model, "MinLearningRate", "zero or positive", r.MinLearningRate);
            if (r.Beta2 <= 0 || r.Beta2 >= 1) report(Diagnostics.BadRecipe, at, model, "Beta2", "in (0, 1)", r.Beta2);
            if (r.GradClip < 0) report(Diagnostics.BadRecipe, at, model, "GradClip", "zero or positive", r.GradClip);
        }

        static string AttributeName(LayerKind kind) => kind.ToString();

        static int Int(Dictionary<string, TypedConstant> named, string key, int fallback) =>
            named.TryGetValue(key, out var v) && v.Value is int i ? i : fallback;

        static double Double(Dictionary<string, TypedConstant> named, string key, double fallback) =>
            named.TryGetValue(key, out var v) ? v.Value switch { double d => d, float f => f, int i => i, _ => fallback } : fallback;

        static LocationInfo? ToInfo(Location location)
        {
            if (location.SourceTree is null) return null;
            var span = location.GetLineSpan();
            return new LocationInfo(span.Path, location.SourceSpan.Start, location.SourceSpan.Length,
                span.StartLinePosition.Line, span.StartLinePosition.Character, span.EndLinePosition.Line, span.EndLinePosition.Character);
        }
    }
}
