using Edge.Data;
using Xunit;

namespace Edge.Tests.Data;

public class DataSplitsTests
{
    const int Marker = 0;

    /// <summary>Distinct lines: line i is [i+1, i+1] (never the marker).</summary>
    static List<int[]> Lines(int n) => Enumerable.Range(1, n).Select(i => new[] { i, i }).ToList();

    /// <summary>The lines an example set was made from, in order: each line ends where the target is the marker.</summary>
    static List<int> FirstTokens(ExampleSet set)
    {
        var firsts = new List<int>();
        var x = new int[set.InputLength];
        var y = new int[1];
        bool start = true;
        for (int i = 0; i < set.Count; i++)
        {
            set.Fill(i, x, y);
            if (start) firsts.Add(y[0]);
            start = y[0] == Marker;
        }
        return firsts;
    }

    [Fact]
    public void Text_splits_90_10_contiguously()
    {
        var tokens = Enumerable.Range(0, 1000).ToArray();
        var s = DataSplits.FromText(tokens, 8, sequenceTargets: true);
        Assert.Null(s.Test);
        Assert.Equal(900 - 8, s.Train.Count);
        Assert.Equal(100 - 8, s.Val.Count);
        var (x, y) = (new int[8], new int[8]);
        s.Train.Fill(s.Train.Count - 1, x, y);
        Assert.Equal(899, y[^1]);                  // train ends at token 899
        s.Val.Fill(0, x, y);
        Assert.Equal(900, x[0]);                   // val starts at token 900
    }

    [Fact]
    public void Text_split_honours_the_train_fraction()
    {
        var s = DataSplits.FromText(Enumerable.Range(0, 100).ToArray(), 4, sequenceTargets: false, trainFraction: 0.75);
        Assert.Equal(75 - 4, s.Train.Count);
        Assert.Equal(25 - 4, s.Val.Count);
    }

    [Fact]
    public void Text_too_small_for_a_split_says_how_much_is_needed()
    {
        var e = Assert.Throws<EdgeException>(() => DataSplits.FromText(Enumerable.Range(0, 50).ToArray(), 8, true));
        Assert.Equal("the data is too small: 50 tokens split 90/10 give 45 train and 5 validation tokens, " +
                     "but a context of 8 needs at least 9 in each (81 tokens in all)", e.Message);
        DataSplits.FromText(new int[81], 8, true);  // the stated minimum works
        Assert.Throws<EdgeException>(() => DataSplits.FromText(new int[80], 8, true));
        Assert.Throws<EdgeException>(() => DataSplits.FromText(new int[100], 8, true, trainFraction: 1.0));
    }

    [Fact]
    public void Lines_split_80_10_10()
    {
        var s = DataSplits.FromLines(Lines(100), 3, Marker, seed: 42);
        Assert.Equal(80, FirstTokens(s.Train).Count);
        Assert.Equal(10, FirstTokens(s.Val).Count);
        Assert.Equal(10, FirstTokens(s.Test!).Count);
        Assert.Equal(80 * 3, s.Train.Count);       // two tokens + marker per line

        s = DataSplits.FromLines(Lines(33), 3, Marker, seed: 1); // n1 = 26, n2 = 29
        Assert.Equal((26, 3, 4), (FirstTokens(s.Train).Count, FirstTokens(s.Val).Count, FirstTokens(s.Test!).Count));
    }

    [Fact]
    public void Lines_split_is_disjoint_and_covers_all_lines()
    {
        var s = DataSplits.FromLines(Lines(57), 2, Marker, seed: 7);
        var all = FirstTokens(s.Train).Concat(FirstTokens(s.Val)).Concat(FirstTokens(s.Test!)).ToList();
        Assert.Equal(57, all.Count);
        Assert.Equal(Enumerable.Range(1, 57), all.Order());
    }

    [Fact]
    public void Same_seed_gives_same_split_and_different_seed_a_different_order()
    {
        var lines = Lines(200);
        var a = DataSplits.FromLines(lines, 3, Marker, seed: 5);
        var b = DataSplits.FromLines(lines, 3, Marker, seed: 5);
        var c = DataSplits.FromLines(lines, 3, Marker, seed: 6);
        Assert.Equal(FirstTokens(a.Train), FirstTokens(b.Train));
        Assert.Equal(FirstTokens(a.Val), FirstTokens(b.Val));
        Assert.Equal(FirstTokens(a.Test!), FirstTokens(b.Test!));
        Assert.NotEqual(FirstTokens(a.Train), FirstTokens(c.Train));
        Assert.NotEqual(Enumerable.Range(1, 160), FirstTokens(a.Train)); // actually shuffled
    }

    [Fact]
    public void Lines_split_leaves_the_callers_list_alone()
    {
        var lines = Lines(20);
        var copy = lines.ToList();
        DataSplits.FromLines(lines, 3, Marker, seed: 9);
        Assert.Equal(copy, lines);
    }

    [Fact]
    public void Too_few_lines_are_refused_saying_how_many_are_needed()
    {
        var e = Assert.Throws<EdgeException>(() => DataSplits.FromLines(Lines(5), 3, Marker, seed: 1));
        Assert.Equal("the data is too small: 5 lines split 80/10/10 give 4 train, 0 validation and 1 test lines; " +
                     "at least 6 non-empty lines are needed", e.Message);
        DataSplits.FromLines(Lines(6), 3, Marker, seed: 1);
        Assert.Throws<EdgeException>(() => DataSplits.FromLines(Lines(0), 3, Marker, seed: 1));
    }
}
