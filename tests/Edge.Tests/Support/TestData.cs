namespace Edge.Tests.Support;

/// <summary>Where the shared data lives: $EDGE_DATA, else ../shared/data beside the repository.</summary>
static class TestData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Directory =>
        Environment.GetEnvironmentVariable("EDGE_DATA") is { Length: > 0 } dir ? dir : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));

    /// <summary>The path of a shared data file; fails the test with a clear message when it is absent.</summary>
    public static string File(string name)
    {
        var path = Path.Combine(Directory, name);
        if (!System.IO.File.Exists(path))
            throw new FileNotFoundException($"shared data file '{name}' is missing: expected {path} (set EDGE_DATA to the folder that holds it)");
        return path;
    }

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Edge.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find Edge.sln above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary folder, deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Directory.CreateTempSubdirectory("edge-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="bytes"/> to a file in the folder and returns its path.</summary>
    public string File(string name, byte[] bytes)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }
    public void Dispose()
    {
        try { System.IO.Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
