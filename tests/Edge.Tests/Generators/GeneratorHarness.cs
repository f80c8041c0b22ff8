extern alias generator;
using System.Collections.Immutable;
using generator::Edge.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Edge.Tests.Generators;

/// <summary>Runs the model generator in memory over a source text, as the compiler would.</summary>
static class GeneratorHarness
{
    static readonly ImmutableArray<MetadataReference> References = BuildReferences();

    public sealed record Result(ImmutableArray<Diagnostic> GeneratorDiagnostics, ImmutableArray<Diagnostic> CompileDiagnostics, ImmutableArray<string> Sources)
    {
        public IEnumerable<string> Ids => GeneratorDiagnostics.Select(d => d.Id);
        public IEnumerable<Diagnostic> Errors => CompileDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error);
    }

    public static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.Latest);

    /// <summary>A compilation of one source file, "Models.cs", against the runtime.</summary>
    public static CSharpCompilation Compile(string source) =>
        CSharpCompilation.Create("UserModels",
            [CSharpSyntaxTree.ParseText(source, ParseOptions, path: "Models.cs")],
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static Result Run(string source)
    {
        var compilation = Compile(source);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new ModelGenerator());
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        var run = driver.GetRunResult();
        return new Result(generatorDiagnostics, output.GetDiagnostics(),
            run.GeneratedTrees.Select(t => t.GetText().ToString()).ToImmutableArray());
    }

    static ImmutableArray<MetadataReference> BuildReferences()
    {
        var trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        // Not the generator itself: it carries its own copy of the attribute types (compiled from the runtime's source).
        return trusted.Where(p => !p.EndsWith("Edge.Generators.dll", StringComparison.Ordinal))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .Append(MetadataReference.CreateFromFile(typeof(LanguageModel).Assembly.Location))
            .ToImmutableArray();
    }
}
