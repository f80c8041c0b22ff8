extern alias generator;
using generator::Edge.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Edge.Tests.Generators;

/// <summary>
/// The generator's pipeline caches: the model spec holds no locations and the diagnostics travel on their own, so an
/// edit elsewhere in the compilation, or one that only moves a model, reuses the generated model instead of printing
/// it again (Roslyn's incremental step tracking says which steps ran).
/// </summary>
public class IncrementalTests
{
    const string Models = """
        using Edge;
        namespace Demo;
        [LanguageModel("demo-gpt", Context = 8)]
        [TokenEmbedding(16, Positional = true)]
        [TransformerBlocks(Layers = 2, Heads = 2)]
        [LayerNorm]
        [OutputHead(TiedToEmbedding = true, Bias = false)]
        public partial class DemoGpt;
        """;

    static GeneratorDriver Driver() => CSharpGeneratorDriver.Create([new ModelGenerator().AsSourceGenerator()],
        parseOptions: GeneratorHarness.ParseOptions,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    static IncrementalStepRunReason[] Reasons(GeneratorDriver driver, string step) =>
        driver.GetRunResult().Results.Single().TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray();

    [Fact]
    public void AnEditElsewhere_ReusesTheGeneratedModel()
    {
        var compilation = GeneratorHarness.Compile(Models);
        var driver = Driver().RunGenerators(compilation);
        Assert.All(Reasons(driver, ModelGenerator.ModelStep), r => Assert.Equal(IncrementalStepRunReason.New, r));

        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Demo; class Other { public int X; }", GeneratorHarness.ParseOptions, path: "Other.cs"));
        driver = driver.RunGenerators(edited);
        Assert.All(Reasons(driver, ModelGenerator.ModelStep), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
        Assert.All(Reasons(driver, ModelGenerator.RegistryStep), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void MovingTheModel_ReparsesIt_ButReusesItsGeneratedCode()
    {
        var compilation = GeneratorHarness.Compile(Models);
        var driver = Driver().RunGenerators(compilation);
        var tree = compilation.SyntaxTrees.Single();
        var moved = compilation.ReplaceSyntaxTree(tree, tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From("\n\n// moved down\n" + Models)));
        driver = driver.RunGenerators(moved);
        // The attributes moved, so the declaration is parsed again; its spec is equal, so the model is not printed again.
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(driver, ModelGenerator.ParseStep));
        Assert.All(Reasons(driver, ModelGenerator.ModelStep), r => Assert.True(r is IncrementalStepRunReason.Unchanged or IncrementalStepRunReason.Cached, r.ToString()));
    }
}
