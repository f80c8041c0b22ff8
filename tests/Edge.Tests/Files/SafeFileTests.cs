using System.Diagnostics;
using Edge.Files;
using Edge.Tests.Support;
using Xunit;

namespace Edge.Tests.Files;

/// <summary>
/// The file layer every command writes and reads through: outputs that are devices, FIFOs, folders or the inputs
/// themselves are refused; inputs that are not regular files are refused at once (a FIFO would block forever); folder
/// sets are replaced as one unit; run folders are locked; stale temporaries of dead processes are removed.
/// </summary>
public class SafeFileTests
{
    internal static string MakeFifo(string path)
    {
        using var p = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        Assert.Equal(FileKind.Fifo, FileKinds.Of(path));
        return path;
    }

    [Fact]
    public void Outputs_ThatAreDevicesFifosOrFolders_AreRefused_AndLeftAsTheyWere()
    {
        using var dir = new TempDir();
        string fifo = MakeFifo(dir.File("pipe"));
        foreach (var (path, kind) in new[] { ("/dev/null", "a device"), (fifo, "a named pipe (FIFO)"), (dir.Path, "a folder") })
        {
            var e = Assert.Throws<EdgeException>(() => SafeFile.CheckOutput(path, "--out"));
            Assert.Contains($"is {kind}", e.Message);
            Assert.Throws<EdgeException>(() => SafeFile.WriteAllText(path, "x"));
        }
        Assert.Equal(FileKind.Device, FileKinds.Of("/dev/null"));
        Assert.Equal(FileKind.Fifo, FileKinds.Of(fifo));
        Assert.Empty(Directory.GetFiles(dir.Path, ".*"));   // no temporary left by the refused writes
    }

    [Fact]
    public void AnOutput_ThatIsAnInput_ThroughAnySpelling_IsRefused()
    {
        using var dir = new TempDir();
        string input = dir.File("model.safetensors", [1, 2, 3]);
        string link = dir.File("link.safetensors");
        File.CreateSymbolicLink(link, input);
        string dotted = Path.Combine(dir.Path, ".", "model.safetensors");
        foreach (var output in new[] { input, link, dotted })
            Assert.Contains("is the input", Assert.Throws<EdgeException>(() => SafeFile.CheckOutput(output, "--out", input)).Message);
        SafeFile.CheckOutput(dir.File("other.safetensors"), "--out", input);   // a new path is fine

        // An output folder that holds (or is) an input.
        Assert.Contains("holds the input", Assert.Throws<EdgeException>(() => SafeFile.CheckOutputFolder(dir.Path, "--out", input)).Message);
        SafeFile.CheckOutputFolder(Path.Combine(dir.Path, "sub"), "--out", input);
    }

    [Fact]
    public void Inputs_ThatAreNotRegularFiles_AreRefusedAtOnce()
    {
        using var dir = new TempDir();
        string fifo = MakeFifo(dir.File("config.json"));
        var clock = Stopwatch.StartNew();
        Assert.Contains("is a named pipe (FIFO), not a regular file", Assert.Throws<EdgeException>(() => SafeFile.ReadAllBytes(fifo)).Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));   // not blocked waiting for a writer
        Assert.Contains("is a folder", Assert.Throws<EdgeException>(() => SafeFile.ReadAllBytes(dir.Path)).Message);
        Assert.Contains("is a device", Assert.Throws<EdgeException>(() => SafeFile.ReadAllBytes("/dev/zero")).Message);
        Assert.Contains("file not found", Assert.Throws<EdgeException>(() => SafeFile.ReadAllBytes(dir.File("missing"))).Message);
        string big = dir.File("big", new byte[100]);
        Assert.Contains("over the 99-byte limit", Assert.Throws<EdgeException>(() => SafeFile.ReadAllBytes(big, maxBytes: 99)).Message);
        Assert.Equal(100, SafeFile.ReadAllBytes(big).Length);
    }

    [Fact]
    public void CommitFolder_ReplacesTheSetAsOneUnit_KeepingOrDroppingTheOthers()
    {
        using var dir = new TempDir();
        string target = Path.Combine(dir.Path, "tok");
        SafeFile.CommitFolder(target, [("a", s => s.WriteByte(1)), ("b", s => s.WriteByte(1))]);
        File.WriteAllText(Path.Combine(target, "notes.txt"), "mine");
        SafeFile.CommitFolder(target, [("a", s => s.WriteByte(2)), ("b", s => s.WriteByte(2))]);
        Assert.Equal([2], File.ReadAllBytes(Path.Combine(target, "a")));
        Assert.Equal([2], File.ReadAllBytes(Path.Combine(target, "b")));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(target, "notes.txt")));

        // A failure while writing the new set leaves the old set, and no temporary folder.
        Assert.Throws<InvalidOperationException>(() =>
            SafeFile.CommitFolder(target, [("a", s => s.WriteByte(3)), ("b", _ => throw new InvalidOperationException("disk on fire"))]));
        Assert.Equal([2], File.ReadAllBytes(Path.Combine(target, "a")));
        Assert.Equal(["a", "b", "notes.txt"], Directory.GetFileSystemEntries(target).Select(Path.GetFileName).Order());
        Assert.Single(Directory.GetFileSystemEntries(dir.Path));

        // replaceAll: the folder becomes exactly the new set.
        SafeFile.CommitFolder(target, [("model.safetensors", s => s.WriteByte(4))], replaceAll: true);
        Assert.Equal(["model.safetensors"], Directory.GetFileSystemEntries(target).Select(Path.GetFileName));
    }

    [Fact]
    public void StaleTemporaries_OfDeadProcesses_AreRemoved_LiveOnesKept()
    {
        using var dir = new TempDir();
        int dead = DeadPid();
        string stale = dir.File($".model.safetensors.tmp-{dead}-1", [1]);
        Directory.CreateDirectory(Path.Combine(dir.Path, $".tok.tmp-{dead}-2"));
        string live = dir.File($".model.safetensors.tmp-{Environment.ProcessId}-1", [1]);
        Assert.Equal(2, SafeFile.RemoveStaleTemporaries(dir.Path));
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live));
    }

    /// <summary>The PID of a process that has exited.</summary>
    static int DeadPid()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }

    [Fact]
    public void OutputFolder_LocksOutASecondWriter_AndRefusesAnEarlierRun_UnlessReplacing()
    {
        using var dir = new TempDir();
        string run = Path.Combine(dir.Path, "run");
        using (var first = OutputFolder.Claim(run, "--out", ["model.safetensors"], OutputFolder.Existing.Refuse))
        {
            File.WriteAllText(Path.Combine(run, "model.safetensors"), "weights");
            // Another writer (flock is per open file, so a second claim in this process stands for another process).
            var e = Assert.Throws<EdgeException>(() => OutputFolder.Claim(run, "--out", ["model.safetensors"], OutputFolder.Existing.Replace));
            Assert.Contains("another edge process is writing there", e.Message);
        }
        var refused = Assert.Throws<EdgeException>(() => OutputFolder.Claim(run, "--out", ["model.safetensors", "log.csv"], OutputFolder.Existing.Refuse));
        Assert.Contains("holds the output of an earlier run (model.safetensors); pass --force", refused.Message);
        using (OutputFolder.Claim(run, "--out", ["model.safetensors"], OutputFolder.Existing.Replace)) { }
        using (OutputFolder.Claim(run, "--out", ["model.safetensors"], OutputFolder.Existing.Continue)) { }
        Assert.Equal("weights", File.ReadAllText(Path.Combine(run, "model.safetensors")));

        // A claim whose command wrote nothing leaves no folder behind.
        string unused = Path.Combine(dir.Path, "unused");
        using (OutputFolder.Claim(unused, "--out", ["model.safetensors"], OutputFolder.Existing.Refuse)) Assert.True(Directory.Exists(unused));
        Assert.False(Directory.Exists(unused));
    }
}
