using Edge.Text;
using Xunit;

namespace Edge.Tests.Text;

public class BpePairMapTests
{
    /// <summary>Both layouts (one ulong a slot for values below 65535, 16 bytes otherwise) answer like a dictionary, ids up to 2^24 - 1 included.</summary>
    [Theory]
    [InlineData(0xFFFE)]
    [InlineData(1 << 20)]
    public void Lookups_match_a_dictionary(int maxValue)
    {
        var rng = new Random(maxValue);
        const int top = (1 << 24) - 1;
        var map = new BpePairMap(5000, maxValue);
        var expected = new Dictionary<long, int>();
        for (int i = 0; i < 5000; i++)
        {
            int left = i % 7 == 0 ? top : rng.Next(i % 3 == 0 ? 300 : top), right = i % 11 == 0 ? top : rng.Next(i % 3 == 0 ? 300 : top);
            long pair = BpePairMap.Pair(left, right);
            int value = i % 13 == 0 ? maxValue : rng.Next(maxValue);
            map.Set(pair, value);
            expected[pair] = value;
        }
        foreach (var (pair, value) in expected)
        {
            Assert.True(map.TryGetValue(pair, out int got));
            Assert.Equal(value, got);
        }
        for (int i = 0; i < 20000; i++)
        {
            long pair = BpePairMap.Pair(rng.Next(i % 2 == 0 ? 300 : top + 1), rng.Next(i % 2 == 0 ? 300 : top + 1));
            Assert.Equal(expected.TryGetValue(pair, out int value), map.TryGetValue(pair, out int got));
            Assert.Equal(value, got);
        }
        Assert.False(new BpePairMap(16, maxValue).TryGetValue(BpePairMap.Pair(top, top), out _));   // the packed layout's empty slot reads as that pair
    }

    /// <summary>GPT-2's ranks grouped by left and by right token give the whole-vocab table's answer, pair by pair.</summary>
    [Fact]
    public void Partner_maps_agree_with_the_pair_map()
    {
        var tok = BpeExactnessTests.Gpt2.Value;
        var ranks = tok.Ranks;
        var rng = new Random(14);
        int found = 0;
        for (int i = 0; i < 200_000; i++)
        {
            int left, right;
            if (i < tok.MergeCount) { long pair = tok.MergePair(i); (left, right) = ((int)(pair >> 32), (int)pair); }
            else (left, right) = (rng.Next(i % 2 == 0 ? 2000 : tok.VocabSize), rng.Next(i % 3 == 0 ? 2000 : tok.VocabSize));
            bool expected = tok.TryRank(left, right, out int rank);
            Assert.Equal(expected, ranks.ByLeft.TryGetRank(left, right, out int byLeft));
            Assert.Equal(expected, ranks.ByRight.TryGetRank(right, left, out int byRight));
            if (!expected) continue;
            found++;
            Assert.Equal(rank, byLeft);
            Assert.Equal(rank, byRight);
        }
        Assert.True(found >= tok.MergeCount);
    }
}
