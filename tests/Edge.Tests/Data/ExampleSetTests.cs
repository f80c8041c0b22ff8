using System.Text;
using Edge.Data;
using Edge.Text;
using Xunit;
using Edge.Tests.Kernels;

namespace Edge.Tests.Data;

public class ExampleSetTests
{
    /// <summary>Example i as "inputs -> targets".</summary>
    static string Row(ExampleSet set, int i)
    {
        var x = new int[set.InputLength];
        var y = new int[set.TargetLength];
        set.Fill(i, x, y);
        return $"{string.Join(' ', x)} -> {string.Join(' ', y)}";
    }

    [Fact]
    public void Stream_windows_with_next_token_target()
    {
        int[] tokens = [10, 11, 12, 13, 14, 15];
        var set = ExampleSet.FromStream(tokens, 3, sequenceTargets: false);
        Assert.Equal((3, 3, 1), (set.Count, set.InputLength, set.TargetLength));
        Assert.Equal("10 11 12 -> 13", Row(set, 0));
        Assert.Equal("11 12 13 -> 14", Row(set, 1));
        Assert.Equal("12 13 14 -> 15", Row(set, 2));
    }

    [Fact]
    public void Stream_windows_with_sequence_targets()
    {
        int[] tokens = [10, 11, 12, 13, 14, 15];
        var set = ExampleSet.FromStream(tokens, 4, sequenceTargets: true);
        Assert.Equal((2, 4, 4), (set.Count, set.InputLength, set.TargetLength));
        Assert.Equal("10 11 12 13 -> 11 12 13 14", Row(set, 0));
        Assert.Equal("11 12 13 14 -> 12 13 14 15", Row(set, 1));
    }

    [Fact]
    public void Stream_too_short_says_how_many_tokens_are_needed()
    {
        var e = Assert.Throws<EdgeException>(() => ExampleSet.FromStream([1, 2, 3], 3, true));
        Assert.Equal("the text is too short for a context of 3: it has 3 tokens and needs at least 4", e.Message);
        Assert.Throws<EdgeException>(() => ExampleSet.FromStream([1, 2, 3], 0, true));
    }

    [Fact]
    public void Lines_reproduce_makemore_emma_example()
    {
        var tok = CharTokenizer.FromText("emma", new Rune('.'));
        var set = ExampleSet.FromLines([tok.Encode("emma")], context: 3, marker: tok.MarkerId!.Value);
        Assert.Equal((5, 3, 1), (set.Count, set.InputLength, set.TargetLength));
        var examples = Enumerable.Range(0, set.Count).Select(i =>
        {
            var (x, y) = (new int[3], new int[1]);
            set.Fill(i, x, y);
            return $"{tok.Decode(x)} -> {tok.Decode(y)}";
        });
        Assert.Equal(["... -> e", "..e -> m", ".em -> m", "emm -> a", "mma -> ."], examples);
    }

    [Fact]
    public void Lines_restart_the_context_at_each_line()
    {
        var set = ExampleSet.FromLines([[1, 2], [3]], context: 2, marker: 0);
        Assert.Equal(5, set.Count);
        Assert.Equal("0 0 -> 1", Row(set, 0));
        Assert.Equal("0 1 -> 2", Row(set, 1));
        Assert.Equal("1 2 -> 0", Row(set, 2));
        Assert.Equal("0 0 -> 3", Row(set, 3));
        Assert.Equal("0 3 -> 0", Row(set, 4));
    }

    [Fact]
    public void Lines_with_context_1_are_bigrams()
    {
        var set = ExampleSet.FromLines([[4, 5]], context: 1, marker: 0);
        Assert.Equal(["0 -> 4", "4 -> 5", "5 -> 0"], Enumerable.Range(0, set.Count).Select(i => Row(set, i)));
    }

    [Fact]
    public void Fill_checks_index_and_span_lengths()
    {
        var set = ExampleSet.FromStream([1, 2, 3, 4], 2, false);
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Fill(2, new int[2], new int[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Fill(-1, new int[2], new int[1]));
        Assert.Throws<ArgumentException>(() => set.Fill(0, new int[2], new int[2]));
    }

    [Fact]
    public void Fill_allocates_nothing()
    {
        var tokens = Enumerable.Range(0, 500).ToArray();
        var lines = Enumerable.Range(0, 50).Select(i => new[] { i, i + 1, i + 2 }).ToList();
        foreach (var set in new[] { ExampleSet.FromStream(tokens, 16, true), ExampleSet.FromStream(tokens, 16, false), ExampleSet.FromLines(lines, 4, 0) })
        {
            var x = new int[set.InputLength];
            var y = new int[set.TargetLength];
            set.Fill(0, x, y);
            int i = 0;
            Expect.AllocatesNothing(() => set.Fill(i++ % set.Count, x, y), "Fill", warmUp: 0, calls: 1000);
        }
    }
}
