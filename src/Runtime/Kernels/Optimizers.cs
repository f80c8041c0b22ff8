using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Optimiser steps, element-wise over one parameter tensor (flattened): w, g, m, v all [n].

/// <summary>Plain SGD with (coupled) weight decay: w -= lr * (g + weightDecay * w).</summary>
public static class Sgd
{
    public static void Update(Span<float> w, ReadOnlySpan<float> g, float lr, float weightDecay)
    {
        Check.SameLength(w.Length, g.Length, nameof(g));
        ref float rw = ref MemoryMarshal.GetReference(w);
        ref float rg = ref MemoryMarshal.GetReference(g);
        // w - lr * (g + wd * w) = w * (1 - lr * wd) - lr * g
        float keep = 1f - lr * weightDecay;
        int bits = Simd.Bits, i = 0, n = w.Length;
        if (bits >= 512) i = Update<Simd512, F512>(ref rw, ref rg, keep, -lr, i, n);
        if (bits >= 256) i = Update<Simd256, F256>(ref rw, ref rg, keep, -lr, i, n);
        if (bits >= 128) i = Update<Simd128, F128>(ref rw, ref rg, keep, -lr, i, n);
        Update<Scalar, float>(ref rw, ref rg, keep, -lr, i, n);
    }

    static int Update<S, V>(ref float w, ref float g, float keep, float minusLr, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        V vk = S.Splat(keep), vl = S.Splat(minusLr);
        for (; i + S.Count <= n; i += S.Count)
        {
            ref float wi = ref Unsafe.Add(ref w, i);
            S.Store(S.MulAdd(vl, S.Load(ref Unsafe.Add(ref g, i)), S.Mul(S.Load(ref wi), vk)), ref wi);
        }
        return i;
    }
}

/// <summary>
/// AdamW with PyTorch's semantics (decoupled weight decay, bias-corrected moments, eps outside the sqrt):
/// w *= 1 - lr * wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
/// w -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps). step counts from 1.
/// </summary>
public static class AdamW
{
    public static void Update(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float lr, float beta1, float beta2, float eps, float weightDecay, int step)
    {
        Check.SameLength(w.Length, g.Length, nameof(g));
        Check.SameLength(w.Length, m.Length, nameof(m));
        Check.SameLength(w.Length, v.Length, nameof(v));
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "AdamW steps count from 1");
        var k = new Constants
        {
            Keep = 1f - lr * weightDecay,
            B1 = beta1, OneMinusB1 = 1f - beta1,
            B2 = beta2, OneMinusB2 = 1f - beta2,
            // lr * mhat / (sqrt(vhat) + eps) = (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
            StepSize = (float)(lr / (1 - Math.Pow(beta1, step))),
            InvSqrtBc2 = (float)(1 / Math.Sqrt(1 - Math.Pow(beta2, step))),
            Eps = eps,
        };
        unsafe
        {
            fixed (float* pw = w, pg = g, pm = m, pv = v)
            {
                // Elementwise and bound by memory (7 floats read or written per element): parts of at least 4K elements.
                var work = new UpdateWork { W = pw, G = pg, M = pm, V = pv, K = k, Bits = Simd.Bits };
                work.Chunks = Parallelism.Elements(w.Length, 8, out int parts);
                WorkerPool.For(ref work, parts);
            }
        }
    }

    struct Constants
    {
        public float Keep, B1, OneMinusB1, B2, OneMinusB2, StepSize, InvSqrtBc2, Eps;
    }

    unsafe struct UpdateWork : IPartitionedWork
    {
        public float* W, G, M, V;
        public Constants K;
        public int Bits;
        public Split Chunks;

        public void Run(int part, int worker)
        {
            int s = Chunks.Start(part), n = Chunks.End(part) - s;
            if (n <= 0) return;
            ref float rw = ref W[s];
            ref float rg = ref G[s];
            ref float rm = ref M[s];
            ref float rv = ref V[s];
            int bits = Bits, i = 0;
            if (bits >= 512) i = Update<Simd512, F512>(ref rw, ref rg, ref rm, ref rv, in K, i, n);
            if (bits >= 256) i = Update<Simd256, F256>(ref rw, ref rg, ref rm, ref rv, in K, i, n);
            if (bits >= 128) i = Update<Simd128, F128>(ref rw, ref rg, ref rm, ref rv, in K, i, n);
            Update<Scalar, float>(ref rw, ref rg, ref rm, ref rv, in K, i, n);
        }
    }

    static int Update<S, V>(ref float w, ref float g, ref float m, ref float v, in Constants k, int i, int n)
        where S : struct, ISimd<V> where V : struct
    {
        V keep = S.Splat(k.Keep), b1 = S.Splat(k.B1), c1 = S.Splat(k.OneMinusB1), b2 = S.Splat(k.B2), c2 = S.Splat(k.OneMinusB2);
        V stepSize = S.Splat(k.StepSize), invSqrtBc2 = S.Splat(k.InvSqrtBc2), eps = S.Splat(k.Eps);
        for (; i + S.Count <= n; i += S.Count)
        {
            ref float wi = ref Unsafe.Add(ref w, i);
            ref float mi = ref Unsafe.Add(ref m, i);
            ref float vi = ref Unsafe.Add(ref v, i);
            V gi = S.Load(ref Unsafe.Add(ref g, i));
            V mNew = S.MulAdd(b1, S.Load(ref mi), S.Mul(c1, gi));
            V vNew = S.MulAdd(b2, S.Load(ref vi), S.Mul(c2, S.Mul(gi, gi)));
            V denom = S.MulAdd(S.Sqrt(vNew), invSqrtBc2, eps);
            S.Store(mNew, ref mi);
            S.Store(vNew, ref vi);
            S.Store(S.Sub(S.Mul(S.Load(ref wi), keep), S.Div(S.Mul(stepSize, mNew), denom)), ref wi);
        }
        return i;
    }
}

/// <summary>Squared L2 norm of a gradient tensor, summed over tensors for global-norm clipping.</summary>
public static class GradientNorm
{
    /// <summary>
    /// sum_i g[i]^2, in double across blocks of 4096 (each block's float partial sum is accurate to about 1e-6) so
    /// that million-element tensors keep their precision. Blocks are summed on the worker pool into a per-call buffer and
    /// added in order, so the result does not depend on the thread count.
    /// </summary>
    public static unsafe double SumOfSquares(ReadOnlySpan<float> g)
    {
        int blocks = (g.Length + Block - 1) / Block;
        var partial = t_partial is { } p && p.Length >= blocks ? p : t_partial = new double[Math.Max(blocks, 64)];
        fixed (float* pg = g)
        fixed (double* pp = partial)
        {
            int parts = Parallelism.Parts(2L * g.Length, blocks);
            var work = new Work { G = pg, Length = g.Length, Partial = pp, Bits = Simd.Bits, Blocks = new Split(blocks, parts, 1) };
            WorkerPool.For(ref work, Math.Min(parts, work.Blocks.Parts));
        }
        double total = 0;
        for (int b = 0; b < blocks; b++) total += partial[b];
        return total;
    }

    const int Block = 4096;

    [ThreadStatic] static double[]? t_partial;

    unsafe struct Work : IPartitionedWork
    {
        public float* G;
        public double* Partial;
        public int Length, Bits;
        public Split Blocks;

        public void Run(int part, int worker)
        {
            for (int b = Blocks.Start(part), e = Blocks.End(part); b < e; b++)
            {
                ref float block = ref G[(nint)b * Block];
                Partial[b] = VectorMath.Dot(Bits, ref block, ref block, Math.Min(Block, Length - b * Block));
            }
        }
    }
}
