using ILGPU;

namespace Edge.Gpu.Kernels;

/// <summary>
/// Softmax cross-entropy over logits [n, V] (Edge.Kernels.SoftmaxCrossEntropy): one group per row. A target of -1
/// (SoftmaxCrossEntropy.IgnoredTarget) is not scored: no loss, no gradient.
/// </summary>
static class LossKernels
{
    /// <summary>probs = softmax(logits row); losses[row] = -log probs[target] as (logit_t - max) - log(sum), or 0 when ignored.</summary>
    public static void Forward(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> probs, ArrayView<float> losses, int vocab)
    {
        var scratch = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, t = Group.IdxX, g = Group.DimX;
        long at = (long)row * vocab;
        float max = float.NegativeInfinity;
        for (int i = t; i < vocab; i += g) max = MathF.Max(max, logits[at + i]);
        max = GroupMath.Max(max, scratch);
        float s = 0f;
        for (int i = t; i < vocab; i += g)
        {
            float e = MathF.Exp(logits[at + i] - max);
            probs[at + i] = e;
            s += e;
        }
        float sum = GroupMath.Sum(s, scratch);
        float inverse = 1f / sum;
        for (int i = t; i < vocab; i += g) probs[at + i] *= inverse;
        if (t == 0)
        {
            int target = targets[row];
            losses[row] = target < 0 ? 0f : -((logits[at + target] - max) - MathF.Log(sum));
        }
    }

    /// <summary>dlogits[r, j] += scale * (probs[r, j] - (j == target ? 1 : 0)) for scored rows (element loop as in ElementKernels).</summary>
    public static void Backward(Index1D index, ArrayView<float> probs, ArrayView<int> targets, ArrayView<float> dlogits, int vocab, float scale, int n, int stride)
    {
        for (int i = index; i < n; i += stride)
        {
            int row = i / vocab, j = i - row * vocab;
            int target = targets[row];
            if (target < 0) continue;
            dlogits[i] += scale * (probs[i] - (j == target ? 1f : 0f));
        }
    }
}
