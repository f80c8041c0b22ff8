using Edge.Tests.Support;
using Xunit;

namespace Edge.Tests.Generators;

/// <summary>
/// The generated code of two declared models, compared with files checked in beside this test: any change to what the
/// generator prints shows up as a diff in review. After an intended change, regenerate them with
/// <c>EDGE_UPDATE_GOLDEN=1 dotnet test tests/Edge.Tests -c Release --filter GoldenFileTests</c> and read the diff.
/// </summary>
public class GoldenFileTests
{
    static string Generated(string sourceFile, string className)
    {
        var source = File.ReadAllText(Path.Combine(TestData.RepoRoot, "src", "Models", sourceFile));
        var result = GeneratorHarness.Run(source);
        Assert.Empty(result.GeneratorDiagnostics);
        return Assert.Single(result.Sources, s => s.Contains($"partial class {className} "));
    }

    static string GoldenPath(string className) => Path.Combine(TestData.RepoRoot, "tests", "Edge.Tests", "Generators", "Golden", className + ".g.cs");

    [Theory]
    [InlineData("NamesMlp.cs", "NamesMlp")]
    [InlineData("Transformers.cs", "BabyGpt")]
    public void GeneratedCode_MatchesTheGoldenFile(string sourceFile, string className)
    {
        string generated = Generated(sourceFile, className), path = GoldenPath(className);
        if (Environment.GetEnvironmentVariable("EDGE_UPDATE_GOLDEN") == "1") File.WriteAllText(path, generated);
        Assert.True(File.Exists(path), $"{path} is missing: run the tests once with EDGE_UPDATE_GOLDEN=1");
        var golden = File.ReadAllText(path);
        if (golden == generated) return;
        var (a, b) = (golden.Split('\n'), generated.Split('\n'));
        int line = 0;
        while (line < Math.Min(a.Length, b.Length) && a[line] == b[line]) line++;
        Assert.Fail($"{className}: the generated code differs from {Path.GetFileName(path)} at line {line + 1}:\n" +
                    $"  golden:    {(line < a.Length ? a[line] : "(end)")}\n  generated: {(line < b.Length ? b[line] : "(end)")}\n" +
                    "regenerate with EDGE_UPDATE_GOLDEN=1 if the change is intended");
    }

    /// <summary>The README's excerpts of generated code are taken from the golden files, line for line and in order.</summary>
    [Fact]
    public void ReadmeExcerpts_AreInTheGoldenFiles()
    {
        var readme = File.ReadAllLines(Path.Combine(TestData.RepoRoot, "README.md"));
        int excerpts = 0;
        for (int i = 0; i < readme.Length; i++)
        {
            var marker = System.Text.RegularExpressions.Regex.Match(readme[i], @"<!-- generated: (\w+) -->");
            if (!marker.Success) continue;
            excerpts++;
            var golden = File.ReadAllLines(GoldenPath(marker.Groups[1].Value)).Select(l => l.Trim()).ToList();
            int at = 0, j = i + 2;   // the line after the marker opens the code block
            for (; j < readme.Length && !readme[j].StartsWith("```", StringComparison.Ordinal); j++)
            {
                string line = readme[j].Trim();
                if (line.Length == 0 || line == "...") continue;
                int found = golden.IndexOf(line, at);
                Assert.True(found >= 0, $"README line {j + 1} is not in {marker.Groups[1].Value}.g.cs (after line {at}): {line}");
                at = found + 1;
            }
        }
        Assert.True(excerpts >= 1, "the README shows no excerpt of generated code");
    }
}
