namespace Edge;

/// <summary>
/// Refuses an allocation that cannot fit before making it: the bytes a context or buffer needs against the memory the
/// machine has available (/proc/meminfo's MemAvailable where present, else what the runtime reports), so an oversized
/// batch is a one-line error with the figure instead of an out-of-memory crash halfway through a run.
/// </summary>
public static class MemoryCheck
{
    /// <summary>Throws an <see cref="EdgeException"/> naming <paramref name="what"/> when <paramref name="bytes"/> exceed the available memory.</summary>
    public static void Ensure(long bytes, string what)
    {
        long available = Available();
        if (bytes > available)
            throw new EdgeException($"{what} needs {Format(bytes)}, more than the {Format(available)} of memory available");
    }

    /// <summary>Bytes the machine can still give this process.</summary>
    public static long Available()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan(13).Trim().TrimEnd("kB").Trim(), out long kb))
                    return kb * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    public static string Format(long bytes) =>
        bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):0.0} GiB" : bytes >= 1L << 20 ? $"{bytes / (double)(1L << 20):0.0} MiB" : $"{bytes / 1024.0:0.0} KiB";
}
