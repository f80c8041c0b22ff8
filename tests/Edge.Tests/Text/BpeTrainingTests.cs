using System.Text;
using Edge.Tests.Support;
using Edge.Text;
using Xunit;

namespace Edge.Tests.Text;

public class BpeTrainingTests
{
    static readonly Lazy<string> Corpus = new(() => File.ReadAllText(TestData.File("tinyshakespeare.txt"))[..30000]);
    static readonly Lazy<BpeTokenizer> Trained = new(() => BpeTokenizer.Train(Corpus.Value, 300));

    [Fact]
    public void Training_yields_the_requested_vocab_and_compresses_the_corpus()
    {
        var tok = Trained.Value;
        Assert.Equal(300, tok.VocabSize);
        Assert.Equal(44, tok.MergeCount);
        for (int b = 0; b < 256; b++) Assert.Equal([(byte)b], tok.TokenBytes(b).ToArray());
        var ids = tok.Encode(Corpus.Value);
        Assert.True(ids.Length < Encoding.UTF8.GetByteCount(Corpus.Value) * 0.8, $"{ids.Length} tokens for {Corpus.Value.Length} bytes");
        Assert.Equal(Corpus.Value, tok.Decode(ids));
    }

    [Fact]
    public void A_trained_tokenizer_round_trips_arbitrary_text_and_bytes()
    {
        var tok = Trained.Value;
        foreach (var text in new[] { "Unseen words: zyzzyva, 日本語, 🤖👩‍👩‍👧, naïve café\n\n\t  x", "", "<|endoftext|>" })
            Assert.Equal(text, tok.Decode(tok.Encode(text)));
        var rng = new Random(3);
        for (int i = 0; i < 200; i++)
        {
            var bytes = new byte[rng.Next(0, 100)];
            rng.NextBytes(bytes);
            Assert.Equal(bytes, tok.DecodeBytes(tok.Encode(bytes)));
        }
    }

    [Fact]
    public void Training_is_deterministic()
    {
        var again = BpeTokenizer.Train(Corpus.Value, 300);
        for (int id = 0; id < 300; id++) Assert.Equal(Trained.Value.Token(id), again.Token(id));
        Assert.Equal(Trained.Value.Encode(Corpus.Value), again.Encode(Corpus.Value));
    }

    [Fact]
    public void Saved_and_reloaded_it_gives_the_same_ids()
    {
        using var dir = new TempDir();
        Trained.Value.SaveHuggingFace(dir.Path);
        Assert.Equal(["merges.txt", "vocab.json"], Directory.GetFiles(dir.Path).Select(f => Path.GetFileName(f)).Order());
        var back = BpeTokenizer.FromHuggingFace(dir.File("vocab.json"), dir.File("merges.txt"));
        const string text = "To be, or not to be, that is the question: 1234 ünïcödé 🤖";
        Assert.Equal(Trained.Value.Encode(text), back.Encode(text));
        Assert.Equal(Trained.Value.Encode(Corpus.Value), back.Encode(Corpus.Value));
    }

    /// <summary>The incremental counts pick the same merges as recounting every pair at every step (minbpe's way).</summary>
    [Fact]
    public void Merges_match_a_naive_trainer()
    {
        using var dir = new TempDir();
        Trained.Value.SaveHuggingFace(dir.Path);
        var merges = File.ReadAllLines(dir.File("merges.txt")).Skip(1);
        Assert.Equal(NaiveMerges(Corpus.Value, 44), merges);
    }

    [Fact]
    public void Special_tokens_come_last_and_are_recognised()
    {
        var tok = BpeTokenizer.Train(Corpus.Value + "<|endoftext|>" + Corpus.Value, 300, ["<|endoftext|>", "<|pad|>"]);
        Assert.Equal(300, tok.VocabSize);
        Assert.Equal(298, tok.EndOfText);
        Assert.Equal("<|pad|>", tok.Token(299));
        Assert.Equal(["<|endoftext|>", "<|pad|>"], tok.SpecialTokens);
        var ids = tok.Encode("a<|endoftext|>b<|pad|>");
        Assert.Equal([298], ids.Where(id => id == 298));
        Assert.Equal(299, ids[^1]);
        Assert.DoesNotContain(298, tok.Encode("a<|endoftext|>b", allowSpecial: false));

        using var dir = new TempDir();
        tok.SaveHuggingFace(dir.Path);
        var back = BpeTokenizer.FromDirectory(dir.Path);
        Assert.Equal(298, back.EndOfText);
        Assert.Equal(ids, back.Encode("a<|endoftext|>b<|pad|>"));
    }

    [Fact]
    public void Impossible_requests_are_refused()
    {
        Assert.Contains("too small", Assert.Throws<EdgeException>(() => BpeTokenizer.Train("abc", 255)).Message);
        Assert.Contains("too small", Assert.Throws<EdgeException>(() => BpeTokenizer.Train("abc", 256, ["<s>"])).Message);
        Assert.Contains("too few", Assert.Throws<EdgeException>(() => BpeTokenizer.Train("ab ab", 300)).Message);
        Assert.Throws<EdgeException>(() => BpeTokenizer.Train("abc", 300, ["<s>", "<s>"]));
        Assert.Throws<EdgeException>(() => BpeTokenizer.Train("abc", 300, [""]));
    }

    static List<string> NaiveMerges(string text, int count)
    {
        var pieces = new Dictionary<string, long>();
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        for (int i = 0, end; i < bytes.Length; i = end)
        {
            end = BpePreTokenizer.PieceEnd(bytes, i);
            string key = Convert.ToHexString(bytes, i, end - i);
            pieces[key] = pieces.GetValueOrDefault(key) + 1;
        }
        var words = pieces.Select(p => (Ids: Convert.FromHexString(p.Key).Select(b => (int)b).ToList(), Count: p.Value)).ToList();
        var tokens = Enumerable.Range(0, 256).Select(b => BpePreTokenizer.ByteChars[b].ToString()).ToList();
        var merges = new List<string>();
        for (int step = 0; step < count; step++)
        {
            var pairs = new Dictionary<(int, int), long>();
            foreach (var (ids, n) in words)
                for (int i = 0; i + 1 < ids.Count; i++) pairs[(ids[i], ids[i + 1])] = pairs.GetValueOrDefault((ids[i], ids[i + 1])) + n;
            var (a, b) = pairs.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1).ThenBy(p => p.Key.Item2).First().Key;
            string merged = tokens[a] + tokens[b];
            int id = tokens.IndexOf(merged);
            if (id < 0) { id = tokens.Count; tokens.Add(merged); }
            merges.Add(tokens[a] + " " + tokens[b]);
            foreach (var (ids, _) in words)
                for (int i = 0; i + 1 < ids.Count; i++)
                    if (ids[i] == a && ids[i + 1] == b) { ids[i] = id; ids.RemoveAt(i + 1); }
        }
        return merges;
    }
}
