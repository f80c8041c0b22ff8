using Edge.Models;
using Xunit;

namespace Edge.Tests.Models;

/// <summary>Several generations on one loaded model, each with its own session (KV cache, activations, adapters).</summary>
public class DecodeSessionTests
{
    const int V = 65;

    /// <summary>Logits after each step of prefill(prompt) then decoding `steps` greedy tokens, as one array.</summary>
    static float[] Run(DecodeSession session, int[] prompt, int steps)
    {
        var all = new List<float>();
        var logits = session.Prefill(prompt);
        for (int i = 0; ; i++)
        {
            all.AddRange(logits.ToArray());
            if (i == steps) break;
            int next = 0;
            for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[next]) next = v;
            logits = session.DecodeStep(next);
        }
        return all.ToArray();
    }

    [Fact]
    public void ConcurrentSessions_GiveExactlyWhatEachGivesAlone()
    {
        using var model = ModelCatalog.Find("baby-gpt")!.Create(V, 1);
        model.Initialize(3);
        var prompts = Enumerable.Range(0, 4).Select(s => Enumerable.Range(0, 3 + 5 * s).Select(i => (i * 7 + s * 11) % V).ToArray()).ToArray();
        const int steps = 24;
        var alone = prompts.Select(p => { using var s = model.CreateSession(); return Run(s, p, steps); }).ToArray();

        var sessions = prompts.Select(_ => model.CreateSession()).ToArray();
        try
        {
            for (int repeat = 0; repeat < 5; repeat++)
            {
                var results = new float[prompts.Length][];
                var threads = Enumerable.Range(0, prompts.Length)
                    .Select(i => new Thread(() => results[i] = Run(sessions[i], prompts[i], steps))).ToArray();
                foreach (var t in threads) t.Start();
                foreach (var t in threads) t.Join();
                for (int i = 0; i < prompts.Length; i++)
                    Assert.True(alone[i].AsSpan().SequenceEqual(results[i]), $"repeat {repeat}: session {i} differs from its run alone");
            }
        }
        finally
        {
            foreach (var s in sessions) s.Dispose();
        }
    }

    [Fact]
    public void Sessions_KeepTheirOwnCache_WhenInterleaved()
    {
        using var model = new TinyGpt(7, 1);
        model.Initialize(2);
        using var a = model.CreateSession();
        using var b = model.CreateSession();
        int[] pa = [1, 2, 3], pb = [4, 5];
        var expectA = Run(a, pa, 3);
        var expectB = Run(b, pb, 3);
        // Interleave: prefill both, then alternate steps; each must match its own uninterrupted run.
        var got = new[] { new List<float>(a.Prefill(pa).ToArray()), new List<float>(b.Prefill(pb).ToArray()) };
        var sessions = new[] { a, b };
        for (int step = 0; step < 3; step++)
            for (int k = 0; k < 2; k++)
            {
                var last = got[k].GetRange(got[k].Count - 7, 7);
                int next = last.IndexOf(last.Max());
                got[k].AddRange(sessions[k].DecodeStep(next).ToArray());
            }
        Assert.Equal(expectA, got[0].ToArray());
        Assert.Equal(expectB, got[1].ToArray());
        Assert.Equal(6, a.CachedPositions);
        Assert.Equal(5, b.CachedPositions);
    }

    [Fact]
    public void WindowModels_HaveNoSessions()
    {
        using var model = ModelCatalog.Find("char-mlp")!.Create(V, 1);
        Assert.Throws<InvalidOperationException>(() => model.CreateSession());
    }

    [Fact]
    public void FrozenBase_BackwardRuns_WithoutWeightGradients_AndLeavesWeightsAlone()
    {
        using var model = new TinyGpt(7, 2);
        model.Initialize(4);
        model.EnableAdapterTraining();
        var before = model.Weights.ToArray();
        int[] x = [1, 2, 3, 4, 5, 6, 0, 1], y = [2, 3, 4, 5, 6, 0, 1, 2];
        float loss = model.Forward(x, y, 2, 4, training: true);
        model.Backward();
        Assert.True(float.IsFinite(loss));
        Assert.True(model.BaseFrozen);
        Assert.False(model.TrainingEnabled);
        Assert.Throws<InvalidOperationException>(() => model.Gradients.Length);
        Assert.Throws<InvalidOperationException>(() => model.EnableTraining());
        Assert.Equal(before, model.Weights.ToArray());
    }
}
