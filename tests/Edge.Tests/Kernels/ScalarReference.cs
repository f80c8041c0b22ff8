namespace Edge.Tests.Kernels;

/// <summary>
/// Obviously-correct versions of every kernel: nested loops, double arithmetic, the formula as written.
/// Gradient references take the gradient's starting value and return it plus the contribution, because the
/// kernels accumulate.
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
}
