using ILGPU;

namespace Edge.Gpu.Kernels;

/// <summary>
/// Token embeddings (Edge.Kernels.Embedding): y [count, dim] = table[token] (+ positions[start + k % t]). The backward's
/// scatter-add is deterministic: the host groups the pass's positions by token (every token once, its positions in order),
/// and one thread per (token, channel) adds that token's rows, so no two threads write one gradient element.
/// </summary>
static class EmbeddingKernels
{
    /// <summary>Element loop over y (as in ElementKernels); hasPositions adds positions[(start + k % t) * dim + d].</summary>
    public static void Forward(Index1D index, ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> positions, ArrayView<float> y,
        int dim, int t, int start, int hasPositions, int n, int stride)
    {
        for (int i = index; i < n; i += stride)
        {
            int k = i / dim, d = i - k * dim;
            float v = table[(long)tokens[k] * dim + d];
            if (hasPositions != 0) v += positions[(long)(start + k % t) * dim + d];
            y[i] = v;
        }
    }

    /// <summary>
    /// dtable[token u] += sum of dy rows at that token's positions. One thread per (distinct token u, channel d):
    /// distinct [u] is the token, starts [u .. u+1] its range in order [count] (the rows of dy, in order).
    /// </summary>
    public static void Backward(Index1D index, ArrayView<int> distinct, ArrayView<int> starts, ArrayView<int> order, ArrayView<float> dy,
        ArrayView<float> dtable, int dim)
    {
        int i = index, u = i / dim, d = i - u * dim;
        float sum = 0f;
        for (int j = starts[u]; j < starts[u + 1]; j++) sum += dy[(long)order[j] * dim + d];
        dtable[(long)distinct[u] * dim + d] += sum;
    }

    /// <summary>dpositions[t', d] += sum over b of dy[b, t', d]; one thread per element of the first t rows.</summary>
    public static void PositionsBackward(Index1D index, ArrayView<float> dy, ArrayView<float> dpositions, int batch, int t, int dim)
    {
        float sum = 0f;
        int i = index;
        for (int b = 0; b < batch; b++) sum += dy[(long)b * t * dim + i];
        dpositions[i] += sum;
    }
}
