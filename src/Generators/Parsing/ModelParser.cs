using System.Collections.Generic;
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
    /// Symbols in, <see cref="ModelSpec"/> and diagnostics out. Reads the Edge attributes on a class in source order
    /// (the order of the attributes is the order of the layers) into instances of the real attribute classes (so the
    /// defaults are the attributes' own), then walks the layers once, checking that they describe a model that can be
    /// built and resolving every width.
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

            var declared = new LanguageModelAttribute("");
            var recipe = new TrainingRecipeAttribute();
            Location? recipeLocation = null, modelLocation = null;
            var layers = new List<(object Attribute, Location At)>();

            foreach (var data in symbol.GetAttributes())
            {
                cancel.ThrowIfCancellationRequested();
                var type = data.AttributeClass;
                if (type is null || type.ContainingNamespace?.ToDisplayString() != "Edge") continue;
                var at = data.ApplicationSyntaxReference?.GetSyntax(cancel).GetLocation() ?? classLocation;
                var attribute = AttributeReader.Read(type.Name, data);
                switch (attribute)
                {
                    case null: break;
                    case LanguageModelAttribute m: declared = m; modelLocation = at; break;
                    case TrainingRecipeAttribute r: recipe = r; recipeLocation = at; break;
                    default: layers.Add((attribute, at)); break;
                }
            }

            string model = declared.Name;
            if (!ModelNamePattern.IsMatch(model)) Report(Diagnostics.BadModelName, modelLocation, model);
            if (declared.Context <= 0) Report(Diagnostics.NonPositive, modelLocation, model, nameof(LanguageModelAttribute.Context), declared.Context);

            var walk = new ShapeWalk(model, declared.Context, Report, classLocation);
            var specs = walk.Run(layers);
            CheckRecipe(model, recipe, recipeLocation, Report);

            var position = syntax.GetLocation().GetLineSpan();
            string orderKey = position.Path + ":" + position.StartLinePosition.Line.ToString("D6");
            var spec = diagnostics.Count > 0 ? null : new ModelSpec(
                symbol.ContainingNamespace.IsGlobalNamespace ? "" : symbol.ContainingNamespace.ToDisplayString(),
                symbol.Name, model, declared.Description, declared.Context, declared.Data, walk.Sequence,
                new EquatableArray<LayerSpec>(specs),
                new RecipeSpec(recipe.Optimizer, recipe.LearningRate, recipe.Batch, recipe.Steps, recipe.DecayStep, recipe.DecayFactor,
                    recipe.WeightDecay, recipe.EvalInterval, recipe.Schedule, recipe.Warmup, recipe.MinLearningRate, recipe.Beta2, recipe.GradClip));
            return new ParseResult(spec, new EquatableArray<DiagnosticInfo>(diagnostics), orderKey);
        }

        static void CheckRecipe(string model, TrainingRecipeAttribute r, Location? at, Reporter report)
        {
            if (r.LearningRate <= 0) report(Diagnostics.BadRecipe, at, model, "[TrainingRecipe] " + nameof(r.LearningRate), "positive", r.LearningRate);
            if (r.Batch <= 0) report(Diagnostics.BadRecipe, at, model, "[TrainingRecipe] " + nameof(r.Batch), "positive", r.Batch);
            if (r.Steps <= 0) report(Diagnostics.BadRecipe, at, model, "[TrainingRecipe] " + nameof(r.Steps), "positive", r.Steps);
            if (r.DecayStep < 0) report(Diagnostics.BadRecipe, at, model, "[TrainingRecipe] " + nameof(r.DecayStep), "zero or positive", r.DecayStep);
            if (r.WeightDecay < 0) report(Diagnostics.BadRecipe, at, model, "[TrainingRecipe] " + nameof(r.WeightDecay), "zero or positive", r.WeightDecay);
            if (r.EvalInterval <= 0) report(Diagnostics.BadRecipe, at, model, "[TrainingRecipe] " + nameof(r.EvalInterval), "positive", r.EvalInterval);
            if (r.Warmup < 0) report(Diagnostics.BadRecipe, at, model, "[TrainingRecipe] " + nameof(r.Warmup), "zero or positive", r.Warmup);
            if (r.MinLearningRate < 0) report(Diagnostics.BadRecipe, at, model, "[TrainingRecipe] " + nameof(r.MinLearningRate), "zero or positive", r.MinLearningRate);
            if (r.Beta2 <= 0 || r.Beta2 >= 1) report(Diagnostics.BadRecipe, at, model, "[TrainingRecipe] " + nameof(r.Beta2), "in (0, 1)", r.Beta2);
            if (r.GradClip < 0) report(Diagnostics.BadRecipe, at, model, "[TrainingRecipe] " + nameof(r.GradClip), "zero or positive", r.GradClip);
        }

        static LocationInfo? ToInfo(Location location)
        {
            if (location.SourceTree is null) return null;
            var span = location.GetLineSpan();
            return new LocationInfo(span.Path, location.SourceSpan.Start, location.SourceSpan.Length,
                span.StartLinePosition.Line, span.StartLinePosition.Character, span.EndLinePosition.Line, span.EndLinePosition.Character);
        }
    }

    internal delegate void Reporter(DiagnosticDescriptor d, Location? at, params object[] args);
}
