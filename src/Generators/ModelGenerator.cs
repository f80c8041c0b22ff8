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
    /// The pipeline: [LanguageModel] classes -> <see cref="ModelParser"/> -> <see cref="ModelSpec"/> (equatable,
    /// cached) -> <see cref="ModelEmitter"/> per model, and <see cref="RegistryEmitter"/> over all of them.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class ModelGenerator : IIncrementalGenerator
    {
        const string LanguageModelAttribute = "Edge.LanguageModelAttribute";

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var parsed = context.SyntaxProvider.ForAttributeWithMetadataName(
                LanguageModelAttribute,
                predicate: static (node, _) => node is ClassDeclarationSyntax,
                transform: static (ctx, cancel) => ModelParser.Parse(ctx, cancel));

            context.RegisterSourceOutput(parsed, static (spc, result) =>
            {
                foreach (var d in result.Diagnostics) spc.ReportDiagnostic(ToDiagnostic(d));
                if (result.Model is { } model)
                    spc.AddSource(FileName(model) + ".g.cs", SourceText.From(ModelEmitter.Emit(model), System.Text.Encoding.UTF8));
            });

            var models = parsed.Select(static (r, _) => r.Model).Where(static m => m is not null).Collect();
            context.RegisterSourceOutput(models, static (spc, all) =>
            {
                var ordered = all.Select(m => m!).OrderBy(m => m.SortKey, System.StringComparer.Ordinal).ToImmutableArray();
                foreach (var group in ordered.GroupBy(m => m.ModelName).Where(g => g.Count() > 1))
                    spc.ReportDiagnostic(Diagnostic.Create(Diagnostics.DuplicateName, Location.None, "Model name", group.Key));
                if (ordered.Length > 0)
                    spc.AddSource("Edge.ModelRegistry.g.cs", SourceText.From(RegistryEmitter.Emit(ordered), System.Text.Encoding.UTF8));
            });
        }

        static string FileName(ModelSpec m) => (m.Namespace.Length > 0 ? m.Namespace + "." : "") + m.ClassName;

        static Diagnostic ToDiagnostic(DiagnosticInfo d)
        {
            var location = d.Location is { } l
                ? Location.Create(l.FilePath, new TextSpan(l.Start, l.Length),
                    new LinePositionSpan(new LinePosition(l.StartLine, l.StartColumn), new LinePosition(l.EndLine, l.EndColumn)))
                : Location.None;
            return Diagnostic.Create(Diagnostics.Get(d.Id), location, d.Args.Cast<object>().ToArray());
        }
    }
}
