using System.Diagnostics;
using System.Globalization;
using Edge.Models;
using Edge.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Edge.Tests.Cli;

/// <summary>
/// Checkpoints are saved to a temporary file in the same folder, flushed and renamed over the old one. Here a real
/// `edge train` run, saving last.safetensors (4 MB for char-mlp with its AdamW moments) after every step, is killed
/// (SIGKILL, no chance to clean up) at several points of a save; the file under the final name must still be
/// a whole checkpoint that loads.
/// </summary>
public class KillMidWriteTests(ITestOutputHelper output)
{
    static readonly string[] Train = ["train", "char-mlp", "--eval-interval", "1", "--eval-iters", "1", "--batch", "1", "--sample", "0", "--quiet", "--out", "run"];

    [Fact]
    public void KilledWhileSavingACheckpoint_LeavesThePreviousOneIntact()
    {
        using var dir = new TempDir();
        var first = EdgeProcess.Run(dir.Path, [.. Train, "--steps", "2"]);
        Assert.True(first.ExitCode == 0, first.ToString());
        string runDir = dir.File("run");

        // Kill once the first save's temporary file holds this share of the old file's bytes (1: all written, so
        // the kill lands in the flush, the rename or just after it). A kill that comes too late (the save was
        // already renamed) is checked too, then tried again, up to four times per share.
        double[] shares = [0, 0.1, 0.35, 0.6, 0.85, 1];
        int killedMidWrite = 0, kills = 0;
        foreach (double share in shares)
            for (int attempt = 0; attempt < 4; attempt++)
            {
                kills++;
                if (KillDuringSave(dir.Path, runDir, share)) { killedMidWrite++; break; }
            }
        output.WriteLine($"{killedMidWrite} of {kills} kills landed inside a save");
        Assert.True(killedMidWrite >= shares.Length / 2, $"only {killedMidWrite} of {kills} kills landed inside a save");
    }

    /// <summary>Resumes the run, kills it during its first save of last.safetensors, checks the files; true when the save was cut short.</summary>
    static bool KillDuringSave(string workDir, string runDir, double share)
    {
        string last = Path.Combine(runDir, "last.safetensors");
        byte[] before = File.ReadAllBytes(last);
        int stepBefore = Step(last);
        using var process = EdgeProcess.Start(workDir, [.. Train, "--steps", "100000000", "--resume"]);
        string pattern = $".last.safetensors.tmp-{process.Id}-*";
        string? temp = WaitForWrite(process, runDir, pattern, (long)(share * before.Length) - (share == 1 ? 64 : 0));
        process.Kill();   // SIGKILL at once (walking the process tree first takes milliseconds)
        Assert.True(process.WaitForExit(30_000), "edge did not die after SIGKILL");
        Assert.True(temp is not null, $"edge (share {share}) exited with {process.ExitCode} before saving a checkpoint");

        // The final name always holds a whole checkpoint: it loads, with its optimiser state, and its weights are finite.
        Checkpoint.LoadForResume(last, ModelCatalog.All).Checkpoint.Model.Dispose();
        Checkpoint.Load(Path.Combine(runDir, "model.safetensors"), ModelCatalog.All).Model.Dispose();

        var left = Directory.GetFiles(runDir, pattern);
        // Temp names count the process's saves: 1 or 2 is its first save of last.safetensors (model.safetensors may come first).
        bool cutShort = left.Length > 0 && Counter(left[0]) <= 2;
        if (cutShort)
            Assert.True(before.AsSpan().SequenceEqual(File.ReadAllBytes(last)), $"killed during the first save (share {share}), but last.safetensors changed");
        else
            Assert.True(Step(last) > stepBefore, $"share {share}: no save was cut short, so a newer checkpoint must have replaced step {stepBefore}");
        foreach (var f in left) File.Delete(f);   // stray temporaries only ever carry the temporary name
        Assert.Equal(["last.safetensors", "log.csv", "model.safetensors"],
            Directory.GetFiles(runDir).Select(f => Path.GetFileName(f)).Where(n => !n.StartsWith('.')).Order().ToArray());
        return cutShort;
    }

    /// <summary>The temporary file of the process's first save once it holds <paramref name="bytes"/> bytes (or once it is gone).</summary>
    static string? WaitForWrite(Process process, string runDir, string pattern, long bytes)
    {
        var clock = Stopwatch.StartNew();
        string? temp = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(60) && !process.HasExited)
        {
            temp ??= Directory.EnumerateFiles(runDir, pattern).FirstOrDefault();
            if (temp is not null)
            {
                var info = new FileInfo(temp);
                if (!info.Exists || info.Length >= bytes) return temp;
            }
            else Thread.SpinWait(100);
        }
        return temp;
    }

    static int Counter(string temp) => int.Parse(temp[(temp.LastIndexOf('-') + 1)..], CultureInfo.InvariantCulture);

    static int Step(string checkpoint)
    {
        using var file = Edge.Formats.SafeTensorsFile.Open(checkpoint);
        return int.Parse(file.Metadata[Checkpoint.StepKey], CultureInfo.InvariantCulture);
    }
}
