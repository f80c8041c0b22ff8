using Edge.Kernels;
using Edge.Quantization;

namespace Edge.Diagnostics;

/// <summary>
/// Obviously-correct versions of every kernel: nested loops, double arithmetic, the formula as written.
/// Gradient references take the gradient's starting value and return it plus the contribution, because the
/// kernels accumulate. The tests compare every kernel path with these, and so does <see cref="KernelSelfCheck"/>
/// (`edge doctor`) on the machine it runs on.
/// </summary>
internal static class ScalarReference
{
    public static double Dot(float[] x, float[] y)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += (double)x[i] * y[i];
        return s;
    }

    public static double[] Axpy(float a, float[] x, float[] y)
    {
        var r = new double[y.Length];
        for (int i = 0; i < y.Length; i++) r[i] = y[i] + (double)a * x[i];
        return r;
    }

    public static double[] Scale(float a, float[] x)
    {
        var r = new double[x.Length];
        for (int i = 0; i < x.Length; i++) r[i] = (double)a * x[i];
        return r;
    }

    public static double[] Add(float[] x, float[] y)
    {
        var r = new double[y.Length];
        for (int i = 0; i < y.Length; i++) r[i] = (double)y[i] + x[i];
        return r;
    }

    public static double Sum(float[] x)
    {
        double s = 0;
        foreach (var v in x) s += v;
        return s;
    }

    public static double Max(float[] x)
    {
        double m = double.NegativeInfinity;
        foreach (var v in x) if (v > m) m = v;
        return m;
    }

    /// <summary>y[r, o] = b[o] + sum_i x[r, i] w[i, o]; b may be empty.</summary>
    public static double[] LinearForward(float[] x, float[] w, float[] b, int n, int inDim, int outDim)
    {
        var y = new double[n * outDim];
        for (int r = 0; r < n; r++)
            for (int o = 0; o < outDim; o++)
            {
                double s = b.Length == 0 ? 0 : b[o];
                for (int i = 0; i < inDim; i++) s += (double)x[r * inDim + i] * w[i * outDim + o];
                y[r * outDim + o] = s;
            }
        return y;
    }

    /// <summary>dx[r, i] += sum_o dy[r, o] w[i, o]; dw[i, o] += sum_r x[r, i] dy[r, o]; db[o] += sum_r dy[r, o].</summary>
    public static (double[] Dx, double[] Dw, double[] Db) LinearBackward(float[] x, float[] w, float[] dy,
        float[] dx0, float[] dw0, float[] db0, int n, int inDim, int outDim)
    {
        var dx = dx0.Select(v => (double)v).ToArray();
        var dw = dw0.Select(v => (double)v).ToArray();
        var db = db0.Select(v => (double)v).ToArray();
        for (int r = 0; r < n; r++)
            for (int i = 0; i < inDim; i++)
                for (int o = 0; o < outDim; o++)
                {
                    double g = dy[r * outDim + o];
                    if (dx.Length > 0) dx[r * inDim + i] += g * w[i * outDim + o];
                    dw[i * outDim + o] += g * x[r * inDim + i];
                }
        if (db.Length > 0)
            for (int r = 0; r < n; r++)
                for (int o = 0; o < outDim; o++) db[o] += dy[r * outDim + o];
        return (dx, dw, db);
    }

    public static double[] EmbeddingForward(int[] tokens, float[] table, int dim)
    {
        var y = new double[tokens.Length * dim];
        for (int k = 0; k < tokens.Length; k++)
            for (int d = 0; d < dim; d++) y[k * dim + d] = table[tokens[k] * dim + d];
        return y;
    }

    public static double[] EmbeddingBackward(int[] tokens, float[] dy, float[] dtable0, int dim)
    {
        var dt = dtable0.Select(v => (double)v).ToArray();
        for (int k = 0; k < tokens.Length; k++)
            for (int d = 0; d < dim; d++) dt[tokens[k] * dim + d] += dy[k * dim + d];
        return dt;
    }

    public static double[] TanhForward(float[] x) => x.Select(v => Math.Tanh(v)).ToArray();

    public static double[] TanhBackward(float[] y, float[] dy, float[] dx0)
    {
        var dx = new double[dx0.Length];
        for (int i = 0; i < dx.Length; i++) dx[i] = dx0[i] + (double)dy[i] * (1 - (double)y[i] * y[i]);
        return dx;
    }

    public static double[] ReluForward(float[] x) => x.Select(v => v > 0 ? (double)v : 0).ToArray();

    public static double[] ReluBackward(float[] y, float[] dy, float[] dx0)
    {
        var dx = new double[dx0.Length];
        for (int i = 0; i < dx.Length; i++) dx[i] = dx0[i] + (y[i] > 0 ? dy[i] : 0);
        return dx;
    }

    public static double[] Softmax(float[] row)
    {
        double max = row.Max(v => (double)v), sum = 0;
        var p = new double[row.Length];
        for (int j = 0; j < row.Length; j++) sum += p[j] = Math.Exp(row[j] - max);
        for (int j = 0; j < row.Length; j++) p[j] /= sum;
        return p;
    }

    public static double LogSumExp(float[] row)
    {
        double max = row.Max(v => (double)v), sum = 0;
        foreach (var v in row) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }

    /// <summary>probs = softmax of each row; loss = mean_r -(logits[r, t] - logsumexp(logits[r, :])).</summary>
    public static (double[] Probs, double Loss) SoftmaxCrossEntropyForward(float[] logits, int[] targets, int n, int vocab)
    {
        var probs = new double[n * vocab];
        double loss = 0;
        for (int r = 0; r < n; r++)
        {
            var row = logits.AsSpan(r * vocab, vocab).ToArray();
            Softmax(row).CopyTo(probs, r * vocab);
            loss -= row[targets[r]] - LogSumExp(row);
        }
        return (probs, loss / n);
    }

    public static double[] SoftmaxCrossEntropyBackward(float[] probs, int[] targets, float[] dlogits0, int n, int vocab, float scale)
    {
        var d = dlogits0.Select(v => (double)v).ToArray();
        for (int r = 0; r < n; r++)
            for (int j = 0; j < vocab; j++)
                d[r * vocab + j] += scale * ((double)probs[r * vocab + j] - (j == targets[r] ? 1 : 0));
        return d;
    }

    public static double[] Sgd(float[] w, float[] g, double lr, double weightDecay)
    {
        var r = new double[w.Length];
        for (int i = 0; i < w.Length; i++) r[i] = w[i] - lr * (g[i] + weightDecay * w[i]);
        return r;
    }

    /// <summary>One step of torch.optim.AdamW (amsgrad=False, maximize=False), in place on double state.</summary>
    public static void AdamW(double[] w, float[] g, double[] m, double[] v,
        double lr, double beta1, double beta2, double eps, double weightDecay, int step)
    {
        for (int i = 0; i < w.Length; i++)
        {
            w[i] *= 1 - lr * weightDecay;
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            double mhat = m[i] / (1 - Math.Pow(beta1, step));
            double vhat = v[i] / (1 - Math.Pow(beta2, step));
            w[i] -= lr * mhat / (Math.Sqrt(vhat) + eps);
        }
    }

    public static double SumOfSquares(float[] g)
    {
        double s = 0;
        foreach (var v in g) s += (double)v * v;
        return s;
    }

    public static double[] ToDouble(float[] a) => a.Select(v => (double)v).ToArray();

    /// <summary>y[i] = a[i] + b[i] for i &lt; count.</summary>
    public static double[] AddTo(float[] a, float[] b, int count)
    {
        var y = new double[count];
        for (int i = 0; i < count; i++) y[i] = (double)a[i] + b[i];
        return y;
    }

    /// <summary>y[b, t, :] += wpe[t, :] for t &lt; T; returns the first B x T rows.</summary>
    public static double[] AddPositions(float[] y0, float[] wpe, int b, int t, int c)
    {
        var y = new double[b * t * c];
        for (int bb = 0; bb < b; bb++)
            for (int tt = 0; tt < t; tt++)
                for (int i = 0; i < c; i++)
                    y[(bb * t + tt) * c + i] = (double)y0[(bb * t + tt) * c + i] + wpe[tt * c + i];
        return y;
    }

    /// <summary>dwpe[t, :] += sum_b dy[b, t, :] for t &lt; T.</summary>
    public static double[] PositionsBackward(float[] dy, float[] dwpe0, int b, int t, int c)
    {
        var d = ToDouble(dwpe0);
        for (int bb = 0; bb < b; bb++)
            for (int tt = 0; tt < t; tt++)
                for (int i = 0; i < c; i++) d[tt * c + i] += dy[(bb * t + tt) * c + i];
        return d;
    }

    /// <summary>y = (x - mean) / sqrt(var + 1e-5) * w + b per row, biased variance.</summary>
    public static (double[] Y, double[] Mean, double[] Rstd) LayerNormForward(double[] x, double[] w, double[] b, int n, int c)
    {
        var y = new double[n * c];
        var mean = new double[n];
        var rstd = new double[n];
        for (int r = 0; r < n; r++)
        {
            double m = 0, v = 0;
            for (int i = 0; i < c; i++) m += x[r * c + i];
            m /= c;
            for (int i = 0; i < c; i++) v += (x[r * c + i] - m) * (x[r * c + i] - m);
            v /= c;
            double s = 1 / Math.Sqrt(v + 1e-5);
            for (int i = 0; i < c; i++) y[r * c + i] = (x[r * c + i] - m) * s * w[i] + b[i];
            mean[r] = m;
            rstd[r] = s;
        }
        return (y, mean, rstd);
    }

    public static (double[] Y, double[] Mean, double[] Rstd) LayerNormForward(float[] x, float[] w, float[] b, int n, int c) =>
        LayerNormForward(ToDouble(x), ToDouble(w), ToDouble(b), n, c);

    /// <summary>
    /// Through the Jacobian of norm = (x - mean) * rstd, written out: d norm[i] / d x[j] = rstd (delta_ij - 1/C - norm[i] norm[j] / C).
    /// dx[j] += sum_i dy[i] w[i] d norm[i] / d x[j]; dw[i] += sum_r dy norm[i]; db[i] += sum_r dy[i].
    /// </summary>
    public static (double[] Dx, double[] Dw, double[] Db) LayerNormBackward(float[] dy, float[] x, float[] w,
        float[] dx0, float[] dw0, float[] db0, int n, int c)
    {
        var dx = ToDouble(dx0);
        var dw = ToDouble(dw0);
        var db = ToDouble(db0);
        var (_, mean, rstd) = LayerNormForward(x, w, new float[c], n, c);
        for (int r = 0; r < n; r++)
        {
            var norm = new double[c];
            for (int i = 0; i < c; i++) norm[i] = (x[r * c + i] - mean[r]) * rstd[r];
            for (int i = 0; i < c; i++)
            {
                double g = dy[r * c + i];
                db[i] += g;
                dw[i] += g * norm[i];
                for (int j = 0; j < c; j++)
                    dx[r * c + j] += g * w[i] * rstd[r] * ((i == j ? 1 : 0) - 1.0 / c - norm[i] * norm[j] / c);
            }
        }
        return (dx, dw, db);
    }

    /// <summary>0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).</summary>
    public static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static double[] GeluForward(double[] x) => x.Select(Gelu).ToArray();

    public static double[] GeluForward(float[] x) => GeluForward(ToDouble(x));

    /// <summary>dx += dy * gelu'(x), the derivative of the tanh form by the product and chain rules.</summary>
    public static double[] GeluBackward(float[] x, float[] dy, float[] dx0)
    {
        double k = Math.Sqrt(2 / Math.PI);
        var dx = ToDouble(dx0);
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i], th = Math.Tanh(k * (v + 0.044715 * v * v * v));
            double grad = 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * k * (1 + 3 * 0.044715 * v * v);
            dx[i] += dy[i] * grad;
        }
        return dx;
    }

    /// <summary>The exact GELU, x Phi(x) with Phi(x) = erfc(-x / sqrt 2) / 2 (PyTorch's nn.GELU()).</summary>
    public static double GeluExact(double x) => x * NormalCdf(x);

    public static double[] GeluExactForward(double[] x) => x.Select(GeluExact).ToArray();

    public static double[] GeluExactForward(float[] x) => GeluExactForward(ToDouble(x));

    /// <summary>dx += dy * (Phi(x) + x phi(x)), phi the standard normal density.</summary>
    public static double[] GeluExactBackward(float[] x, float[] dy, float[] dx0)
    {
        var dx = ToDouble(dx0);
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            dx[i] += dy[i] * (NormalCdf(v) + v * Math.Exp(-v * v / 2) / Math.Sqrt(2 * Math.PI));
        }
        return dx;
    }

    /// <summary>Phi(x) = erfc(-x / sqrt 2) / 2, each tail from erfc of a positive argument so neither cancels.</summary>
    public static double NormalCdf(double x)
    {
        double z = Math.Abs(x) / Math.Sqrt(2), tail = Erfc(z) / 2;
        return x < 0 ? tail : 1 - tail;
    }

    /// <summary>
    /// erfc(z) for z >= 0 in double precision, by a method unlike the kernel's fit: the Maclaurin series of erf below 3
    /// (terms stay under 1e4, so about 1e-12 is lost to cancellation) and the continued fraction
    /// erfc(z) = exp(-z^2) / sqrt(pi) / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...)))) from 3 on.
    /// </summary>
    public static double Erfc(double z)
    {
        if (z < 3)
        {
            double term = z, sum = z;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-17 * Math.Abs(sum); n++)
            {
                term *= -z * z / n;
                sum += term / (2 * n + 1);
            }
            return 1 - 2 / Math.Sqrt(Math.PI) * sum;
        }
        double f = z;
        for (int k = 200; k >= 1; k--) f = z + k / 2.0 / f;
        return Math.Exp(-z * z) / Math.Sqrt(Math.PI) / f;
    }

    /// <summary>
    /// Causal self-attention the naive way: per (b, head) the full T x T score matrix q k^T / sqrt(hs) with -infinity
    /// above the diagonal, a row softmax (exp(-inf) = 0), then y = att @ v. qkv [B, T, 3C] rows are [q | k | v].
    /// </summary>
    public static (double[] Y, double[] Att) AttentionForward(double[] qkv, int b, int t, int c, int h)
    {
        int hs = c / h;
        double scale = 1 / Math.Sqrt(hs);
        var y = new double[b * t * c];
        var att = new double[b * h * t * t];
        for (int bb = 0; bb < b; bb++)
            for (int hh = 0; hh < h; hh++)
            {
                double Q(int tt, int d) => qkv[(bb * t + tt) * 3 * c + hh * hs + d];
                double K(int tt, int d) => qkv[(bb * t + tt) * 3 * c + c + hh * hs + d];
                double V(int tt, int d) => qkv[(bb * t + tt) * 3 * c + 2 * c + hh * hs + d];
                var scores = new double[t, t];
                for (int t1 = 0; t1 < t; t1++)
                    for (int t2 = 0; t2 < t; t2++)
                    {
                        double s = 0;
                        for (int d = 0; d < hs; d++) s += Q(t1, d) * K(t2, d);
                        scores[t1, t2] = t2 > t1 ? double.NegativeInfinity : s * scale;
                    }
                for (int t1 = 0; t1 < t; t1++)
                {
                    double max = double.NegativeInfinity, sum = 0;
                    for (int t2 = 0; t2 < t; t2++) max = Math.Max(max, scores[t1, t2]);
                    for (int t2 = 0; t2 < t; t2++) sum += Math.Exp(scores[t1, t2] - max);
                    for (int t2 = 0; t2 < t; t2++)
                        att[((bb * h + hh) * t + t1) * t + t2] = Math.Exp(scores[t1, t2] - max) / sum;
                }
                for (int t1 = 0; t1 < t; t1++)
                    for (int d = 0; d < hs; d++)
                    {
                        double s = 0;
                        for (int t2 = 0; t2 < t; t2++) s += att[((bb * h + hh) * t + t1) * t + t2] * V(t2, d);
                        y[(bb * t + t1) * c + hh * hs + d] = s;
                    }
            }
        return (y, att);
    }

    public static (double[] Y, double[] Att) AttentionForward(float[] qkv, int b, int t, int c, int h) =>
        AttentionForward(ToDouble(qkv), b, t, c, h);

    /// <summary>
    /// Backward of <see cref="AttentionForward(double[], int, int, int, int)"/> with full matrices per (b, head), P the probabilities:
    /// dP = dY V^T, dV += P^T dY, dS = P * (dP - rowsum(P * dP)), dQ += dS K / sqrt(hs), dK += dS^T Q / sqrt(hs).
    /// </summary>
    public static double[] AttentionBackward(float[] dy, float[] qkv, float[] dqkv0, int b, int t, int c, int h)
    {
        int hs = c / h;
        double scale = 1 / Math.Sqrt(hs);
        var (_, att) = AttentionForward(qkv, b, t, c, h);
        var dqkv = ToDouble(dqkv0);
        for (int bb = 0; bb < b; bb++)
            for (int hh = 0; hh < h; hh++)
            {
                int Row(int tt) => (bb * t + tt) * 3 * c + hh * hs;
                double P(int t1, int t2) => att[((bb * h + hh) * t + t1) * t + t2];
                double DY(int tt, int d) => dy[(bb * t + tt) * c + hh * hs + d];
                var dp = new double[t, t];
                for (int t1 = 0; t1 < t; t1++)
                    for (int t2 = 0; t2 < t; t2++)
                        for (int d = 0; d < hs; d++) dp[t1, t2] += DY(t1, d) * qkv[Row(t2) + 2 * c + d];
                for (int t2 = 0; t2 < t; t2++)
                    for (int d = 0; d < hs; d++)
                        for (int t1 = 0; t1 < t; t1++) dqkv[Row(t2) + 2 * c + d] += P(t1, t2) * DY(t1, d);
                var ds = new double[t, t];
                for (int t1 = 0; t1 < t; t1++)
                {
                    double rowSum = 0;
                    for (int t2 = 0; t2 < t; t2++) rowSum += P(t1, t2) * dp[t1, t2];
                    for (int t2 = 0; t2 < t; t2++) ds[t1, t2] = P(t1, t2) * (dp[t1, t2] - rowSum);
                }
                for (int t1 = 0; t1 < t; t1++)
                    for (int t2 = 0; t2 < t; t2++)
                        for (int d = 0; d < hs; d++)
                        {
                            dqkv[Row(t1) + d] += ds[t1, t2] * qkv[Row(t2) + c + d] * scale;
                            dqkv[Row(t2) + c + d] += ds[t1, t2] * qkv[Row(t1) + d] * scale;
                        }
            }
        return dqkv;
    }

    /// <summary>mask[i] = rng.NextFloat() &gt;= p ? 1 / (1 - p) : 0, one draw per element in order (p &gt; 0).</summary>
    public static float[] DropoutMask(ulong seed, int count, float p)
    {
        var rng = new Rng(seed);
        var mask = new float[count];
        for (int i = 0; i < count; i++) mask[i] = rng.NextFloat() >= p ? 1f / (1f - p) : 0f;
        return mask;
    }

    /// <summary>y[r, o] = b[o] + sum_i x[r, i] w[o, i] (w stored [Out, In]); b may be empty.</summary>
    public static double[] LinearRowsForward(double[] x, double[] w, double[] b, int n, int inDim, int outDim)
    {
        var y = new double[n * outDim];
        for (int r = 0; r < n; r++)
            for (int o = 0; o < outDim; o++)
            {
                double s = b.Length == 0 ? 0 : b[o];
                for (int i = 0; i < inDim; i++) s += x[r * inDim + i] * w[o * inDim + i];
                y[r * outDim + o] = s;
            }
        return y;
    }

    public static double[] LinearRowsForward(float[] x, float[] w, float[] b, int n, int inDim, int outDim) =>
        LinearRowsForward(ToDouble(x), ToDouble(w), ToDouble(b), n, inDim, outDim);

    /// <summary>dx[r, i] += sum_o dy[r, o] w[o, i]; dw[o, i] += sum_r dy[r, o] x[r, i]; db[o] += sum_r dy[r, o].</summary>
    public static (double[] Dx, double[] Dw, double[] Db) LinearRowsBackward(float[] x, float[] w, float[] dy,
        float[] dx0, float[] dw0, float[] db0, int n, int inDim, int outDim)
    {
        var dx = ToDouble(dx0);
        var dw = ToDouble(dw0);
        var db = ToDouble(db0);
        for (int r = 0; r < n; r++)
            for (int o = 0; o < outDim; o++)
            {
                double g = dy[r * outDim + o];
                for (int i = 0; i < inDim; i++)
                {
                    if (dx.Length > 0) dx[r * inDim + i] += g * w[o * inDim + i];
                    dw[o * inDim + i] += g * x[r * inDim + i];
                }
                if (db.Length > 0) db[o] += g;
            }
        return (dx, dw, db);
    }

    /// <summary>
    /// y [n, out] = b + deq(W) x for a quantised W, in double, with x as it is (the many-row path of QuantizedLinear
    /// dequantises the weights and keeps the activations in fp32).
    /// </summary>
    public static double[] DequantisedLinearForward(QuantizedMatrix w, float[] x, float[] b, int n)
    {
        var deq = w.Dequantize();
        int inDim = w.Cols;
        var y = new double[n * w.Rows];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < w.Rows; j++)
            {
                double acc = b.Length > 0 ? b[j] : 0;
                for (int i = 0; i < inDim; i++) acc += (double)deq[j * inDim + i] * x[r * inDim + i];
                y[r * w.Rows + j] = acc;
            }
        return y;
    }

    /// <summary>The reference for QuantizedLinear.Forward at <paramref name="n"/> rows: the path it takes there.</summary>
    public static double[] QuantizedLinearForwardAuto(QuantizedMatrix w, float[] x, float[] b, int n) =>
        QuantizedLinear.Route(n, w) switch
        {
            QuantizedLinear.Path.Dequantised => DequantisedLinearForward(w, x, b, n),
            QuantizedLinear.Path.IntegerTiles => QuantizedTilesForward(w, x, b, n),
            _ => QuantizedLinearForward(w, x, b, n),
        };

    /// <summary>
    /// The integer tiles' product (QuantizedTiles), in double: for 4-bit types that of <see cref="QuantizedLinearForward"/>
    /// (activations to int8 per block); for Q8_0, activations to 16-bit codes per block (QuantizedTiles.QuantizeBlockWideScalar)
    /// times deq(W): y = b + sum over blocks of d_w d_x sum(q_w q_x).
    /// </summary>
    public static unsafe double[] QuantizedTilesForward(QuantizedMatrix w, float[] x, float[] b, int n)
    {
        if (w.Type != QuantType.Q8_0) return QuantizedLinearForward(w, x, b, n);
        var deq = w.Dequantize();
        int inDim = w.Cols, blocks = inDim / 32;
        var codes = new short[n * inDim];
        var scales = new float[n * blocks];
        fixed (float* px = x, ps = scales)
        fixed (short* pq = codes)
            for (int i = 0; i < n * blocks; i++) QuantizedTiles.QuantizeBlockWideScalar(px + 32 * i, pq + 32 * i, ps + i);
        var y = new double[n * w.Rows];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < w.Rows; j++)
            {
                double acc = b.Length > 0 ? b[j] : 0;
                for (int i = 0; i < inDim; i++) acc += deq[j * inDim + i] * ((double)scales[r * blocks + i / 32] * codes[r * inDim + i]);
                y[r * w.Rows + j] = acc;
            }
        return y;
    }

    /// <summary>
    /// y [n, out] = b + deq(W) deq(x) for a quantised W (QuantizedLinear), in double: deq(x) is the activations as
    /// the kernel quantises them (per block of 32 to int8, at the current path). The kernel's integer sums are exact,
    /// so only float rounding differs.
    /// </summary>
    public static double[] QuantizedLinearForward(QuantizedMatrix w, float[] x, float[] b, int n)
    {
        var deq = w.Dequantize();
        int inDim = w.Cols, blocks = inDim / 32;
        var codes = new sbyte[n * inDim];
        var scales = new float[3 * n * blocks];
        QuantizedLinear.QuantizeActivations(x, codes, scales, n, inDim);
        // Q4_1's minimums [rows, blocks], read once (a row held in row groups is copied out to be read).
        var mins = new double[w.Rows * blocks];
        if (w.Type == QuantType.Q4_1)
            for (int j = 0; j < w.Rows; j++)
            {
                var row = w.RowData(j);
                for (int k = 0; k < blocks; k++) mins[j * blocks + k] = (double)BitConverter.ToHalf(row.Slice(k * 20 + 2, 2));
            }
        var y = new double[n * w.Rows];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < w.Rows; j++)
            {
                double acc = b.Length > 0 ? b[j] : 0;
                for (int i = 0; i < inDim; i++)
                {
                    double xq = (double)scales[r * blocks + i / 32] * codes[r * inDim + i];
                    // Q4_1's minimum multiplies the exact sum of x: w = d q + min, so w x = d q xq + min x.
                    double min = mins[j * blocks + i / 32];
                    acc += (deq[j * inDim + i] - min) * xq + min * x[r * inDim + i];
                }
                y[r * w.Rows + j] = acc;
            }
        return y;
    }
}
