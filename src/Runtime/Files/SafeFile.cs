using System.Runtime.InteropServices;
using System.Text;

namespace Edge.Files;

/// <summary>
/// Every file Edge writes goes through here, so a crash, a kill or a full disk never leaves a half-written or mixed
/// output, and nothing that is not a regular file is ever replaced.
/// <list type="bullet">
/// <item>One file (<see cref="Write"/>): written to a temporary file in the same folder (".NAME.tmp-PID-N"), flushed to
/// disk, then renamed over the target: readers see the old file or the whole new one.</item>
/// <item>A set of files that belong together (<see cref="CommitFolder"/>: an adapter's weights and config, a tokenizer's
/// vocabulary and merges): written into a temporary folder which then takes the target folder's place in one atomic
/// exchange (Linux renameat2 RENAME_EXCHANGE): a crash leaves the old set or the new set, never half of each.</item>
/// <item>Outputs are checked first (<see cref="CheckOutput"/>): an existing device, FIFO, socket or folder is refused, and
/// so is an output that is (or resolves through links to) one of the command's inputs.</item>
/// <item>A failure removes the command's own temporary files; <see cref="RemoveStaleTemporaries"/> removes those a killed
/// process left behind (its PID no longer runs).</item>
/// </list>
/// I/O failures become <see cref="EdgeException"/>s that name the path.
/// </summary>
public static partial class SafeFile
{
    static int s_counter;

    /// <summary>A temporary name beside <paramref name="full"/>, unique to this process and call.</summary>
    static string TempBeside(string full) =>
        Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}");

    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/> (see the class summary).</summary>
    public static void Write(string path, Action<FileStream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        CheckReplaceable(full, path);
        RemoveStaleTemporaries(Path.GetDirectoryName(full)!, Path.GetFileName(full));   // what a killed writer of this file left
        string temp = TempBeside(full);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            CheckReplaceable(full, path);   // nothing swapped a device or a folder in meanwhile
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new EdgeException($"{path}: cannot write ({e.Message})", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    public static void WriteAllText(string path, string text) => WriteAllBytes(path, Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// Replaces the files <paramref name="files"/> name in folder <paramref name="dir"/> as one unit (see the class
    /// summary). The folder's other files are kept (linked into the new folder), or, with
    /// <paramref name="replaceAll"/>, the new folder holds only <paramref name="files"/> (a model folder must not keep an
    /// older model's shards beside the new weights). <paramref name="dir"/> is created when missing.
    /// </summary>
    public static void CommitFolder(string dir, IReadOnlyList<(string Name, Action<FileStream> Write)> files, bool replaceAll = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        var kind = FileKinds.Of(full);
        if (kind is not (FileKind.Missing or FileKind.Directory))
            throw new EdgeException($"{dir}: is {FileKinds.Describe(kind)}, expected a folder");
        foreach (var (name, _) in files)
            CheckReplaceable(Path.Combine(full, name), Path.Combine(dir, name));
        string parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        RemoveStaleTemporaries(parent, Path.GetFileName(full));   // what a killed writer of this folder left
        string temp = TempBeside(full);
        try
        {
            Directory.CreateDirectory(temp);
            if (kind == FileKind.Directory && !replaceAll)
                foreach (var existing in Directory.EnumerateFiles(full))
                {
                    string name = Path.GetFileName(existing);
                    if (files.Any(f => f.Name == name) || FileKinds.Of(existing) != FileKind.Regular) continue;
                    if (Link(existing, Path.Combine(temp, name)) != 0) File.Copy(existing, Path.Combine(temp, name));
                }
            foreach (var (name, write) in files)
                using (var stream = new FileStream(Path.Combine(temp, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    write(stream);
                    stream.Flush(flushToDisk: true);
                }
            if (KillBeforeCommit) Kill(Environment.ProcessId, 9);   // the fault tests' hook: a crash at the worst moment
            if (kind == FileKind.Missing) Directory.Move(temp, full);
            else Exchange(temp, full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDeleteFolder(temp);
            throw new EdgeException($"{dir}: cannot write ({e.Message})", e);
        }
        catch
        {
            TryDeleteFolder(temp);
            throw;
        }
        TryDeleteFolder(temp);   // the old set, now under the temporary name
    }

    /// <summary>
    /// Refuses an output path that exists and is not a regular file (a device, FIFO, socket or folder), and one that is,
    /// or resolves to, any of <paramref name="inputs"/> (files, or folders the output would be inside of).
    /// </summary>
    public static void CheckOutput(string output, string option, params string?[] inputs)
    {
        string full = Path.GetFullPath(output);
        var kind = FileKinds.OfTarget(full);
        if (kind is not (FileKind.Missing or FileKind.Regular))
            throw new EdgeException($"{option} {output}: is {FileKinds.Describe(kind)}; write to a regular file or a new path");
        string resolved = Resolve(full);
        foreach (var input in inputs)
        {
            if (input is null) continue;
            string i = Resolve(Path.GetFullPath(input));
            if (string.Equals(i, resolved, StringComparison.Ordinal))
                throw new EdgeException($"{option} {output}: is the input {input}; writing it would destroy the input");
        }
    }

    /// <summary>Refuses an output folder that is (or is inside, or contains) an input file or folder.</summary>
    public static void CheckOutputFolder(string output, string option, params string?[] inputs)
    {
        string full = Path.GetFullPath(output);
        var kind = FileKinds.OfTarget(full);
        if (kind is not (FileKind.Missing or FileKind.Directory))
            throw new EdgeException($"{option} {output}: is {FileKinds.Describe(kind)}, expected a folder");
        string resolved = Resolve(full) + Path.DirectorySeparatorChar;
        foreach (var input in inputs)
        {
            if (input is null) continue;
            string i = Resolve(Path.GetFullPath(input));
            if ((i + Path.DirectorySeparatorChar).StartsWith(resolved, StringComparison.Ordinal))
                throw new EdgeException($"{option} {output}: holds the input {input}; writing there could replace it");
        }
    }

    /// <summary>
    /// An input file's bytes: refused with one line when it is missing or not a regular file (a FIFO would block forever,
    /// a device never ends, a folder says nothing useful), or larger than <paramref name="maxBytes"/>.
    /// </summary>
    public static byte[] ReadAllBytes(string path, long maxBytes = int.MaxValue, string what = "")
    {
        ArgumentNullException.ThrowIfNull(path);
        CheckInput(path, what);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1);
            if (stream.Length > maxBytes)
                throw new EdgeException($"{path}: file is {stream.Length:N0} bytes, over the {maxBytes:N0}-byte limit{what}");
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EdgeException($"{path}: cannot read ({e.Message})", e);
        }
    }

    /// <summary><see cref="ReadAllBytes"/> as UTF-8 text (a BOM dropped).</summary>
    public static string ReadAllText(string path, long maxBytes = int.MaxValue) =>
        new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetString(ReadAllBytes(path, maxBytes)).TrimStart('\uFEFF');

    /// <summary>Refuses an input that is not a regular file (reading a FIFO blocks forever; a device never ends).</summary>
    public static void CheckInput(string path, string what = "")
    {
        var kind = FileKinds.OfTarget(path);
        if (kind == FileKind.Missing) throw new EdgeException($"{path}: file not found{what}");
        if (kind != FileKind.Regular) throw new EdgeException($"{path}: is {FileKinds.Describe(kind)}, not a regular file{what}");
    }

    /// <summary>
    /// Deletes ".NAME.tmp-PID-N" files and folders in <paramref name="dir"/> whose process no longer runs (only those
    /// of <paramref name="name"/> when given).
    /// </summary>
    public static int RemoveStaleTemporaries(string dir, string? name = null)
    {
        if (!Directory.Exists(dir)) return 0;
        int removed = 0;
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir, name is null ? ".*.tmp-*" : $".{name}.tmp-*"))
        {
            var entryName = Path.GetFileName(entry);
            int at = entryName.LastIndexOf(".tmp-", StringComparison.Ordinal);
            var rest = entryName.AsSpan(at + 5);
            int dash = rest.IndexOf('-');
            if (!int.TryParse(dash < 0 ? rest : rest[..dash], out int pid) || Running(pid)) continue;
            if (Directory.Exists(entry)) TryDeleteFolder(entry); else TryDelete(entry);
            removed++;
        }
        return removed;
    }

    static bool Running(int pid) => pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}") || !Directory.Exists("/proc/self");

    static string Resolve(string full)
    {
        // Follow links on every part of the path, so two spellings of one file compare equal.
        try
        {
            var info = new FileInfo(full);
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target) return target.FullName;
            string? parent = Path.GetDirectoryName(full);
            return parent is null ? full : Path.Combine(Resolve(parent), Path.GetFileName(full));
        }
        catch (IOException) { return full; }
    }

    static void CheckReplaceable(string full, string shown)
    {
        var kind = FileKinds.Of(full);
        if (kind is not (FileKind.Missing or FileKind.Regular or FileKind.SymbolicLink))
            throw new EdgeException($"{shown}: is {FileKinds.Describe(kind)}; refusing to replace it");
    }

    /// <summary>
    /// EDGE_TEST_KILL_BEFORE_COMMIT=1 makes the process kill itself (SIGKILL) once a folder's new files are all written
    /// and just before they replace the old ones: how the tests check that a crash there leaves the old set whole.
    /// </summary>
    static readonly bool KillBeforeCommit = Environment.GetEnvironmentVariable("EDGE_TEST_KILL_BEFORE_COMMIT") == "1";

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    const int AtFdCwd = -100;
    const uint RenameExchange = 2;

    [LibraryImport("libc", EntryPoint = "renameat2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int RenameAt2(int oldDir, string oldPath, int newDir, string newPath, uint flags);

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string existing, string created);

    /// <summary>Swaps two folders atomically; where the kernel cannot, moves the old one aside first (a short window).</summary>
    static void Exchange(string a, string b)
    {
        try
        {
            if (RenameAt2(AtFdCwd, a, AtFdCwd, b, RenameExchange) == 0) return;
        }
        catch (EntryPointNotFoundException) { }
        catch (DllNotFoundException) { }
        string aside = a + ".old";
        Directory.Move(b, aside);
        Directory.Move(a, b);
        Directory.Move(aside, a);
    }

    static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    static void TryDeleteFolder(string path)
    {
        try { if (Directory.Exists(path)) Directory.Delete(path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
