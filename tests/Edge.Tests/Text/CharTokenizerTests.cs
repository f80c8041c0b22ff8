using System.Text;
using Edge.Text;
using Xunit;

namespace Edge.Tests.Text;

public class CharTokenizerTests
{
    [Fact]
    public void Round_trips_text_with_emoji_cjk_and_accents()
    {
        const string text = "Café naïve 😀 日本語 👍🏽 Ωmega\n";
        var tok = CharTokenizer.FromText(text);
        var ids = tok.Encode(text);
        Assert.Equal(text.EnumerateRunes().Count(), ids.Length);
        Assert.Equal(text, tok.Decode(ids));
    }

    [Fact]
    public void Non_bmp_characters_are_one_token_each()
    {
        var tok = CharTokenizer.FromText("a😀b");
        Assert.Equal(3, tok.VocabSize);
        Assert.Equal("😀", tok.Symbol(tok.Encode("😀").Single()));
    }

    [Fact]
    public void Vocabulary_is_sorted_by_code_point()
    {
        var tok = CharTokenizer.FromText("😀ba é\n");
        var symbols = Enumerable.Range(0, tok.VocabSize).Select(tok.Symbol).ToArray();
        Assert.Equal(new[] { "\n", " ", "a", "b", "é", "😀" }, symbols);
        Assert.Null(tok.MarkerId);
    }

    [Fact]
    public void Marker_gets_id_0_and_letters_follow_in_code_point_order()
    {
        var tok = CharTokenizer.FromText("emma\nolivia\nava", new Rune('.'));
        Assert.Equal(0, tok.MarkerId);
        Assert.Equal(".", tok.Symbol(0));
        Assert.Equal("\n", tok.Symbol(1));
        Assert.Equal(new[] { 2, 3, 4, 5, 6, 7, 8 }, tok.Encode("aeilmov"));
        Assert.True(tok.TryGetId(new Rune('.'), out int id) && id == 0);
    }

    [Fact]
    public void Marker_already_in_text_is_refused()
    {
        var e = Assert.Throws<EdgeException>(() => CharTokenizer.FromText("a.b", new Rune('.')));
        Assert.Contains("'.' (U+002E)", e.Message);
    }

    [Fact]
    public void Text_that_was_not_valid_utf8_is_called_that()
    {
        // Invalid bytes on a command line reach the program as U+FFFD: say what that means rather than "not in the vocabulary".
        var tok = CharTokenizer.FromText("abc");
        var e = Assert.Throws<EdgeException>(() => tok.Encode("ab\uFFFDc"));
        Assert.Contains("position 2 holds U+FFFD", e.Message);
        Assert.Contains("not valid UTF-8", e.Message);
    }

    [Fact]
    public void Json_round_trip_keeps_symbols_and_marker()
    {
        var tok = CharTokenizer.FromText("ab \"\\\n\t日😀é", new Rune('.'));
        var back = CharTokenizer.FromJson(tok.ToJson());
        Assert.Equal(tok.VocabSize, back.VocabSize);
        Assert.Equal(tok.MarkerId, back.MarkerId);
        for (int i = 0; i < tok.VocabSize; i++) Assert.Equal(tok.Symbol(i), back.Symbol(i));

        var plain = CharTokenizer.FromJson(CharTokenizer.FromText("xyz").ToJson());
        Assert.Null(plain.MarkerId);
        Assert.Equal("zyx", plain.Decode(plain.Encode("zyx")));
    }

    [Fact]
    public void Json_has_the_documented_shape()
    {
        Assert.Equal("{\"symbols\":[\".\",\"a\",\"b\"],\"marker\":0}", CharTokenizer.FromText("ba", new Rune('.')).ToJson());
        Assert.Equal("{\"symbols\":[\"a\"],\"marker\":null}", CharTokenizer.FromText("a").ToJson());
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"symbols\":[1]}")]
    [InlineData("{\"symbols\":[\"a\"],\"marker\":\"x\"}")]
    [InlineData("{\"symbols\":[\"a\"],\"marker\":5}")]
    [InlineData("{\"symbols\":[\"ab\"]}")]
    [InlineData("{\"symbols\":[\"\\uD800\"]}")]
    public void Malformed_json_is_refused(string json)
    {
        var e = Assert.Throws<EdgeException>(() => CharTokenizer.FromJson(json));
        Assert.StartsWith("tokenizer vocabulary", e.Message);
    }

    [Fact]
    public void Unknown_character_error_names_the_character_and_position()
    {
        var tok = CharTokenizer.FromText("abc 😀");
        var e = Assert.Throws<EdgeException>(() => tok.Encode("ab😀 cxa"));
        Assert.Equal("character 'x' (U+0078) at position 5 is not in the model's vocabulary", e.Message);

        e = Assert.Throws<EdgeException>(() => tok.Encode("a日"));
        Assert.Equal("character '日' (U+65E5) at position 1 is not in the model's vocabulary", e.Message);

        e = Assert.Throws<EdgeException>(() => tok.Encode("a\nb"));
        Assert.Equal("character '\\n' (U+000A) at position 1 is not in the model's vocabulary", e.Message);
    }

    [Fact]
    public void Encode_into_list_appends_and_leaves_list_unchanged_on_error()
    {
        var tok = CharTokenizer.FromText("ab😀");
        var list = new List<int> { 42 };
        tok.Encode("b😀a", list);
        Assert.Equal(new[] { 42, 1, 2, 0 }, list);
        Assert.Throws<EdgeException>(() => tok.Encode("abz", list));
        Assert.Equal(new[] { 42, 1, 2, 0 }, list);
    }

    [Fact]
    public void Unpaired_surrogate_is_refused()
    {
        var tok = CharTokenizer.FromText("ab");
        Assert.Contains("unpaired surrogate", Assert.Throws<EdgeException>(() => tok.Encode("a\uD800b")).Message);
        Assert.Contains("unpaired surrogate", Assert.Throws<EdgeException>(() => CharTokenizer.FromText("a\uDC00")).Message);
    }

    [Fact]
    public void Bad_stored_vocabulary_is_refused()
    {
        Assert.Contains("not exactly one character", Assert.Throws<EdgeException>(() => new CharTokenizer(["a", "bc"])).Message);
        Assert.Contains("not exactly one character", Assert.Throws<EdgeException>(() => new CharTokenizer(["a", ""])).Message);
        Assert.Contains("not exactly one character", Assert.Throws<EdgeException>(() => new CharTokenizer(["\uD800"])).Message);
        Assert.Contains("duplicates symbol 0", Assert.Throws<EdgeException>(() => new CharTokenizer(["😀", "a", "😀"])).Message);
        Assert.Contains("duplicates symbol 1", Assert.Throws<EdgeException>(() => new CharTokenizer(["b", "a", "a"])).Message);
        Assert.Contains("marker id 3", Assert.Throws<EdgeException>(() => new CharTokenizer(["a", "b"], 3)).Message);
        Assert.Contains("empty", Assert.Throws<EdgeException>(() => new CharTokenizer([])).Message);
    }

    [Fact]
    public void Stored_vocabulary_keeps_its_order()
    {
        var tok = new CharTokenizer(["z", "😀", "a"], markerId: 1);
        Assert.Equal(new[] { 0, 2, 1 }, tok.Encode("za😀"));
        Assert.Equal(1, tok.MarkerId);
    }

    [Fact]
    public void Decode_refuses_ids_outside_the_vocabulary()
    {
        var tok = CharTokenizer.FromText("ab");
        Assert.Contains("token id 2", Assert.Throws<EdgeException>(() => tok.Decode([0, 2])).Message);
        Assert.Throws<EdgeException>(() => tok.Decode([-1]));
    }
}
