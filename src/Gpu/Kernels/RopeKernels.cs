using ILGPU;

namespace Edge.Gpu.Kernels;

/// <summary>
/// Rotary position embeddings (Edge.Kernels.Rope): pair i of each head turns by the angle of the row's position, with the
/// host's cos and sin tables [positions, hs / 2]. One thread per (row, head, pair). Forward writes y; backward applies the
/// inverse rotation and accumulates into dx.
/// </summary>
static class RopeKernels
{
    public static void Apply(Index1D index, ArrayView<float> x, ArrayView<float> y, ArrayView<float> cos, ArrayView<float> sin,
        int t, int start, int heads, int hs, int interleaved, int backward)
    {
        int half = hs / 2, id = index;
        int pair = id % half, rest = id / half, head = rest % heads, row = rest / heads;
        int pos = start + row % t;
        long at = (long)row * heads * hs + head * hs;
        long a = at + (interleaved != 0 ? 2 * pair : pair), b = at + (interleaved != 0 ? 2 * pair + 1 : pair + half);
        float c = cos[pos * half + pair], s = sin[pos * half + pair], xa = x[a], xb = x[b];
        if (backward == 0)
        {
            y[a] = xa * c - xb * s;
            y[b] = xb * c + xa * s;
        }
        else
        {
            y[a] += xa * c + xb * s;
            y[b] += xb * c - xa * s;
        }
    }
}
