namespace Edge.Tests.Models;

/// <summary>
/// A plain Llama forward pass in double precision, reading weights by their Hugging Face names (model.layers.N.self_attn.q_proj,
/// ...; torch.nn.Linear's [out, in]): RMSNorm, rotary positions (either layout), grouped-query attention, SwiGLU, the head
/// tied or not. The yardstick for the generated Llama code, and for loaders (it reads any name source).
/// </summary>
static class ReferenceLlama
{
    public static double[,] Logits(LanguageModel model, int[] tokens) =>
        Logits(name => model.Layout.Find(name) is { } p ? model.Weights.Slice(p.Offset, p.Length).ToArray().Select(f => (double)f).ToArray() : null,
            model.VocabSize, tokens, model.Info.Llama!);

    /// <summary>Logits [T, V] for one sequence; <paramref name="tensor"/> gives a weight by name, or null.</summary>
    public static double[,] Logits(Func<string, double[]?> tensor, int vocab, int[] tokens, LlamaShape s)
    {
        double[] P(string name) => tensor(name) ?? throw new ArgumentException("no parameter " + name);
        int T = tokens.Length, V = vocab, C = s.Width, H = s.Heads, KvH = s.KvHeads, hs = C / H, kv = KvH * hs;
        var embed = P("model.embed_tokens.weight");
        var x = tokens.Select(id => embed.AsSpan(id * C, C).ToArray()).ToArray();
        for (int l = 0; l < s.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            double[] Bias(string name, int n) => s.QkvBias ? P(p + name) : new double[n];
            var n1 = x.Select(r => RmsNorm(r, P(p + "input_layernorm.weight"), s.NormEpsilon)).ToArray();
            var q = n1.Select((r, t) => Rope(Linear(r, P(p + "self_attn.q_proj.weight"), Bias("self_attn.q_proj.bias", C)), t, H, hs, s)).ToArray();
            var k = n1.Select((r, t) => Rope(Linear(r, P(p + "self_attn.k_proj.weight"), Bias("self_attn.k_proj.bias", kv)), t, KvH, hs, s)).ToArray();
            var v = n1.Select(r => Linear(r, P(p + "self_attn.v_proj.weight"), Bias("self_attn.v_proj.bias", kv))).ToArray();
            var y = new double[T][];
            for (int t1 = 0; t1 < T; t1++)
            {
                y[t1] = new double[C];
                for (int h = 0; h < H; h++)
                {
                    int g = h / (H / KvH);
                    var scores = Enumerable.Range(0, t1 + 1).Select(t2 =>
                        Enumerable.Range(0, hs).Sum(d => q[t1][h * hs + d] * k[t2][g * hs + d]) / Math.Sqrt(hs)).ToArray();
                    double max = scores.Max(), sum = scores.Sum(z => Math.Exp(z - max));
                    for (int t2 = 0; t2 <= t1; t2++)
                        for (int d = 0; d < hs; d++) y[t1][h * hs + d] += Math.Exp(scores[t2] - max) / sum * v[t2][g * hs + d];
                }
            }
            x = x.Select((r, t) => Add(r, Linear(y[t], P(p + "self_attn.o_proj.weight"), new double[C]))).ToArray();
            var n2 = x.Select(r => RmsNorm(r, P(p + "post_attention_layernorm.weight"), s.NormEpsilon)).ToArray();
            x = x.Select((r, t) =>
            {
                var gate = Linear(n2[t], P(p + "mlp.gate_proj.weight"), new double[s.MlpHidden]);
                var up = Linear(n2[t], P(p + "mlp.up_proj.weight"), new double[s.MlpHidden]);
                var act = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
                return Add(r, Linear(act, P(p + "mlp.down_proj.weight"), new double[C]));
            }).ToArray();
        }
        var head = s.TiedHead ? embed : P("lm_head.weight");
        var logits = new double[T, V];
        for (int t = 0; t < T; t++)
        {
            var n = RmsNorm(x[t], P("model.norm.weight"), s.FinalNormEpsilon);
            for (int j = 0; j < V; j++) logits[t, j] = Enumerable.Range(0, C).Sum(i => n[i] * head[j * C + i]);
        }
        return logits;
    }

    static double[] RmsNorm(double[] x, double[] w, double eps)
    {
        double r = 1 / Math.Sqrt(x.Sum(v => v * v) / x.Length + eps);
        return x.Select((v, i) => v * r * w[i]).ToArray();
    }

    /// <summary>y [out] = W [out, in] x + b.</summary>
    static double[] Linear(double[] x, double[] w, double[] b) =>
        b.Select((bias, o) => bias + Enumerable.Range(0, x.Length).Sum(i => w[o * x.Length + i] * x[i])).ToArray();

    static double[] Add(double[] a, double[] b) => a.Select((v, i) => v + b[i]).ToArray();

    static double[] Rope(double[] x, int pos, int heads, int hs, LlamaShape s)
    {
        var y = (double[])x.Clone();
        bool interleaved = s.Rope == RopeLayout.Interleaved;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < hs / 2; i++)
            {
                double angle = pos * Math.Pow(s.RopeTheta, -2.0 * i / hs);
                int a = h * hs + (interleaved ? 2 * i : i), b = h * hs + (interleaved ? 2 * i + 1 : i + hs / 2);
                y[a] = x[a] * Math.Cos(angle) - x[b] * Math.Sin(angle);
                y[b] = x[b] * Math.Cos(angle) + x[a] * Math.Sin(angle);
            }
        return y;
    }
}
