namespace Edge;

/// <summary>Weight initialisers that generated InitializeCore methods call, one tensor at a time.</summary>
public static class Init
{
    /// <summary>w ~ N(0, std²), drawn in order from <paramref name="rng"/>.</summary>
    public static void Normal(Span<float> w, ref Rng rng, float std)
    {
        for (int i = 0; i < w.Length; i++) w[i] = rng.NextGaussian() * std;
    }
}
