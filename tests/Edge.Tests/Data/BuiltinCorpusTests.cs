using System.Reflection;
using System.Text.RegularExpressions;
using Xunit;

namespace Edge.Tests.Data;

public class BuiltinCorpusTests
{
    [Fact]
    public void Builtin_corpus_is_embedded_ascii_play_script()
    {
        using var stream = Assembly.Load("Edge.Hosting").GetManifestResourceStream("Edge.Cli.Corpus.builtin.txt");
        Assert.NotNull(stream);
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        var bytes = ms.ToArray();
        Assert.True(bytes.Length >= 10 * 1024, $"builtin corpus is only {bytes.Length} bytes");
        Assert.All(bytes, b => Assert.True(b == '\n' || (b >= 0x20 && b < 0x7F), $"byte 0x{b:X2} is not printable ASCII"));

        var text = System.Text.Encoding.ASCII.GetString(bytes);
        int speakers = Regex.Matches(text, @"^[A-Z][A-Z ]*:$", RegexOptions.Multiline).Count;
        Assert.True(speakers >= 30, $"only {speakers} speaker lines");
    }
}
