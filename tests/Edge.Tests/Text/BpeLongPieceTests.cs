using System.Buffers.Binary;
using System.Text;
using Edge.Tests.Support;
using Edge.Text;
using Xunit;

namespace Edge.Tests.Text;

/// <summary>
/// Long pieces (BpeTokenizer.LongPieces.cs): the bucket queue and the windows equal encoder.py's scan, the proof
/// that a window may end at a boundary holds on GPT-2's vocab, and a long word is encoded from bounded buffers.
/// The exactness against GPT-2's own encoder on long and pathological pieces is in <see cref="BpeExactnessTests"/>.
/// </summary>
public class BpeLongPieceTests
{
    static BpeTokenizer Gpt2 => BpeExactnessTests.Gpt2.Value;

    /// <summary>GPT-2's vocab with its own piece length for the queue and its own window.</summary>
    internal static BpeTokenizer Gpt2With(int queueThreshold, int window)
    {
        var t = BpeTokenizer.FromGpt2Files(BpeReference.Encoder, BpeReference.Merges);
        t.QueueThreshold = queueThreshold;
        t.Window = window;
        return t;
    }

    static string ShakespeareLetters(int length) =>
        new([.. File.ReadAllText(TestData.File("tinyshakespeare.txt")).Where(char.IsAsciiLetter).Take(length)]);

    [Fact]
    public void Gpt2_merge_list_is_monotone()
    {
        Assert.True(Gpt2.MonotoneMerges);
    }

    /// <summary>"ab c" ranks before "a b" makes "ab": the round of "a b" creates a pair that outranks it, so no windows.</summary>
    [Fact]
    public void A_merge_list_that_uses_a_token_before_making_it_is_not_monotone()
    {
        using var dir = new TempDir();
        var tok = Vocab(dir, ["ab c", "a b", "b c"]);
        Assert.False(tok.MonotoneMerges);
        tok.QueueThreshold = 1;
        Assert.Equal(["abc", "ab", "abc"], tok.Encode("abcababc").Select(tok.Token));   // rounds: "a b" (rank 1), then "ab c" (rank 0)
    }

    /// <summary>
    /// The bucket queue must equal encoder.py's scan even for merges in a scrambled order, where a pair a merge
    /// creates can outrank the pair being merged: random vocabs over 'a' 'b' 'c', long random words.
    /// </summary>
    [Fact]
    public void Queue_and_scan_merges_agree_on_scrambled_merge_orders()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 20; trial++)
        {
            var merges = new List<string>();
            string[] made = ["a", "b", "c"];
            for (int m = 0; m < 40; m++)
            {
                string x = made[rng.Next(made.Length)], y = made[rng.Next(made.Length)];
                if (merges.Contains(x + " " + y) || x.Length + y.Length > 8) continue;
                merges.Add(x + " " + y);
                made = [.. made, x + y];
            }
            merges = merges.OrderBy(_ => rng.Next()).ToList();
            using var dir = new TempDir();
            var scan = Vocab(dir, merges);
            var queue = Vocab(dir, merges);
            scan.QueueThreshold = int.MaxValue;
            queue.QueueThreshold = 1;
            for (int i = 0; i < 50; i++)
            {
                string word = new(Enumerable.Range(0, rng.Next(2, 200)).Select(_ => "abc"[rng.Next(3)]).ToArray());
                Assert.Equal(scan.Encode(word), queue.Encode(word));
            }
        }
    }

    /// <summary>
    /// Random monotone merge lists over 'a' 'b' 'c' (each merge joins tokens made before it, each token made once),
    /// words with runs, cycles and noise, windows of 4 to 32 bytes: the windows give the scan's ids, and they are
    /// really used (boundaries get proved inside the pieces).
    /// </summary>
    [Fact]
    public void Windowed_merges_equal_the_scan_on_random_monotone_merge_lists()
    {
        var rng = new Random(12);
        long proved = 0;
        for (int trial = 0; trial < 30; trial++)
        {
            var merges = new List<string>();
            var made = new List<string> { "a", "b", "c" };
            while (merges.Count < 30)
            {
                string x = made[rng.Next(made.Count)], y = made[rng.Next(made.Count)];
                if (made.Contains(x + y) || x.Length + y.Length > 10) continue;
                merges.Add(x + " " + y);
                made.Add(x + y);
            }
            using var dir = new TempDir();
            var scan = Vocab(dir, merges);
            var windows = Vocab(dir, merges);
            Assert.True(windows.MonotoneMerges);
            scan.QueueThreshold = int.MaxValue;
            windows.QueueThreshold = 1;
            windows.Window = 4 << rng.Next(4);
            for (int i = 0; i < 20; i++)
            {
                string word = Word(rng, rng.Next(50, 1500));
                Assert.Equal(scan.Encode(word), windows.Encode(word));
            }
            proved += windows.ProvedBoundaries;
        }
        Assert.True(proved > 1000, $"only {proved} window boundaries proved");
    }

    /// <summary>
    /// The proof a window relies on, checked on GPT-2's vocab: wherever it says the boundary after X's last token is
    /// final before the rest R, X ++ R encodes as X then R. Random letter strings, cut at every byte.
    /// </summary>
    [Fact]
    public void A_boundary_proved_final_splits_gpt2_encoding()
    {
        var scan = Gpt2With(queueThreshold: int.MaxValue, window: int.MaxValue);
        var rng = new Random(13);
        string letters = ShakespeareLetters(200_000);
        int proved = 0, tried = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            int at = rng.Next(letters.Length - 60);
            byte[] s = Encoding.ASCII.GetBytes(letters.Substring(at, rng.Next(10, 60)));
            if (rng.Next(4) == 0) s.AsSpan(0, rng.Next(s.Length)).Fill((byte)"aez"[rng.Next(3)]);     // runs too
            int[] whole = scan.Encode(s);
            for (int b = 1; b < s.Length; b++)
            {
                int[] left = scan.Encode(s.AsSpan(0, b));
                tried++;
                if (!scan.IsFinalBoundary(left[^1], s.AsSpan(b))) continue;
                proved++;
                int[] split = [.. left, .. scan.Encode(s.AsSpan(b))];
                Assert.Equal(whole, split);
            }
        }
        Assert.True(proved > tried / 10, $"the proof held at {proved} of {tried} cuts");
    }

    [Fact]
    public void A_long_word_is_merged_in_windows_with_the_ids_of_one_merge()
    {
        var whole = Gpt2With(queueThreshold: 128, window: int.MaxValue);
        var windows = Gpt2With(queueThreshold: 128, window: 256);
        string word = ShakespeareLetters(100_000);
        Assert.Equal(whole.Encode(word), windows.Encode(word));
        Assert.True(windows.ProvedBoundaries > 100_000 / 256, $"{windows.ProvedBoundaries} boundaries proved");
        Assert.Equal(0, whole.ProvedBoundaries);
    }

    /// <summary>
    /// A word that repeats itself (200 KB of random letters, 20 times) meets the same windows again: after the first
    /// copy they come from the window cache, and the ids are still those of one merge over the whole word.
    /// </summary>
    [Fact]
    public void A_word_that_repeats_itself_reuses_its_merged_windows()
    {
        var rng = new Random(15);
        string unit = new([.. Enumerable.Range(0, 200_000).Select(_ => (char)('a' + rng.Next(26)))]);
        string word = string.Concat(Enumerable.Repeat(unit, 20));
        var whole = Gpt2With(queueThreshold: 128, window: int.MaxValue);
        var windows = Gpt2With(queueThreshold: 128, window: 1 << 14);
        Assert.Equal(whole.Encode(word), windows.Encode(word));
        long perCopy = unit.Length / (1 << 14), proved = windows.ProvedBoundaries;
        Assert.True(proved >= 20 * perCopy, $"{proved} boundaries proved");
        Assert.True(windows.WindowsMerged < 3 * perCopy, $"{windows.WindowsMerged} of {proved + 1} windows merged");
    }

    /// <summary>A window cache that fills up without a hit keeps one merged window in 16 after, until a lookup hits.</summary>
    [Fact]
    public void A_window_cache_that_never_hits_turns_sparse_until_it_hits()
    {
        var cache = new BpeWindowCache();
        var window = new byte[1 << 20];
        int added = 0;
        for (; cache.Keeps(); added++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(window, added);
            cache.Add(window, [added]);
        }
        Assert.Equal(32, added);                  // 32 MB of windows filled it, the 33rd was not kept
        Assert.InRange(Enumerable.Range(0, 160).Count(_ => cache.Keeps()), 9, 11);
        BinaryPrimitives.WriteInt32LittleEndian(window, -1);
        cache.Add(window, [7]);
        Assert.True(cache.TryGet(window, out var ids));
        Assert.Equal([7], ids);
        Assert.True(Enumerable.Range(0, 32).All(_ => cache.Keeps()));
    }

    /// <summary>Once warm, a 2 MB word encodes into a list with room without allocating: every buffer is bounded and reused.</summary>
    [Fact]
    public void Encoding_a_long_word_allocates_nothing_once_warm()
    {
        byte[] word = Encoding.ASCII.GetBytes(ShakespeareLetters(2_000_000));
        var ids = new List<int>(word.Length);
        Gpt2.Encode(word, ids);
        int count = ids.Count;
        ids.Clear();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Gpt2.Encode(word, ids);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(count, ids.Count);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Encoding_text_allocates_nothing_once_warm()
    {
        byte[] text = File.ReadAllBytes(TestData.File("tinyshakespeare.txt"));
        var ids = new List<int>(text.Length);
        Gpt2.Encode(text, ids);
        ids.Clear();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Gpt2.Encode(text, ids);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    static string Word(Random rng, int length)
    {
        var sb = new StringBuilder(length);
        while (sb.Length < length)
        {
            string unit = rng.Next(4) switch { 0 => "a", 1 => "ab", 2 => "abc", _ => ((char)('a' + rng.Next(3))).ToString() };
            sb.Insert(sb.Length, unit, rng.Next(4) == 0 ? rng.Next(1, 40) : 1);
        }
        return sb.ToString(0, length);
    }

    /// <summary>A byte-level vocab in <paramref name="dir"/>: the 256 byte tokens, then what <paramref name="merges"/> make, loaded back.</summary>
    static BpeTokenizer Vocab(TempDir dir, IReadOnlyList<string> merges)
    {
        var tokens = Enumerable.Range(0, 256).Select(b => BpePreTokenizer.ByteChars[b].ToString()).ToList();
        foreach (var m in merges)
            if (!tokens.Contains(m.Replace(" ", ""))) tokens.Add(m.Replace(" ", ""));
        File.WriteAllText(dir.File("vocab.json"), "{" + string.Join(",", tokens.Select((t, i) => $"\"{(t == "\"" || t == "\\" ? "\\" + t : t)}\":{i}")) + "}");
        File.WriteAllText(dir.File("merges.txt"), "#version: 0.2\n" + string.Join("\n", merges) + "\n");
        return BpeTokenizer.FromHuggingFace(dir.File("vocab.json"), dir.File("merges.txt"));
    }
}
