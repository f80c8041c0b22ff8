namespace Edge.Files;

/// <summary>
/// A folder one command writes its outputs into (a training run, an adapter, a tokenizer, a model folder), claimed for
/// the life of the command:
/// <list type="bullet">
/// <item>it is not an input and holds none of the command's inputs (<see cref="SafeFile.CheckOutputFolder"/>);</item>
/// <item>it is locked: a second writer is refused while the first runs (an advisory lock on ".edge-lock" in the folder,
/// which the kernel drops when the process ends, however it ends);</item>
/// <item>temporary files that killed processes left there are removed;</item>
/// <item>outputs of an earlier command (files the new one would replace) are refused unless the caller continues them
/// (<c>--resume</c>) or was told to replace them (<c>--force</c>), and the message names the files.</item>
/// </list>
/// </summary>
public sealed class OutputFolder : IDisposable
{
    /// <summary>The lock file's name; it stays in the folder (removing it could let two writers lock two different files).</summary>
    public const string LockName = ".edge-lock";

    readonly FileStream _lock;
    readonly bool _created;

    OutputFolder(string path, FileStream lockStream, bool created)
    {
        Path = path;
        _lock = lockStream;
        _created = created;
    }

    public string Path { get; }

    /// <summary>What <see cref="Claim"/> does with outputs an earlier command left.</summary>
    public enum Existing
    {
        /// <summary>Refuse, naming them and the options that would allow it.</summary>
        Refuse,
        /// <summary>The command continues them (a resumed run).</summary>
        Continue,
        /// <summary>The command replaces them (--force).</summary>
        Replace,
    }

    /// <summary>
    /// Claims <paramref name="dir"/> (created when missing) for a command whose outputs there are
    /// <paramref name="outputs"/> (file names), given as <paramref name="option"/> and reading <paramref name="inputs"/>.
    /// </summary>
    public static OutputFolder Claim(string dir, string option, IReadOnlyList<string> outputs, Existing existing, params string?[] inputs)
    {
        SafeFile.CheckOutputFolder(dir, option, inputs);
        bool created = !Directory.Exists(dir);
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EdgeException($"{option} {dir}: cannot create the folder ({e.Message})", e);
        }
        string lockPath = System.IO.Path.Combine(dir, LockName);
        var kind = FileKinds.Of(lockPath);
        if (kind is not (FileKind.Missing or FileKind.Regular))
            throw new EdgeException($"{option} {dir}: {LockName} is {FileKinds.Describe(kind)}; remove it");
        FileStream stream;
        try
        {
            // FileShare.None is an exclusive flock on Unix: a second edge process gets an IOException here.
            stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new EdgeException($"{option} {dir}: another edge process is writing there; wait for it or choose another folder", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new EdgeException($"{option} {dir}: cannot write there ({e.Message})", e);
        }
        try
        {
            SafeFile.RemoveStaleTemporaries(dir);
            var found = outputs.Where(name => FileKinds.Of(System.IO.Path.Combine(dir, name)) != FileKind.Missing).ToList();
            if (found.Count > 0 && existing == Existing.Refuse)
                throw new EdgeException($"{option} {dir}: holds the output of an earlier run ({string.Join(", ", found)}); " +
                    "pass --force to replace it, or choose another folder");
            return new OutputFolder(dir, stream, created);
        }
        catch
        {
            stream.Dispose();
            if (created) RemoveIfUnused(dir);
            throw;
        }
    }

    /// <summary>Releases the lock; a folder this claim created and nothing was written to goes too (a refused run leaves no trace).</summary>
    public void Dispose()
    {
        _lock.Dispose();
        if (_created) RemoveIfUnused(Path);
    }

    static void RemoveIfUnused(string dir)
    {
        try
        {
            if (Directory.EnumerateFileSystemEntries(dir).Any(e => System.IO.Path.GetFileName(e) != LockName)) return;
            File.Delete(System.IO.Path.Combine(dir, LockName));
            Directory.Delete(dir);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
