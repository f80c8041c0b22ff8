namespace Edge.Kernels;

// Causal self-attention for ONE new position against a KV cache (incremental decoding).
//   q       [C]        the new position's query (heads concatenated, head h at h*hs .. (h+1)*hs)
//   keys    [P, C]     cached keys of positions 0 .. P-1 (the new position's key already appended)
//   values  [P, C]     cached values, same layout
//   y       [C]        output, heads concatenated (overwritten)
//   scores  [P]        scratch for one head's attention weights
// The same arithmetic as Attention.Forward restricted to its last row, so incremental logits match the
// full forward pass to float rounding.
public static class AttentionDecode
{
    public static void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        Span<float> y, Span<float> scores, int positions, int c, int h)
    {
        if (positions < 1) throw new ArgumentOutOfRangeException(nameof(positions));
        if (c % h != 0) throw new ArgumentException($"{h} heads do not divide {c}");
        if (q.Length < c || y.Length < c || keys.Length < positions * c || values.Length < positions * c || scores.Length < positions)
            throw new ArgumentException("attention decode: a buffer is too short for the given shape");
        int hs = c / h;
        float scale = 1f / MathF.Sqrt(hs);
        y[..c].Clear();
        for (int head = 0; head < h; head++)
        {
            var qh = q.Slice(head * hs, hs);
            var s = scores[..positions];
            float max = float.NegativeInfinity;
            for (int p = 0; p < positions; p++)
            {
                s[p] = VectorMath.Dot(qh, keys.Slice(p * c + head * hs, hs)) * scale;
                max = MathF.Max(max, s[p]);
            }
            float sum = 0;
            for (int p = 0; p < positions; p++)
            {
                s[p] = MathF.Exp(s[p] - max);
                sum += s[p];
            }
            float inv = 1f / sum;
            var yh = y.Slice(head * hs, hs);
            for (int p = 0; p < positions; p++)
                VectorMath.Axpy(s[p] * inv, values.Slice(p * c + head * hs, hs), yh);
        }
    }
}
