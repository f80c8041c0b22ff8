using System.Diagnostics;
using System.Globalization;
using Xunit;
using Xunit.Abstractions;

namespace Edge.Tests.Fuzz;

/// <summary>
/// Feeds mutated files to every parser in <see cref="FuzzTargets.All"/>. Each input must parse or be refused with
/// one <see cref="EdgeException"/> whose message is one line naming the file; any other exception, an input that
/// takes longer than the timeout, or one that allocates more than the limit fails the test, naming the target,
/// the iteration and the mutation (replay it with EDGE_FUZZ_TARGET, EDGE_FUZZ_FIRST and EDGE_FUZZ_ITERATIONS=1).
///
/// The normal suite runs a short pass. A long run (see README, "Fuzzing"):
///   EDGE_FUZZ_ITERATIONS=200000 EDGE_FUZZ_SECONDS=60 dotnet test tests/Edge.Tests -c Release --filter FuzzTests --logger "console;verbosity=detailed"
/// EDGE_FUZZ_SECONDS caps the time per target; EDGE_FUZZ_SEED changes the whole sequence of inputs.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    const int ShortIterations = 120;
    const long AllocationLimit = 512L << 20;
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);   // generous: the machine may be busy, a hang is forever

    public static TheoryData<string> Targets => new(FuzzTargets.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Fuzz_EveryInputParsesOrIsRefusedWithEdgeException(string name)
    {
        var target = FuzzTargets.All.Single(t => t.Name == name);
        if (Environment.GetEnvironmentVariable("EDGE_FUZZ_TARGET") is { Length: > 0 } only && only != name) return;
        int iterations = Setting("EDGE_FUZZ_ITERATIONS", ShortIterations);
        int first = Setting("EDGE_FUZZ_FIRST", 0);
        int seconds = Setting("EDGE_FUZZ_SECONDS", 0);
        ulong baseSeed = (ulong)Setting("EDGE_FUZZ_SEED", 1);

        using var dir = new Support.TempDir();
        var seeds = target.Seeds(dir.Path);
        Assert.NotEmpty(seeds);
        string path = dir.File(target.FileName);
        foreach (var seed in seeds)   // the seeds themselves must parse, or the fuzzer explores nothing but refusals
        {
            File.WriteAllBytes(path, seed);
            target.Parse(path);
        }

        int tried = 0, accepted = 0, refused = 0;
        long mostAllocated = 0;
        double slowest = 0;
        var failures = new Dictionary<string, string>();   // kind of failure -> its first instance
        var clock = Stopwatch.StartNew();
        for (int i = first; i < first + iterations; i++)
        {
            if (seconds > 0 && clock.Elapsed.TotalSeconds >= seconds) break;
            var rng = new Rng(Mix(baseSeed, name, i));
            int s = rng.NextInt(seeds.Length);
            var (bytes, mutation) = Mutator.Mutate(ref rng, seeds[s], seeds[rng.NextInt(seeds.Length)]);
            File.WriteAllBytes(path, bytes);
            string replay = $"target {name}, iteration {i} (seed {s}: {mutation}); replay: EDGE_FUZZ_TARGET={name} EDGE_FUZZ_FIRST={i} EDGE_FUZZ_ITERATIONS=1"
                + (baseSeed != 1 ? $" EDGE_FUZZ_SEED={baseSeed}" : "");

            long allocated = 0;
            var watch = Stopwatch.StartNew();
            var run = Task.Run(() =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                try { target.Parse(path); return (Exception?)null; }
                catch (Exception e) { return e; }
                finally { allocated = GC.GetAllocatedBytesForCurrentThread() - before; }
            });
            tried++;
            if (await Task.WhenAny(run, Task.Delay(Timeout)) != run)
            {
                failures["hang"] = $"no answer after {Timeout.TotalSeconds} s: {replay}; input kept at {Keep(name, i, bytes)}";
                break;   // the parser still runs on its thread; the next input would share the file
            }
            slowest = Math.Max(slowest, watch.Elapsed.TotalMilliseconds);
            mostAllocated = Math.Max(mostAllocated, allocated);
            var error = await run;
            if (allocated > AllocationLimit)
                failures.TryAdd("allocation", $"allocated {allocated >> 20} MB for a {bytes.Length}-byte input: {replay}; input kept at {Keep(name, i, bytes)}");
            if (error is null) accepted++;
            else if (error is EdgeException e && Wellformed(e.Message, dir.Path)) refused++;
            else
            {
                string kind = error is EdgeException ? "message" : $"{error.GetType().Name} at {error.StackTrace?.Split('\n')[0].Trim()}";
                failures.TryAdd(kind, $"{error.GetType().Name}: {error.Message}\n  {replay}\n  input kept at {Keep(name, i, bytes)}\n{error.StackTrace}");
            }
        }
        output.WriteLine($"{name}: {tried} inputs tried, {accepted} accepted, {refused} refused, {failures.Count} kinds of failure; " +
            $"slowest {slowest:0} ms, most allocated {mostAllocated >> 20} MB, {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Select(f => $"[{f.Key}] {f.Value}")));
        Assert.True(tried > 0 && refused > 0, $"{name}: {tried} inputs, none refused: the mutations did not reach the parser");
    }

    /// <summary>One line, naming the file (every file of a target lies in its temporary folder).</summary>
    static bool Wellformed(string message, string folder) =>
        message.Length > 0 && !message.Contains('\n') && !message.Contains('\r') && message.Contains(folder, StringComparison.Ordinal);

    static int Setting(string name, int fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    /// <summary>A seed for iteration <paramref name="i"/> of a target, independent of every other iteration.</summary>
    static ulong Mix(ulong seed, string name, int i)
    {
        ulong h = 14695981039346656037;   // FNV-1a of the name: string.GetHashCode changes from run to run
        foreach (char c in name) h = (h ^ c) * 1099511628211;
        return seed * 0x9E3779B97F4A7C15 ^ h ^ (ulong)i * 0xD1B54A32D192ED03;
    }

    static string Keep(string target, int iteration, byte[] bytes)
    {
        string dir = Path.Combine(Path.GetTempPath(), "edge-fuzz-failures");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, $"{target}-{iteration}.bin");
        File.WriteAllBytes(file, bytes);
        return file;
    }
}
