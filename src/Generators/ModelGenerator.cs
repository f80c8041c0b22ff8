using System.Collections.Immutable;
using System.Linq;
using Edge.Generators.Emitting;
using Edge.Generators.Parsing;
using Edge.Generators.Spec;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Edge.Generators
{
    /// <summary>
    /// The pipeline: [LanguageModel] classes -> <see cref="ModelParser"/> -> three outputs, each cached on its own:
    /// the diagnostics (with their locations), the <see cref="ModelSpec"/> of each valid model (no locations, so an
    /// edit that only moves code reuses the generated model) -> <see cref="ModelEmitter"/>, and the registry entries
    /// -> <see cref="RegistryEmitter"/>.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class ModelGenerator : IIncrementalGenerator
    {
        const string LanguageModelAttribute = "Edge.LanguageModelAttribute";

        /// <summary>Step names, for tests that check which steps an edit re-ran.</summary>
        internal const string ParseStep = "Parse", ModelStep = "Model", RegistryStep = "Registry";

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var parsed = context.SyntaxProvider.ForAttributeWithMetadataName(
                LanguageModelAttribute,
                predicate: static (node, _) => node is ClassDeclarationSyntax,
                transform: static (ctx, cancel) => ModelParser.Parse(ctx, cancel))
                .WithTrackingName(ParseStep);

            context.RegisterSourceOutput(parsed.Select(static (r, _) => r.Diagnostics), static (spc, diagnostics) =>
            {
                foreach (var d in diagnostics) spc.ReportDiagnostic(ToDiagnostic(d));
            });

            var models = parsed.Select(static (r, _) => r.Model).Where(static m => m is not null).WithTrackingName(ModelStep);
            context.RegisterSourceOutput(models, static (spc, model) =>
                spc.AddSource(model!.FullName + ".g.cs", SourceText.From(ModelEmitter.Emit(model), System.Text.Encoding.UTF8)));

            var entries = parsed.Where(static r => r.Model is not null)
                .Select(static (r, _) => new RegistryEntry(r.Model!.FullName, r.Model.ModelName, r.OrderKey))
                .Collect()
                .Select(static (all, _) => new EquatableArray<RegistryEntry>(all.OrderBy(e => e.OrderKey, System.StringComparer.Ordinal)))
                .WithTrackingName(RegistryStep);
            context.RegisterSourceOutput(entries, static (spc, all) =>
            {
                foreach (var group in all.GroupBy(m => m.ModelName).Where(g => g.Count() > 1))
                    spc.ReportDiagnostic(Diagnostic.Create(Diagnostics.DuplicateName, Location.None, "Model name", group.Key));
                if (all.Count > 0)
                    spc.AddSource("Edge.ModelRegistry.g.cs", SourceText.From(RegistryEmitter.Emit(all), System.Text.Encoding.UTF8));
            });
        }

        static Diagnostic ToDiagnostic(DiagnosticInfo d)
        {
            var location = d.Location is { } l
                ? Location.Create(l.FilePath, new TextSpan(l.Start, l.Length),
                    new LinePositionSpan(new LinePosition(l.StartLine, l.StartColumn), new LinePosition(l.EndLine, l.EndColumn)))
                : Location.None;
            return Diagnostic.Create(Diagnostics.Get(d.Id), location, d.Args.Cast<object>().ToArray());
        }
    }

    /// <summary>One model in the registry: its class, its name, and where it is declared (the registry's order).</summary>
    internal sealed record RegistryEntry(string FullName, string ModelName, string OrderKey);
}
