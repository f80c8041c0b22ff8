using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using F512 = System.Runtime.Intrinsics.Vector512<float>;
using F256 = System.Runtime.Intrinsics.Vector256<float>;
using F128 = System.Runtime.Intrinsics.Vector128<float>;

namespace Edge.Kernels;

// Level-1 operations on vectors of length n: x, y [n].
// The public methods check lengths and read Simd.Bits; the internal (bits, ref, n) overloads are what the
// other kernels call once per row, so that a kernel reads Simd.Bits once per call.
// Reductions keep four vector accumulators: it hides the add latency and makes float sums slightly more
// accurate than one running total.
public static class VectorMath
{
    /// <summary>sum_i x[i] * y[i].</summary>
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        return Dot(Simd.Bits, ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y), x.Length);
    }

    /// <summary>y += a * x.</summary>
    public static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        Axpy(Simd.Bits, a, ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y), x.Length);
    }

    /// <summary>x *= a.</summary>
    public static void Scale(float a, Span<float> x) => Scale(Simd.Bits, a, ref MemoryMarshal.GetReference(x), x.Length);

    /// <summary>y += x.</summary>
    public static void Add(ReadOnlySpan<float> x, Span<float> y)
    {
        Check.SameLength(x.Length, y.Length, nameof(y));
        Add(Simd.Bits, ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y), x.Length);
    }

    /// <summary>
    /// y[i] = a[i] + b[i] for i &lt; count (a residual connection). The spans may be longer than count (buffers
    /// sized for the largest batch); nothing past count is read or written. y may be a or b.
    /// </summary>
    public static void AddTo(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int count)
    {
        Check.AtLeast(a.Length, count, nameof(a));
        Check.AtLeast(b.Length, count, nameof(b));
        Check.AtLeast(y.Length, count, nameof(y));
        AddTo(Simd.Bits, ref MemoryMarshal.GetReference(a), ref MemoryMarshal.GetReference(b), ref MemoryMarshal.GetReference(y), count);
    }

    /// <summary>sum_i x[i] (0 for an empty span).</summary>
    public static float Sum(ReadOnlySpan<float> x) => Sum(Simd.Bits, ref MemoryMarshal.GetReference(x), x.Length);

    /// <summary>max_i x[i] (-infinity for an empty span; NaN if any element is NaN).</summary>
    public static float Max(ReadOnlySpan<float> x) => Max(Simd.Bits, ref MemoryMarshal.GetReference(x), x.Length);

    /// <summary>x = 0; a long span (a step's activation or weight gradients: megabytes) is cleared in parts on the worker pool.</summary>
    public static unsafe void Zero(Span<float> x)
    {
        var chunks = Parallelism.Elements(x.Length, 1, out int parts);
        if (parts <= 1)
        {
            x.Clear();
            return;
        }
        fixed (float* p = x)
        {
            var work = new ZeroWork { X = p, Chunks = chunks };
            WorkerPool.For(ref work, parts);
        }
    }

    unsafe struct ZeroWork : IPartitionedWork
    {
        public float* X;
        public Split Chunks;

        public void Run(int part, int worker)
        {
            int s = Chunks.Start(part), e = Chunks.End(part);
            if (s < e) new Span<float>(X + s, e - s).Clear();
        }
    }

    internal static float Dot(int bits, ref float x, ref float y, int n)
    {
        int i = 0;
        float s = 0f;
        if (bits >= 512) s += Dot<Simd512, F512>(ref x, ref y, ref i, n);
        if (bits >= 256) s += Dot<Simd256, F256>(ref x, ref y, ref i, n);
        if (bits >= 128) s += Dot<Simd128, F128>(ref x, ref y, ref i, n);
        return s + Dot<Scalar, float>(ref x, ref y, ref i, n);
    }

    static float Dot<S, V>(ref float x, ref float y, ref int i, int n) where S : struct, ISimd<V> where V : struct
    {
        int c = S.Count;
        if (i + c > n) return 0f;
        V a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero;
        for (; i + 4 * c <= n; i += 4 * c)
        {
            a0 = S.MulAdd(S.Load(ref Unsafe.Add(ref x, i)), S.Load(ref Unsafe.Add(ref y, i)), a0);
            a1 = S.MulAdd(S.Load(ref Unsafe.Add(ref x, i + c)), S.Load(ref Unsafe.Add(ref y, i + c)), a1);
            a2 = S.MulAdd(S.Load(ref Unsafe.Add(ref x, i + 2 * c)), S.Load(ref Unsafe.Add(ref y, i + 2 * c)), a2);
            a3 = S.MulAdd(S.Load(ref Unsafe.Add(ref x, i + 3 * c)), S.Load(ref Unsafe.Add(ref y, i + 3 * c)), a3);
        }
        for (; i + c <= n; i += c)
            a0 = S.MulAdd(S.Load(ref Unsafe.Add(ref x, i)), S.Load(ref Unsafe.Add(ref y, i)), a0);
        return S.Sum(S.Add(S.Add(a0, a1), S.Add(a2, a3)));
    }

    internal static float Sum(int bits, ref float x, int n)
    {
        int i = 0;
        float s = 0f;
        if (bits >= 512) s += Sum<Simd512, F512>(ref x, ref i, n);
        if (bits >= 256) s += Sum<Simd256, F256>(ref x, ref i, n);
        if (bits >= 128) s += Sum<Simd128, F128>(ref x, ref i, n);
        return s + Sum<Scalar, float>(ref x, ref i, n);
    }

    static float Sum<S, V>(ref float x, ref int i, int n) where S : struct, ISimd<V> where V : struct
    {
        int c = S.Count;
        if (i + c > n) return 0f;
        V a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero;
        for (; i + 4 * c <= n; i += 4 * c)
        {
            a0 = S.Add(a0, S.Load(ref Unsafe.Add(ref x, i)));
            a1 = S.Add(a1, S.Load(ref Unsafe.Add(ref x, i + c)));
            a2 = S.Add(a2, S.Load(ref Unsafe.Add(ref x, i + 2 * c)));
            a3 = S.Add(a3, S.Load(ref Unsafe.Add(ref x, i + 3 * c)));
        }
        for (; i + c <= n; i += c)
            a0 = S.Add(a0, S.Load(ref Unsafe.Add(ref x, i)));
        return S.Sum(S.Add(S.Add(a0, a1), S.Add(a2, a3)));
    }

    internal static float Max(int bits, ref float x, int n)
    {
        int i = 0;
        float m = float.NegativeInfinity;
        if (bits >= 512) m = MathF.Max(m, Max<Simd512, F512>(ref x, ref i, n));
        if (bits >= 256) m = MathF.Max(m, Max<Simd256, F256>(ref x, ref i, n));
        if (bits >= 128) m = MathF.Max(m, Max<Simd128, F128>(ref x, ref i, n));
        return MathF.Max(m, Max<Scalar, float>(ref x, ref i, n));
    }

    static float Max<S, V>(ref float x, ref int i, int n) where S : struct, ISimd<V> where V : struct
    {
        int c = S.Count;
        if (i + c > n) return float.NegativeInfinity;
        V a0 = S.Splat(float.NegativeInfinity), a1 = a0, a2 = a0, a3 = a0;
        for (; i + 4 * c <= n; i += 4 * c)
        {
            a0 = S.Max(a0, S.Load(ref Unsafe.Add(ref x, i)));
            a1 = S.Max(a1, S.Load(ref Unsafe.Add(ref x, i + c)));
            a2 = S.Max(a2, S.Load(ref Unsafe.Add(ref x, i + 2 * c)));
            a3 = S.Max(a3, S.Load(ref Unsafe.Add(ref x, i + 3 * c)));
        }
        for (; i + c <= n; i += c)
            a0 = S.Max(a0, S.Load(ref Unsafe.Add(ref x, i)));
        return S.MaxAcross(S.Max(S.Max(a0, a1), S.Max(a2, a3)));
    }

    internal static void Axpy(int bits, float a, ref float x, ref float y, int n)
    {
        int i = 0;
        if (bits >= 512) i = Axpy<Simd512, F512>(a, ref x, ref y, i, n);
        if (bits >= 256) i = Axpy<Simd256, F256>(a, ref x, ref y, i, n);
        if (bits >= 128) i = Axpy<Simd128, F128>(a, ref x, ref y, i, n);
        Axpy<Scalar, float>(a, ref x, ref y, i, n);
    }

    static int Axpy<S, V>(float a, ref float x, ref float y, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        V va = S.Splat(a);
        for (; i + S.Count <= n; i += S.Count)
        {
            ref float yi = ref Unsafe.Add(ref y, i);
            S.Store(S.MulAdd(va, S.Load(ref Unsafe.Add(ref x, i)), S.Load(ref yi)), ref yi);
        }
        return i;
    }

    internal static void Add(int bits, ref float x, ref float y, int n)
    {
        int i = 0;
        if (bits >= 512) i = Add<Simd512, F512>(ref x, ref y, i, n);
        if (bits >= 256) i = Add<Simd256, F256>(ref x, ref y, i, n);
        if (bits >= 128) i = Add<Simd128, F128>(ref x, ref y, i, n);
        Add<Scalar, float>(ref x, ref y, i, n);
    }

    static int Add<S, V>(ref float x, ref float y, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        for (; i + S.Count <= n; i += S.Count)
        {
            ref float yi = ref Unsafe.Add(ref y, i);
            S.Store(S.Add(S.Load(ref yi), S.Load(ref Unsafe.Add(ref x, i))), ref yi);
        }
        return i;
    }

    internal static void AddTo(int bits, ref float a, ref float b, ref float y, int n)
    {
        int i = 0;
        if (bits >= 512) i = AddTo<Simd512, F512>(ref a, ref b, ref y, i, n);
        if (bits >= 256) i = AddTo<Simd256, F256>(ref a, ref b, ref y, i, n);
        if (bits >= 128) i = AddTo<Simd128, F128>(ref a, ref b, ref y, i, n);
        AddTo<Scalar, float>(ref a, ref b, ref y, i, n);
    }

    static int AddTo<S, V>(ref float a, ref float b, ref float y, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        for (; i + S.Count <= n; i += S.Count)
            S.Store(S.Add(S.Load(ref Unsafe.Add(ref a, i)), S.Load(ref Unsafe.Add(ref b, i))), ref Unsafe.Add(ref y, i));
        return i;
    }

    internal static void Scale(int bits, float a, ref float x, int n)
    {
        int i = 0;
        if (bits >= 512) i = Scale<Simd512, F512>(a, ref x, i, n);
        if (bits >= 256) i = Scale<Simd256, F256>(a, ref x, i, n);
        if (bits >= 128) i = Scale<Simd128, F128>(a, ref x, i, n);
        Scale<Scalar, float>(a, ref x, i, n);
    }

    static int Scale<S, V>(float a, ref float x, int i, int n) where S : struct, ISimd<V> where V : struct
    {
        V va = S.Splat(a);
        for (; i + S.Count <= n; i += S.Count)
        {
            ref float xi = ref Unsafe.Add(ref x, i);
            S.Store(S.Mul(S.Load(ref xi), va), ref xi);
        }
        return i;
    }
}
