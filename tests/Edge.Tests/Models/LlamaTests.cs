using Edge.Data;
using Edge.Generation;
using Edge.Models;
using Edge.Tests.Kernels;
using Edge.Text;
using Edge.Training;
using Xunit;

namespace Edge.Tests.Models;

/// <summary>The generated Llama family against a double-precision reference, its decoding pass, and the declared shapes.</summary>
public class LlamaTests
{
    public static TheoryData<string> TestLlamas() => new() { "test-llama", "test-llama-interleaved", "test-llama-mqa", "test-llama-half", "test-llama-interleaved-twin" };

    static ModelInfo Info(string name) => Edge.Generated.ModelRegistry.All.Single(m => m.Name == name);

    /// <summary>Random weights larger than the initial ones, RMSNorm scales included, so every parameter's role shows.</summary>
    static LanguageModel Random(string name, int vocab, ulong seed)
    {
        var model = Info(name).Create(vocab);
        model.Initialize(seed);
        var rng = new Rng(seed + 1);
        var w = model.Weights;
        for (int i = 0; i < w.Length; i++) w[i] += rng.NextGaussian() * 0.3f;
        return model;
    }

    /// <summary>
    /// The Llama block's passes in the steady state: an AdamW training step (dropout, clipping, accumulation, a cosine
    /// schedule) and a generated token past the context (the window slides and is prefilled again) allocate nothing.
    /// </summary>
    [Fact]
    public void SmallLlama_TrainingStepAndGeneratedToken_AllocateNothing()
    {
        var info = SmallLlama.Descriptor;
        var text = string.Concat(Enumerable.Repeat("the keeper lit the lamp and the sea was loud.\n", 200));
        var tokenizer = TrainingData.BuildTokenizer(text, DataLayout.Text);
        var splits = TrainingData.Split(text, tokenizer, info, DataLayout.Text, splitSeed: 42);
        using var model = info.Create(tokenizer.VocabSize);
        model.Initialize(1);
        using (var context = model.CreateTrainingContext(4))
        using (var trainer = new Trainer(context, splits.Train, splits.Val, new TrainOptions
        {
            Steps = 1000, Batch = 4, GradClip = 1.0, Accumulate = 2, LearningRate = 1e-3, Schedule = ScheduleKind.Cosine, Warmup = 10,
            MinLearningRate = 1e-4, Dropout = 0.1,
        }))
            Expect.AllocatesNothing(() => trainer.TrainStep(), "a small-llama training step", warmUp: 3, calls: 20);

        using var decoding = model.CreateDecodingContext();
        var generator = new TextGenerator(decoding, tokenizer);
        var sampler = new Sampler(tokenizer.VocabSize, seed: 1);
        generator.Reset([]);
        // 70 warm-up tokens go past the context of 64.
        Expect.AllocatesNothing(() => generator.Next(sampler), "a small-llama token past the context", warmUp: 70, calls: 100);
    }

    [Theory, MemberData(nameof(TestLlamas))]
    public void GeneratedForward_MatchesDoublePrecisionReference(string name)
    {
        const int V = 13, B = 2;
        using var model = Random(name, V, 3);
        using var context = model.CreateInferenceContext(B);
        var rng = new Rng(9);
        foreach (int T in new[] { 1, 3, model.InputLength })
        {
            var tokens = Enumerable.Range(0, B * T).Select(_ => rng.NextInt(V)).ToArray();
            var logits = context.Logits(tokens, B, T).ToArray();
            double worst = 0;
            for (int b = 0; b < B; b++)
            {
                var reference = ReferenceLlama.Logits(model, tokens[(b * T)..((b + 1) * T)]);
                for (int t = 0; t < T; t++)
                    for (int v = 0; v < V; v++) worst = Math.Max(worst, Math.Abs(reference[t, v] - logits[(b * T + t) * V + v]));
            }
            Assert.True(worst <= 1e-4, $"{name} T={T}: max |edge - reference| = {worst:G3}");
        }
    }

    [Theory, MemberData(nameof(TestLlamas))]
    public void Decoding_MatchesTheFullForward_AtEveryPosition(string name)
    {
        const int V = 11;
        using var model = Random(name, V, 5);
        int T = model.InputLength;
        var rng = new Rng(2);
        var tokens = Enumerable.Range(0, T).Select(_ => rng.NextInt(V)).ToArray();
        using var inference = model.CreateInferenceContext();
        var full = inference.Logits(tokens, 1, T).ToArray();
        using var decoding = model.CreateDecodingContext();
        var logits = decoding.Prefill(tokens.AsSpan(0, 2)).ToArray();
        double worst = MaxDiff(full.AsSpan(V, V), logits);
        for (int t = 2; t < T; t++)
            worst = Math.Max(worst, MaxDiff(full.AsSpan(t * V, V), decoding.DecodeStep(tokens[t])));
        Assert.True(worst <= 1e-4, $"{name}: max |decode - forward| = {worst:G3}");
        // Appending a chunk after a prefill is the same as prefilling both.
        decoding.Prefill(tokens.AsSpan(0, 2));
        Assert.True(MaxDiff(full.AsSpan((T - 1) * V, V), decoding.Append(tokens.AsSpan(2))) <= 1e-4);
    }

    [Fact]
    public void RopeLayouts_LoadToTheSameFunction_ThroughTheQkPermutation()
    {
        // Hugging Face's conversion from Meta's (interleaved) checkpoints permutes each head's q_proj and k_proj rows
        // so that interleaved pair (2i, 2i+1) becomes half pair (i, i + hs/2). The same weights, so permuted, give the
        // same logits in the half-layout model as unpermuted in the interleaved one.
        const int V = 17;
        using var interleaved = Random("test-llama-interleaved-twin", V, 7);
        using var half = Info("test-llama-half").Create(V);
        var shape = half.Info.Llama!;
        int hs = shape.HeadSize;
        foreach (var p in interleaved.Parameters)
        {
            var source = interleaved.Weights.Slice(p.Offset, p.Length);
            var target = half.Weights.Slice(half.Layout.Find(p.Name)!.Offset, p.Length);
            if (p.Name.EndsWith("q_proj.weight") || p.Name.EndsWith("k_proj.weight"))
            {
                int cols = p.Shape[1], heads = p.Shape[0] / hs;
                for (int h = 0; h < heads; h++)
                    for (int i = 0; i < hs / 2; i++)
                        for (int pair = 0; pair < 2; pair++)
                            source.Slice((h * hs + 2 * i + pair) * cols, cols).CopyTo(target.Slice((h * hs + i + pair * hs / 2) * cols, cols));
            }
            else source.CopyTo(target);
        }
        int[] tokens = [3, 1, 4, 1, 5, 9, 2, 6];
        var a = interleaved.Logits(tokens, 1, tokens.Length);
        var b = half.Logits(tokens, 1, tokens.Length);
        Assert.True(MaxDiff(a, b) <= 1e-4, $"max |interleaved - half| = {MaxDiff(a, b):G3}");
    }

    [Fact]
    public void DeclaredModels_HaveTheirShapes()
    {
        // Per layer: q and o C^2, k and v C kv, gate/up/down 3 C hidden, two RMSNorm scales; embeddings V C; final norm C.
        static long Llama(int layers, int c, int kv, int hidden, int v, bool tied) =>
            layers * (2L * c * c + 2L * c * kv + 3L * c * hidden + 2L * c) + (long)v * c + c + (tied ? 0 : (long)v * c);
        Assert.Equal(Llama(4, 128, 64, 384, 65, tied: true), SmallLlama.Descriptor.ParameterCount(65));
        Assert.InRange(SmallLlama.Descriptor.ParameterCount(65), 780_000, 830_000);   // the baby GPT's 809,856
        Assert.Equal(Llama(30, 576, 192, 1536, 49152, tied: true), SmolLm135M.Descriptor.ParameterCount(49152));
        Assert.Equal(134_515_008, SmolLm135M.Descriptor.ParameterCount(49152));      // SmolLM-135M's published count
        Assert.Equal(Llama(22, 2048, 256, 5632, 32000, tied: false), Edge.Models.TinyLlama.Descriptor.ParameterCount(32000));
        Assert.Equal(1_100_048_384, Edge.Models.TinyLlama.Descriptor.ParameterCount(32000));   // TinyLlama-1.1B's
        Assert.Equal(BabyGpt.Descriptor.Recipe, SmallLlama.Descriptor.Recipe);
    }

    static double MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}

public class LlamaQuantizationTests
{
    [Theory]
    [InlineData(Edge.Quantization.QuantType.Q8_0, 0.02)]
    [InlineData(Edge.Quantization.QuantType.Q4_0, 0.15)]
    [InlineData(Edge.Quantization.QuantType.Q4_1, 0.15)]
    public void QuantisedLlama_IsCloseToFp32_AndDecodesAsItsForward(Edge.Quantization.QuantType type, double tolerance)
    {
        const int V = 40;
        int[] tokens = [1, 5, 9, 2, 7, 3, 3, 8, 0, 4, 6, 2];
        using var fp32 = TinyQuantLlama.Descriptor.Create(V);
        fp32.Initialize(3);
        var reference = fp32.Logits(tokens, 1, tokens.Length);
        using var model = TinyQuantLlama.Descriptor.Create(V);
        fp32.Weights.CopyTo(model.Weights);
        Edge.Quantization.QuantizedCheckpoint.QuantizeInMemory(model, type);
        Assert.Equal(type, model.QuantizedWeight("model.layers.1.mlp.down_proj.weight")!.Type);
        Assert.Equal(type, model.QuantizedWeight("model.layers.0.self_attn.k_proj.weight")!.Type);
        var got = model.Logits(tokens, 1, tokens.Length);
        double rms = Math.Sqrt(got.Select((v, i) => (v - reference[i]) * (double)(v - reference[i])).Average() / reference.Select(v => (double)v * v).Average());
        Assert.True(rms <= tolerance && rms > 0, $"{type}: relative rms {rms:G3}");
        using var decoding = model.CreateDecodingContext();
        var logits = decoding.Prefill(tokens.AsSpan(0, 3)).ToArray();
        double worst = 0;
        for (int t = 3; t < tokens.Length; t++)
        {
            var step = decoding.DecodeStep(tokens[t]);
            for (int v = 0; v < V; v++) worst = Math.Max(worst, Math.Abs(step[v] - got[t * V + v]));
        }
        // Decoding's one-row products quantise their inputs to 8 bits per block of 32. The 12-row forward takes the
        // integer tiles where they serve (AVX2): 4-bit types with the same 8-bit codes, their sums added in another
        // order (a last-bit difference, as between the single-query attention of decoding and the batched one, can
        // move a later input code: Q4_1 2.0e-3 against its 4.9e-2 from fp32), Q8_0 with 16-bit codes, finer than
        // decoding's: 2.2e-3, most of Q8_0's own largest difference from fp32 here (3.2e-3), which decoding's 8-bit
        // codes make. Without AVX2, 12 rows take the integer path, the same codes as decoding (as Q4_0 nearly does here: 6e-8).
        Assert.True(worst <= 5e-3, $"{type}: max |decode - forward| = {worst:G3}");
    }
}
