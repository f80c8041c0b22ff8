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
}
