using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Edge.Kernels;

/// <summary>
/// How many threads the heavy kernels (Linear, LinearRows, Attention) split a call across. Every output element
/// is computed by one thread with the same operations in the same order whatever the count, so results are
/// bit-identical for any value; 1 runs everything on the calling thread.
/// </summary>
public static class Parallelism
{
    static int _threads = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Threads per kernel call: by default the machine's processor count; 1 = single-threaded.</summary>
    public static int Threads
    {
        get => Volatile.Read(ref _threads);
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, "threads must be at least 1");
            Volatile.Write(ref _threads, value);
        }
    }

    /// <summary>
    /// The least work (in multiply-adds, or comparable steps) worth a part of its own: about 1.5 microseconds on
    /// one AVX2 core. Two such parts already run 1.2x faster than one on a spinning worker (Linear 8 x 64 x 128);
    /// smaller calls run inline. Parts are one per thread: more, smaller ones measured no faster.
    /// </summary>
    internal const long MinWorkPerPart = 32 * 1024;

    /// <summary>
    /// An elementwise call over <paramref name="n"/> elements (each about <paramref name="workPerElement"/> multiply-adds)
    /// cut into parts at multiples of 64 elements, so every element gets the vector width it would get in one call;
    /// <paramref name="parts"/> is how many parts to run.
    /// </summary>
    internal static Split Elements(int n, long workPerElement, out int parts)
    {
        parts = Parts(workPerElement * n, (n + 63) / 64);
        var split = new Split(n, parts, 64);
        parts = Math.Min(parts, split.Parts);
        return split;
    }

    /// <summary>How many parts to cut <paramref name="work"/> into: at most Threads and <paramref name="maxParts"/>, at least 1.</summary>
    internal static int Parts(long work, int maxParts)
    {
        int threads = Threads;
        if (threads <= 1 || maxParts <= 1) return 1;
        long byWork = work / MinWorkPerPart;
        return (int)Math.Max(1, Math.Min(byWork, Math.Min(threads, maxParts)));
    }
}

/// <summary>A call cut into parts: <see cref="Run"/> is called once for every part, on some thread.</summary>
internal interface IPartitionedWork
{
    /// <summary>
    /// Does part <paramref name="part"/>. <paramref name="worker"/> is 0 on the calling thread (and for every part
    /// of a call that runs inline) and 1.. on pool threads, so a part can tell whether it may use the caller's scratch.
    /// </summary>
    void Run(int part, int worker);
}

/// <summary>[0, Total) in contiguous chunks of Size (a multiple of an alignment), one per part.</summary>
internal readonly struct Split
{
    public readonly int Total, Size;

    public Split(int total, int parts, int align)
    {
        Total = total;
        int per = (int)(((long)total + parts - 1) / Math.Max(parts, 1));
        Size = Math.Max(align, (per + align - 1) / align * align);
    }

    /// <summary>Non-empty chunks: can be fewer than asked for when the alignment rounds the size up.</summary>
    public int Parts => (int)(((long)Total + Size - 1) / Size);
    public int Start(int part) => (int)Math.Min(Total, (long)part * Size);
    public int End(int part) => (int)Math.Min(Total, ((long)part + 1) * Size);
}

/// <summary>The process's worker team, started on first use with one thread per processor beside the caller.</summary>
internal static class WorkerPool
{
    static WorkerTeam? _team;
    static readonly object StartLock = new();

    /// <summary>Runs work.Run(part, worker) for every part in [0, parts), on the pool and the calling thread; returns when all are done.</summary>
    public static void For<TWork>(ref TWork work, int parts) where TWork : unmanaged, IPartitionedWork
    {
        if (parts <= 1)
        {
            if (parts == 1) work.Run(0, 0);
            return;
        }
        (Volatile.Read(ref _team) ?? Start()).For(ref work, parts);
    }

    static WorkerTeam Start()
    {
        lock (StartLock)
        {
            var team = _team ?? new WorkerTeam(Environment.ProcessorCount - 1);
            Volatile.Write(ref _team, team);
            return team;
        }
    }

    [ThreadStatic] static float[]? t_scratch;

    /// <summary>
    /// At least <paramref name="length"/> floats owned by the current thread: per-part scratch on pool threads
    /// (worker != 0), grown there, so the calling thread never allocates.
    /// </summary>
    public static Span<float> ThreadScratch(int length)
    {
        var s = t_scratch;
        if (s is null || s.Length < length) t_scratch = s = new float[Math.Max(length, 256)];
        return s;
    }
}

/// <summary>
/// Background threads that share out the parts of one call at a time. A call publishes its work and the part
/// count, wakes sleeping workers, then claims parts itself until none are left and waits for the rest to finish.
/// Idle workers spin for a short while (calls come in bursts: one per layer) before they block.
/// One call at a time: a call made while the team is busy (from another thread, or nested inside a part) runs
/// all its parts inline on its own thread, so there is neither deadlock nor waiting on another caller.
/// Nothing here allocates per call.
/// </summary>
internal sealed unsafe class WorkerTeam : IDisposable
{
    // How long an idle worker polls for the next call before blocking (about 100 microseconds).
    static readonly long SpinTicks = Math.Max(1, Stopwatch.Frequency / 10_000);

    readonly Thread[] _threads;
    readonly SemaphoreSlim _wake = new(0);

    // Generation (high 32 bits) | parts not yet claimed (low 32 bits). Claiming a part is one CAS on this, so a
    // successful claim also proves the call it belongs to is still open: a worker that wakes late can never run a
    // part of the next call with the previous call's work pointer.
    long _state;
    int _done, _busy, _sleepers;
    volatile bool _stopping;
    void* _work;
    delegate*<void*, int, int, void> _invoke;
    Exception? _error;

    public WorkerTeam(int workers)
    {
        _threads = new Thread[Math.Max(0, workers)];
        for (int i = 0; i < _threads.Length; i++)
        {
            int worker = i + 1;
            _threads[i] = new Thread(() => Work(worker)) { IsBackground = true, Name = $"Edge worker {worker}" };
            _threads[i].Start();
        }
    }

    public int Workers => _threads.Length;

    public void For<TWork>(ref TWork work, int parts) where TWork : unmanaged, IPartitionedWork
    {
        if (parts <= 1 || _threads.Length == 0 || _stopping || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int p = 0; p < parts; p++) work.Run(p, 0);
            return;
        }
        Exception? error;
        try
        {
            fixed (TWork* pw = &work)
            {
                _work = pw;
                _invoke = &Invoke<TWork>;
                _done = 0;
                _error = null;
                uint gen = Generation(Volatile.Read(ref _state)) + 1;
                Interlocked.Exchange(ref _state, ((long)gen << 32) | (uint)parts);
                Wake(Math.Min(parts - 1, _threads.Length));
                Claim(gen, 0);
                if (Volatile.Read(ref _done) < parts)
                {
                    var spin = new SpinWait();
                    while (Volatile.Read(ref _done) < parts) spin.SpinOnce(sleep1Threshold: -1);
                }
                _work = null;
                _invoke = null;
                error = _error;
                _error = null;
            }
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
        if (error is not null) ExceptionDispatchInfo.Throw(error);
    }

    static void Invoke<TWork>(void* work, int part, int worker) where TWork : unmanaged, IPartitionedWork =>
        ((TWork*)work)->Run(part, worker);

    static uint Generation(long state) => (uint)((ulong)state >> 32);

    /// <summary>Runs parts of call <paramref name="gen"/> until none are left to claim (or another call has begun).</summary>
    void Claim(uint gen, int worker)
    {
        while (true)
        {
            long s = Volatile.Read(ref _state);
            uint left = (uint)s;
            if (left == 0 || Generation(s) != gen) return;
            void* work = _work;
            var invoke = _invoke;
            if (Interlocked.CompareExchange(ref _state, s - 1, s) != s) continue;
            try
            {
                invoke(work, (int)left - 1, worker);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }
            Interlocked.Increment(ref _done);
        }
    }

    void Work(int worker)
    {
        uint seen = 0;
        while (true)
        {
            long s = WaitForCall(seen);
            if (_stopping) return;
            seen = Generation(s);
            Claim(seen, worker);
        }
    }

    /// <summary>Spins, then blocks, until a call newer than <paramref name="seen"/> is published; returns the state.</summary>
    long WaitForCall(uint seen)
    {
        long deadline = Stopwatch.GetTimestamp() + SpinTicks;
        while (true)
        {
            long s = Volatile.Read(ref _state);
            if (Generation(s) != seen || _stopping) return s;
            if (Stopwatch.GetTimestamp() < deadline)
            {
                Thread.SpinWait(8);
                continue;
            }
            // Register as a sleeper, then look again. The caller publishes, then reads _sleepers; both sides are full
            // fences, so either the caller sees this worker (and releases the semaphore for it) or this worker sees the call.
            Interlocked.Increment(ref _sleepers);
            s = Volatile.Read(ref _state);
            if (Generation(s) != seen || _stopping)
            {
                // Taken off the count by a caller already: its release is ours, consume it to keep the count balanced.
                if (!TryUnregister()) _wake.Wait();
                return s;
            }
            _wake.Wait();
            deadline = Stopwatch.GetTimestamp() + SpinTicks;
        }
    }

    bool TryUnregister()
    {
        while (true)
        {
            int n = Volatile.Read(ref _sleepers);
            if (n == 0) return false;
            if (Interlocked.CompareExchange(ref _sleepers, n - 1, n) == n) return true;
        }
    }

    /// <summary>Releases up to <paramref name="wanted"/> sleeping workers (spinning ones see the call by themselves).</summary>
    void Wake(int wanted)
    {
        while (true)
        {
            int sleepers = Volatile.Read(ref _sleepers);
            if (sleepers == 0) return;
            int take = Math.Min(sleepers, wanted);
            if (Interlocked.CompareExchange(ref _sleepers, sleepers - take, sleepers) == sleepers)
            {
                _wake.Release(take);
                return;
            }
        }
    }

    /// <summary>Stops the threads (tests build their own teams); the process's team lives as long as the process.</summary>
    public void Dispose()
    {
        _stopping = true;
        int sleepers = Interlocked.Exchange(ref _sleepers, 0);
        if (sleepers > 0) _wake.Release(sleepers);
        foreach (var t in _threads) t.Join();
    }
}
