namespace Edge.Tests.Models;

/// <summary>
/// A plain, obviously-correct GPT-2 forward pass in double precision, reading the generated model's
/// weights by their Hugging Face names: the yardstick for the generated transformer code.
/// </summary>
static class ReferenceGpt
{
    /// <summary>Logits [T, V] for one sequence, from the generated model's own weights.</summary>
    public static double[,] Logits(LanguageModel model, int[] tokens, int layers, int heads, bool exactGelu = false) =>
        Logits(name => model.Layout.Find(name) is { } p ? model.Weights.Slice(p.Offset, p.Length).ToArray().Select(f => (double)f).ToArray() : null,
            model.VocabSize, tokens, layers, heads, exactGelu);

    /// <summary>
    /// Logits [T, V] for one sequence; <paramref name="tensor"/> gives a weight by its Hugging Face name, or null.
    /// The MLP's GELU is GPT-2's tanh form, or with <paramref name="exactGelu"/> x Phi(x) (nanoGPT's nn.GELU()).
    /// </summary>
    public static double[,] Logits(Func<string, double[]?> tensor, int vocab, int[] tokens, int layers, int heads, bool exactGelu = false)
    {
        Func<double, double> gelu = exactGelu ? Edge.Diagnostics.ScalarReference.GeluExact : Gelu;
        double[] P(string name) => tensor(name) ?? throw new ArgumentException("no parameter " + name);
        // A bias the model does not have (Bias = false) acts as zeros.
        double[] Bias(string name, int size) => tensor(name) ?? new double[size];
        int T = tokens.Length, V = vocab;
        var wte = P("wte.weight");
        int C = wte.Length / V;
        var wpe = P("wpe.weight");
        var x = new double[T][];
        for (int t = 0; t < T; t++)
            x[t] = Enumerable.Range(0, C).Select(i => wte[tokens[t] * C + i] + wpe[t * C + i]).ToArray();

        for (int l = 0; l < layers; l++)
        {
            string h = $"h.{l}";
            var qkv = x.Select(row => Dense(LayerNorm(row, P(h + ".ln_1.weight"), Bias(h + ".ln_1.bias", C)), P(h + ".attn.c_attn.weight"), Bias(h + ".attn.c_attn.bias", 3 * C))).ToArray();
            int hs = C / heads;
            var y = new double[T][];
            for (int t = 0; t < T; t++)
            {
                y[t] = new double[C];
                for (int head = 0; head < heads; head++)
                {
                    var scores = new double[t + 1];
                    for (int s = 0; s <= t; s++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hs; i++) dot += qkv[t][head * hs + i] * qkv[s][C + head * hs + i];
                        scores[s] = dot / Math.Sqrt(hs);
                    }
                    double max = scores.Max();
                    var e = scores.Select(v => Math.Exp(v - max)).ToArray();
                    double sum = e.Sum();
                    for (int s = 0; s <= t; s++)
                        for (int i = 0; i < hs; i++) y[t][head * hs + i] += e[s] / sum * qkv[s][2 * C + head * hs + i];
                }
            }
            for (int t = 0; t < T; t++)
            {
                var proj = Dense(y[t], P(h + ".attn.c_proj.weight"), Bias(h + ".attn.c_proj.bias", C));
                for (int i = 0; i < C; i++) x[t][i] += proj[i];
                var fc = Dense(LayerNorm(x[t], P(h + ".ln_2.weight"), Bias(h + ".ln_2.bias", C)), P(h + ".mlp.c_fc.weight"), Bias(h + ".mlp.c_fc.bias", P(h + ".mlp.c_fc.weight").Length / C));
                var mlp = Dense(fc.Select(gelu).ToArray(), P(h + ".mlp.c_proj.weight"), Bias(h + ".mlp.c_proj.bias", C));
                for (int i = 0; i < C; i++) x[t][i] += mlp[i];
            }
        }

        var logits = new double[T, V];
        bool tied = tensor("lm_head.weight") is null;
        for (int t = 0; t < T; t++)
        {
            var f = LayerNorm(x[t], P("ln_f.weight"), Bias("ln_f.bias", C));
            double[] row;
            if (tied)
            {
                row = new double[V];
                for (int v = 0; v < V; v++)
                    for (int i = 0; i < C; i++) row[v] += f[i] * wte[v * C + i];
            }
            else row = Dense(f, P("lm_head.weight"), Bias("lm_head.bias", V));
            for (int v = 0; v < V; v++) logits[t, v] = row[v];
        }
        return logits;
    }

    static double[] LayerNorm(double[] x, double[] w, double[] b)
    {
        double mean = x.Average();
        double variance = x.Select(v => (v - mean) * (v - mean)).Average();
        double rstd = 1 / Math.Sqrt(variance + 1e-5);
        return x.Select((v, i) => (v - mean) * rstd * w[i] + b[i]).ToArray();
    }

    /// <summary>y = x W + b with W stored [in, out] (GPT-2's Conv1D).</summary>
    static double[] Dense(double[] x, double[] w, double[] b)
    {
        int outDim = b.Length;
        var y = (double[])b.Clone();
        for (int i = 0; i < x.Length; i++)
            for (int j = 0; j < outDim; j++) y[j] += x[i] * w[i * outDim + j];
        return y;
    }

    static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}
