using System.Collections.Concurrent;
using Edge.Kernels;
using Xunit;

namespace Edge.Tests.Kernels;

/// <summary>
/// The worker team on its own: every part runs exactly once, on the caller or a worker, whatever the number of
/// parts, callers and nesting. Teams here have three workers (more than a two-core machine has spare cores), so
/// workers race each other as well as the caller.
/// </summary>
public unsafe class WorkerPoolTests
{
    // Counts[part] += 1; MaxWorker = the largest worker index seen; Spin = busy work per part.
    struct CountParts : IPartitionedWork
    {
        public int* Counts, MaxWorker;
        public int Spin;

        public void Run(int part, int worker)
        {
            if (Spin > 0) Thread.SpinWait(Spin);
            Interlocked.Increment(ref Counts[part]);
            int seen;
            while ((seen = Volatile.Read(ref *MaxWorker)) < worker && Interlocked.CompareExchange(ref *MaxWorker, worker, seen) != seen) { }
        }
    }

    [Fact]
    public void EveryPartRunsExactlyOnce()
    {
        using var team = new WorkerTeam(3);
        var counts = new int[64];
        int maxWorker = 0;
        fixed (int* pc = counts)
            foreach (int parts in new[] { 2, 3, 4, 7, 64 })
                for (int round = 0; round < 2000; round++)
                {
                    Array.Clear(counts);
                    var work = new CountParts { Counts = pc, MaxWorker = &maxWorker };
                    team.For(ref work, parts);
                    for (int p = 0; p < counts.Length; p++)
                        Assert.True(counts[p] == (p < parts ? 1 : 0), $"parts={parts} round={round}: part {p} ran {counts[p]} times");
                }
        Assert.InRange(maxWorker, 0, team.Workers);
    }

    [Fact]
    public void WorkersTakeParts()
    {
        using var team = new WorkerTeam(3);
        var counts = new int[16];
        int maxWorker = 0;
        fixed (int* pc = counts)
            // Parts long enough that a worker wakes before the caller has done them all; a busy machine may take a few tries.
            for (int round = 0; round < 200 && maxWorker == 0; round++)
            {
                var work = new CountParts { Counts = pc, MaxWorker = &maxWorker, Spin = 20_000 };
                team.For(ref work, counts.Length);
            }
        Assert.True(maxWorker >= 1, "no part ever ran on a worker");
    }

    static WorkerTeam? s_nestedTeam;

    // Each outer part runs an inner call of 4 parts on the same team: Counts[outer * 4 + inner].
    struct Nested : IPartitionedWork
    {
        public int* Counts, MaxWorker;

        public void Run(int part, int worker)
        {
            var inner = new CountParts { Counts = Counts + part * 4, MaxWorker = MaxWorker };
            s_nestedTeam!.For(ref inner, 4);
        }
    }

    [Fact]
    public void NestedCallsRunInline()
    {
        using var team = s_nestedTeam = new WorkerTeam(3);
        var counts = new int[8 * 4];
        int maxWorker = 0;
        fixed (int* pc = counts)
            for (int round = 0; round < 500; round++)
            {
                Array.Clear(counts);
                var work = new Nested { Counts = pc, MaxWorker = &maxWorker };
                team.For(ref work, 8);
                Assert.All(counts, c => Assert.Equal(1, c));
            }
    }

    struct Throws : IPartitionedWork
    {
        public int Bad;

        public void Run(int part, int worker)
        {
            if (part == Bad) throw new InvalidOperationException($"part {part}");
        }
    }

    [Fact]
    public void AnExceptionInAPartReachesTheCaller_AndTheTeamStaysUsable()
    {
        using var team = new WorkerTeam(3);
        for (int bad = 0; bad < 4; bad++)
        {
            var work = new Throws { Bad = bad };
            var e = Assert.Throws<InvalidOperationException>(() => team.For(ref work, 4));
            Assert.Equal($"part {bad}", e.Message);
        }
        var counts = new int[5];
        int maxWorker = 0;
        fixed (int* pc = counts)
        {
            var ok = new CountParts { Counts = pc, MaxWorker = &maxWorker };
            team.For(ref ok, 5);
        }
        Assert.All(counts, c => Assert.Equal(1, c));
    }

    [Fact]
    public void ConcurrentCallersEachGetAllTheirParts()
    {
        using var team = new WorkerTeam(3);
        var failures = new ConcurrentQueue<string>();
        var callers = new Thread[4];
        for (int i = 0; i < callers.Length; i++)
        {
            int caller = i;
            callers[i] = new Thread(() =>
            {
                var counts = new int[6];
                int maxWorker = 0;
                fixed (int* pc = counts)
                    for (int round = 0; round < 3000; round++)
                    {
                        Array.Clear(counts);
                        var work = new CountParts { Counts = pc, MaxWorker = &maxWorker };
                        team.For(ref work, counts.Length);
                        if (counts.Any(c => c != 1))
                            failures.Enqueue($"caller {caller} round {round}: {string.Join(",", counts)}");
                    }
            });
            callers[i].Start();
        }
        foreach (var c in callers) c.Join();
        Assert.Empty(failures);
    }

    [Fact]
    public void WorkersThatSleptWakeForTheNextCall()
    {
        using var team = new WorkerTeam(3);
        var counts = new int[4];
        int maxWorker = 0;
        fixed (int* pc = counts)
            for (int round = 0; round < 5; round++)
            {
                Thread.Sleep(5); // longer than the idle spin: the workers block
                Array.Clear(counts);
                var work = new CountParts { Counts = pc, MaxWorker = &maxWorker, Spin = 1000 };
                team.For(ref work, counts.Length);
                Assert.All(counts, c => Assert.Equal(1, c));
            }
    }

    [Theory]
    [InlineData(0, 3, 4)]
    [InlineData(1, 4, 4)]
    [InlineData(67, 4, 4)]
    [InlineData(64, 3, 4)]
    [InlineData(1000, 3, 16)]
    [InlineData(9, 4, 1)]
    public void Split_CoversTheRangeInAlignedChunks(int total, int parts, int align)
    {
        var split = new Split(total, parts, align);
        Assert.InRange(split.Parts, 0, parts);
        int next = 0;
        for (int p = 0; p < parts; p++)
        {
            int s = split.Start(p), e = split.End(p);
            Assert.Equal(next, s);
            Assert.True(s % align == 0 || s == total, $"chunk {p} starts at {s}");
            Assert.True(e >= s);
            next = e;
        }
        Assert.Equal(total, next);
    }
}
