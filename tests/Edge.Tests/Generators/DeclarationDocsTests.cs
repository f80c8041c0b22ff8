using System.Text.RegularExpressions;
using Edge.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Xunit;

namespace Edge.Tests.Generators;

/// <summary>
/// Keeps the declaration reference honest: every public attribute, option and enum value in ModelAttributes.cs has an
/// XML summary, every attribute and option is in docs/DECLARATIONS.md, and so is every EDGE diagnostic the generator
/// defines.
/// </summary>
public class DeclarationDocsTests
{
    static string Read(params string[] parts) => File.ReadAllText(Path.Combine([TestData.RepoRoot, .. parts]));

    static readonly string Attributes = Read("src", "Runtime", "Declarations", "ModelAttributes.cs");
    static readonly string Reference = Read("docs", "DECLARATIONS.md");

    static IEnumerable<MemberDeclarationSyntax> PublicMembers()
    {
        var root = CSharpSyntaxTree.ParseText(Attributes, GeneratorHarness.ParseOptions).GetRoot();
        foreach (var member in root.DescendantNodes().OfType<MemberDeclarationSyntax>())
        {
            bool isPublic = member switch
            {
                EnumMemberDeclarationSyntax => true,
                BaseTypeDeclarationSyntax or PropertyDeclarationSyntax => member.Modifiers.Any(SyntaxKind.PublicKeyword),
                _ => false,
            };
            if (isPublic) yield return member;
        }
    }

    static string NameOf(MemberDeclarationSyntax member) => member switch
    {
        BaseTypeDeclarationSyntax t => t.Identifier.Text,
        PropertyDeclarationSyntax p => p.Identifier.Text,
        EnumMemberDeclarationSyntax e => e.Identifier.Text,
        _ => member.ToString(),
    };

    [Fact]
    public void EveryPublicDeclarationMember_HasASummary()
    {
        var members = PublicMembers().ToList();
        Assert.True(members.Count > 50, $"only {members.Count} public members found");
        var undocumented = members
            .Where(m => !m.GetLeadingTrivia().Any(t => t.IsKind(SyntaxKind.SingleLineDocumentationCommentTrivia) && t.ToFullString().Contains("<summary>")))
            .Select(NameOf)
            .ToList();
        Assert.True(undocumented.Count == 0, "no XML summary: " + string.Join(", ", undocumented));
    }

    [Fact]
    public void EveryAttributeAndOption_IsInTheReference()
    {
        var missing = new List<string>();
        var root = CSharpSyntaxTree.ParseText(Attributes, GeneratorHarness.ParseOptions).GetRoot();
        foreach (var type in root.DescendantNodes().OfType<ClassDeclarationSyntax>())
        {
            string attribute = type.Identifier.Text.Replace("Attribute", "");
            if (!Reference.Contains("### `[" + attribute) && !Reference.Contains("## `[" + attribute)) missing.Add($"[{attribute}]");
            foreach (var p in type.Members.OfType<PropertyDeclarationSyntax>())
                if (!Reference.Contains($"`{p.Identifier.Text}`") && !Reference.Contains($"`{char.ToLowerInvariant(p.Identifier.Text[0])}{p.Identifier.Text[1..]}` (constructor)"))
                    missing.Add($"{attribute}.{p.Identifier.Text}");
        }
        foreach (var e in root.DescendantNodes().OfType<EnumDeclarationSyntax>())
        {
            if (!Reference.Contains($"| `{e.Identifier.Text}` |")) missing.Add(e.Identifier.Text);
            foreach (var v in e.Members)
                if (!Reference.Contains($"`{v.Identifier.Text}`")) missing.Add($"{e.Identifier.Text}.{v.Identifier.Text}");
        }
        Assert.True(missing.Count == 0, "not in docs/DECLARATIONS.md: " + string.Join(", ", missing));
    }

    [Fact]
    public void EveryDiagnostic_IsInTheReference()
    {
        var ids = Regex.Matches(Read("src", "Generators", "Diagnostics.cs"), "\"(EDGE\\d{3})\"").Select(m => m.Groups[1].Value).ToList();
        Assert.True(ids.Count >= 20, $"only {ids.Count} diagnostic IDs found");
        var missing = ids.Where(id => !Reference.Contains($"| `{id}` |")).ToList();
        Assert.True(missing.Count == 0, "not in the diagnostics table of docs/DECLARATIONS.md: " + string.Join(", ", missing));
    }
}
