namespace Edge.Cli;

/// <summary>The small original corpus embedded in the binary, so `edge train` works with no data at hand.</summary>
static class BuiltinCorpus
{
    public const string Name = "built-in corpus";

    public static string Text
    {
        get
        {
            using var stream = typeof(BuiltinCorpus).Assembly.GetManifestResourceStream("Edge.Cli.Corpus.builtin.txt")
                ?? throw new InvalidOperationException("the built-in corpus is missing from this build");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd().Replace("\r\n", "\n");
        }
    }
}
