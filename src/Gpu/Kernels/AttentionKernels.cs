using ILGPU;

namespace Edge.Gpu.Kernels;

/// <summary>The shape of an attention call (see <see cref="AttentionKernels"/>).</summary>
public struct AttentionShape
{
    /// <summary>Query rows per sequence.</summary>
    public int T;
    /// <summary>The position of the first query row: query t1 sees keys 0 .. Start + t1 (0 in training; the cached positions when decoding).</summary>
    public int Start;
    /// <summary>Query heads, query heads per kv head (H / KvH), the head size.</summary>
    public int Heads, Group, Hs;
    /// <summary>Floats between rows of q, and between rows of k and v.</summary>
    public int QStride, KvStride;
    /// <summary>Rows of k and v per sequence (T in training; the cache is one sequence).</summary>
    public int KeyRows;
    /// <summary>1: write the probabilities into att [B, H, T, T] (zeros above the diagonal), as training keeps them.</summary>
    public int KeepAtt;
    /// <summary>1 / sqrt(hs).</summary>
    public float Scale;
}

/// <summary>
/// Causal (grouped-query) attention, the arithmetic of Edge.Kernels.Attention and AttentionDecode:
///   q [B, T, QStride] (head h at h * hs), k and v [B, KeyRows, KvStride] (kv head h / Group), y [B, T, H * hs];
///   att [B, H, T, T] the softmax of q . k * scale over the keys a query sees.
/// The forward runs one group per query row (b, h, t1): its scores live in shared memory (the context's length at most),
/// so an inference pass needs no T x T buffer; decoding is the same kernel over the KV cache with Start = the cached positions.
/// The backward is three passes without atomics: one group per row writes dpre = att (datt - att . datt) * scale into a
/// [B, H, T, T] scratch; then one thread per element of dq sums over the row's keys, and one per element of dk and dv
/// sums over the queries that saw that key (every query head of its group), each in a fixed order.
/// </summary>
static class AttentionKernels
{
    /// <summary>Grid B * H * T groups; dynamic shared memory: scoresLength + the group's size floats.</summary>
    public static void Forward(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> y, ArrayView<float> att,
        AttentionShape s, int scoresLength)
    {
        var shared = SharedMemory.GetDynamic<float>();
        var scores = shared.SubView(0, scoresLength);
        var scratch = shared.SubView(scoresLength, Group.DimX);
        int id = Grid.IdxX, tid = Group.IdxX, g = Group.DimX;
        int t1 = id % s.T, h = id / s.T % s.Heads, bb = id / (s.T * s.Heads);
        int len = s.Start + t1 + 1;
        long qa = ((long)bb * s.T + t1) * s.QStride + h * s.Hs;
        long kb = (long)bb * s.KeyRows * s.KvStride + h / s.Group * s.Hs;

        float max = float.NegativeInfinity;
        for (int t2 = tid; t2 < len; t2 += g)
        {
            long ka = kb + (long)t2 * s.KvStride;
            float dot = 0f;
            for (int d = 0; d < s.Hs; d++) dot += q[qa + d] * k[ka + d];
            float score = dot * s.Scale;
            scores[t2] = score;
            max = MathF.Max(max, score);
        }
        max = GroupMath.Max(max, scratch);
        float partial = 0f;
        for (int t2 = tid; t2 < len; t2 += g)
        {
            float e = MathF.Exp(scores[t2] - max);
            scores[t2] = e;
            partial += e;
        }
        float inverse = 1f / GroupMath.Sum(partial, scratch);
        long attRow = ((long)bb * s.Heads + h) * s.T * s.T + (long)t1 * s.T;
        for (int t2 = tid; t2 < len; t2 += g)
        {
            float p = scores[t2] * inverse;
            scores[t2] = p;
            if (s.KeepAtt != 0) att[attRow + t2] = p;
        }
        if (s.KeepAtt != 0)
            for (int t2 = len + tid; t2 < s.T; t2 += g) att[attRow + t2] = 0f;
        GroupMath.Barrier();

        long ya = ((long)bb * s.T + t1) * s.Heads * s.Hs + h * s.Hs;
        for (int d = tid; d < s.Hs; d += g)
        {
            float acc = 0f;
            for (int t2 = 0; t2 < len; t2++) acc += scores[t2] * v[kb + (long)t2 * s.KvStride + d];
            y[ya + d] = acc;
        }
    }

    /// <summary>
    /// Pass 1 of the backward: per row (b, h, t1), datt[t2] = dy[t1] . v[t2] and dpre[t2] = att[t2] (datt[t2] - sum att * datt) * scale
    /// for t2 &lt;= t1. Grid B * H * T groups; dynamic shared memory: T + the group's size floats.
    /// </summary>
    public static void BackwardScores(ArrayView<float> dy, ArrayView<float> v, ArrayView<float> att, ArrayView<float> dpre, AttentionShape s)
    {
        var shared = SharedMemory.GetDynamic<float>();
        var datt = shared.SubView(0, s.T);
        var scratch = shared.SubView(s.T, Group.DimX);
        int id = Grid.IdxX, tid = Group.IdxX, g = Group.DimX;
        int t1 = id % s.T, h = id / s.T % s.Heads, bb = id / (s.T * s.Heads);
        int len = t1 + 1;
        long dya = ((long)bb * s.T + t1) * s.Heads * s.Hs + h * s.Hs;
        long vb = (long)bb * s.KeyRows * s.KvStride + h / s.Group * s.Hs;
        long attRow = ((long)bb * s.Heads + h) * s.T * s.T + (long)t1 * s.T;
        float weighted = 0f;
        for (int t2 = tid; t2 < len; t2 += g)
        {
            long va = vb + (long)t2 * s.KvStride;
            float dot = 0f;
            for (int d = 0; d < s.Hs; d++) dot += dy[dya + d] * v[va + d];
            datt[t2] = dot;
            weighted += att[attRow + t2] * dot;
        }
        weighted = GroupMath.Sum(weighted, scratch);
        for (int t2 = tid; t2 < len; t2 += g)
            dpre[attRow + t2] = att[attRow + t2] * (datt[t2] - weighted) * s.Scale;
    }

    /// <summary>Pass 2: dq[b, t1, h, d] += sum over t2 &lt;= t1 of dpre[b, h, t1, t2] k[b, t2, kv head, d]. One thread per element.</summary>
    public static void BackwardQuery(Index1D index, ArrayView<float> dpre, ArrayView<float> k, ArrayView<float> dq, AttentionShape s)
    {
        int i = index;
        int d = i % s.Hs, h = i / s.Hs % s.Heads, t1 = i / (s.Hs * s.Heads) % s.T, bb = i / (s.Hs * s.Heads * s.T);
        long row = ((long)bb * s.Heads + h) * s.T * s.T + (long)t1 * s.T;
        long kb = (long)bb * s.KeyRows * s.KvStride + h / s.Group * s.Hs + d;
        float acc = 0f;
        for (int t2 = 0; t2 <= t1; t2++) acc += dpre[row + t2] * k[kb + (long)t2 * s.KvStride];
        dq[((long)bb * s.T + t1) * s.QStride + h * s.Hs + d] += acc;
    }

    /// <summary>
    /// Pass 3: for kv head g, dk[b, t2, g, d] += sum over its query heads and t1 >= t2 of dpre q[t1]; dv += the same sum of att dy[t1].
    /// One thread per element of dk (and dv).
    /// </summary>
    public static void BackwardKeyValue(Index1D index, ArrayView<float> dpre, ArrayView<float> att, ArrayView<float> q, ArrayView<float> dy,
        ArrayView<float> dk, ArrayView<float> dv, AttentionShape s)
    {
        int i = index, kvHeads = s.Heads / s.Group;
        int d = i % s.Hs, kvh = i / s.Hs % kvHeads, t2 = i / (s.Hs * kvHeads) % s.T, bb = i / (s.Hs * kvHeads * s.T);
        float dkSum = 0f, dvSum = 0f;
        for (int h = kvh * s.Group; h < (kvh + 1) * s.Group; h++)
        {
            long maps = ((long)bb * s.Heads + h) * s.T * s.T + t2;
            for (int t1 = t2; t1 < s.T; t1++)
            {
                long at = maps + (long)t1 * s.T;
                long row = (long)bb * s.T + t1;
                dkSum += dpre[at] * q[row * s.QStride + h * s.Hs + d];
                dvSum += att[at] * dy[row * s.Heads * s.Hs + h * s.Hs + d];
            }
        }
        long kv = ((long)bb * s.KeyRows + t2) * s.KvStride + kvh * s.Hs + d;
        dk[kv] += dkSum;
        dv[kv] += dvSum;
    }

    /// <summary>Decoding: the T new rows of k and v [T, stride] go to cache rows start .. start + T - 1 ([Context, width]).</summary>
    public static void AppendToCache(Index1D index, ArrayView<float> k, ArrayView<float> v, ArrayView<float> keys, ArrayView<float> values,
        int width, int stride, int start)
    {
        int i = index, r = i / width, j = i - r * width;
        long at = (long)(start + r) * width + j;
        keys[at] = k[(long)r * stride + j];
        values[at] = v[(long)r * stride + j];
    }
}
