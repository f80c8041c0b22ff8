namespace Edge.Diagnostics;

/// <summary>
/// Kernel output against its reference: null when it agrees, else a line naming the first element that does not
/// (what the self-check reports, and what the tests fail with).
/// </summary>
internal static class Compare
{
    /// <summary>Every element within <paramref name="abs"/> + <paramref name="rel"/> |expected| (or exactly equal: infinities).</summary>
    public static string? Close(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, string what, double rel, double abs)
    {
        if (expected.Length != actual.Length) return $"{what}: length {actual.Length}, expected {expected.Length}";
        for (int i = 0; i < expected.Length; i++)
            if (Close(expected[i], actual[i], $"{what}[{i}]", rel, abs) is { } mismatch) return mismatch;
        return null;
    }

    public static string? Close(double expected, double actual, string what, double rel, double abs)
    {
        double diff = Math.Abs(actual - expected);
        if (!(diff <= abs + rel * Math.Abs(expected)) && !(expected == actual))
            return $"{what}: expected {expected:R}, got {actual:R} (|diff| {diff:G3})";
        return null;
    }

    /// <summary>The same float bit patterns (NaN payloads and the sign of zero included).</summary>
    public static string? BitIdentical(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        if (expected.Length != actual.Length) return $"{what}: length {actual.Length}, expected {expected.Length}";
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                return $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}";
        return null;
    }
}
