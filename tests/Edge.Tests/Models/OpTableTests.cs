using Edge.Models;
using K = Edge.Kernels;
using Xunit;

namespace Edge.Tests.Models;

/// <summary>
/// The generated op table (<see cref="ModelInfo.Ops"/>), which backends other than the generated CPU code walk: every
/// argument names a real slot, parameter or site, and walking the table with plain kernels gives the generated
/// forward's logits for every model, so the table is complete and in the generated order.
/// </summary>
public class OpTableTests
{
    public static TheoryData<string> AllModels()
    {
        var data = new TheoryData<string>();
        foreach (var m in ModelCatalog.All) data.Add(m.Name);
        return data;
    }

    [Theory, MemberData(nameof(AllModels))]
    public void EveryArgument_NamesARealTensor(string name)
    {
        var info = ModelCatalog.Find(name)!;
        var layout = info.Describe(17);
        var ops = info.Ops();
        Assert.NotEmpty(ops);
        Assert.Equal(OpKind.Loss, ops[^1].Kind);
        foreach (var op in ops)
            foreach (var a in op.Args)
            {
                int count = a.Kind switch
                {
                    OpArgKind.Slot => info.Slots.Count,
                    OpArgKind.Param => layout.Parameters.Count,
                    OpArgKind.Site => layout.Projections.Count,
                    _ => int.MaxValue,
                };
                Assert.True(a.Value >= 0 && a.Value < count, $"{op}: {a.Role} out of range");
            }
        // Every parameter is read by some op (a projection reads its site's weight).
        var read = ops.SelectMany(op => op.Args.Select(a => a.Kind switch
        {
            OpArgKind.Param => a.Value,
            OpArgKind.Site => layout.Parameters.ToList().IndexOf(layout.Projections[a.Value].Weight),
            _ => -1,
        })).ToHashSet();
        for (int p = 0; p < layout.Parameters.Count; p++)
            Assert.True(read.Contains(p), $"{name}: no op reads {layout.Parameters[p].Name}");
    }

    /// <summary>Models small enough to walk with plain loops in a test (the large ones share their ops with these).</summary>
    public static TheoryData<string> SmallModels()
    {
        var data = new TheoryData<string>();
        foreach (var m in ModelCatalog.All.Where(m => m.ParameterCount(19) < 3_000_000)) data.Add(m.Name);
        return data;
    }

    [Theory, MemberData(nameof(SmallModels))]
    public void WalkingTheTable_GivesTheGeneratedForwardsLogits(string name)
    {
        const int V = 19, B = 2;
        using var model = ModelCatalog.Find(name)!.Create(V);
        model.Initialize(5);
        var rng = new Rng(7);
        var w = model.Weights;
        for (int i = 0; i < w.Length; i++) w[i] += rng.NextGaussian() * 0.1f;
        int T = model.Info.SequenceTargets ? Math.Min(5, model.InputLength) : model.InputLength;
        var tokens = Enumerable.Range(0, B * T).Select(_ => rng.NextInt(V)).ToArray();

        using var context = model.CreateInferenceContext(B);
        var expected = context.Logits(tokens, B, T).ToArray();
        var walked = Walk(model, tokens, B, T);
        Assert.Equal(expected.Length, walked.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
            worst = Math.Max(worst, Math.Abs(expected[i] - walked[i]) / (1 + Math.Abs(expected[i])));
        Assert.True(worst < 1e-4, $"{name}: max relative difference {worst:G3}");
    }

    /// <summary>The inference forward by walking the op table: each slot its own array, projections as plain loops.</summary>
    static float[] Walk(LanguageModel model, int[] tokens, int B, int T)
    {
        var info = model.Info;
        var layout = model.Layout;
        int V = model.VocabSize, context = info.Context;
        var slots = info.Slots.Select(s => new float[s.Length(B, T, context, V)]).ToArray();
        float[] weights = model.Weights.ToArray();
        ReadOnlySpan<float> P(int p) => weights.AsSpan(layout.Parameters[p].Offset, layout.Parameters[p].Length);
        float[] logits = [];
        foreach (var op in info.Ops())
        {
            Span<float> S(string role) => slots[op.Slot(role)];
            switch (op.Kind)
            {
                case OpKind.Embedding:
                    int dim = op.Int("dim");
                    K.Embedding.Forward(tokens, P(op.Param("table")), S("y"), tokens.Length, dim);
                    if (op.OptionalParam("positions") is int pos and >= 0) K.Embedding.AddPositions(S("y"), P(pos), B, T, dim);
                    break;
                case OpKind.Bigram:
                    K.Embedding.Forward(tokens, P(op.Param("table")), S("y"), B, V);
                    break;
                case OpKind.Flatten:
                    break;
                case OpKind.Project:
                {
                    var site = layout.Projections[op.Site("site")];
                    var x = S("x");
                    var y = S("y");
                    var wt = P(layout.Parameters.ToList().IndexOf(site.Weight));
                    int bias = op.OptionalParam("bias");
                    int rows = x.Length / site.In;
                    for (int r = 0; r < rows; r++)
                        for (int o = 0; o < site.Out; o++)
                        {
                            double sum = bias >= 0 ? P(bias)[o] : 0;
                            for (int i = 0; i < site.In; i++)
                                sum += (double)x[r * site.In + i] * (site.Transposed ? wt[o * site.In + i] : wt[i * site.Out + o]);
                            y[r * site.Out + o] = (float)sum;
                        }
                    break;
                }
                case OpKind.Tanh: K.Activations.TanhForward(S("x"), S("y")); break;
                case OpKind.Relu: K.Activations.ReluForward(S("x"), S("y")); break;
                case OpKind.Gelu: K.Gelu.Forward(S("x"), S("y")); break;
                case OpKind.GeluExact: K.GeluExact.Forward(S("x"), S("y")); break;
                case OpKind.SwiGlu: K.SwiGlu.Forward(S("gate"), S("up"), S("y")); break;
                case OpKind.Dropout: S("x").CopyTo(S("y")); break;
                case OpKind.Residual: K.VectorMath.AddTo(S("x"), S("branch"), S("y"), S("y").Length); break;
                case OpKind.LayerNorm:
                {
                    int width = op.Int("width"), bias = op.OptionalParam("bias");
                    K.LayerNorm.Forward(S("x"), P(op.Param("weight")), bias >= 0 ? P(bias) : default, S("y"), S("mean"), S("rstd"), B * T, width);
                    break;
                }
                case OpKind.RmsNorm:
                    K.RmsNorm.Forward(S("x"), P(op.Param("weight")), S("y"), S("rstd"), B * T, op.Int("width"), (float)op.Number);
                    break;
                case OpKind.Rope:
                {
                    var (cos, sin) = K.Rope.Table(context, op.Int("headSize"), op.Number);
                    K.Rope.Forward(S("x"), S("y"), cos, sin, B, T, 0, op.Int("heads"), op.Int("headSize"), interleaved: op.Int("interleaved") == 1);
                    break;
                }
                case OpKind.Attention:
                    K.Attention.Forward(S("qkv"), S("y"), S("att"), B, T, op.Int("width"), op.Int("heads"));
                    break;
                case OpKind.GroupedAttention:
                {
                    int h = op.Int("heads"), kvh = op.Int("kvHeads"), hs = op.Int("headSize");
                    K.Attention.Forward(S("q"), S("k"), S("v"), h * hs, kvh * hs, S("y"), S("att"), B, T, h, kvh, hs);
                    break;
                }
                case OpKind.Loss:
                    logits = S("logits").ToArray();
                    break;
                default:
                    throw new InvalidOperationException($"no walker for {op.Kind}");
            }
        }
        return logits;
    }
}
