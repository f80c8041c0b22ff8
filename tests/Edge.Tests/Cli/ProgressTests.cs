using Edge.Cli;
using Edge.Data;
using Edge.Models;
using Edge.Tests.Support;
using Edge.Text;
using Edge.Training;
using Xunit;

namespace Edge.Tests.Cli;

/// <summary>The jobs the CLI splits up to show progress compute exactly what the one-call versions do.</summary>
public class ProgressTests
{
    [Theory]
    [InlineData("char-mlp")]
    [InlineData("baby-gpt")]
    public void Scoring_GivesExactlyTrainerEvaluate(string name)
    {
        var info = ModelCatalog.Find(name)!;
        const int vocab = 23;
        using var model = info.Create(vocab);
        model.Initialize(5);
        var rng = new Rng(9);
        var tokens = Enumerable.Range(0, 40 * info.Context + 7).Select(_ => rng.NextInt(vocab)).ToArray();
        var set = ExampleSet.FromStream(tokens, info.Context, info.SequenceTargets);
        using var context = model.CreateInferenceContext(16);
        double expected = Trainer.Evaluate(context, set, 16);
        Assert.Equal(expected, Scoring.Evaluate(context, set, quiet: true));
    }

    [Fact]
    public void EncodeInPieces_GivesExactlyTheIdsOfOneCall()
    {
        var bpe = BpeTokenizer.FromDirectory(Path.GetDirectoryName(TestData.File("gpt2/encoder.json"))!);
        var shakespeare = File.ReadAllText(TestData.File("tinyshakespeare.txt"))[..60_000];
        // The cases around a newline that GPT-2's pre-tokeniser treats differently: runs of spaces and newlines,
        // contractions, digits, punctuation, emoji, the end-of-text token.
        var tricky = string.Concat(Enumerable.Repeat("word\nNext  \nline \n\nX's\n's 42\n7x!\nend<|endoftext|>\nstart \U0001F916\nemoji\t\nTab\r\nCrlf\n", 300));
        foreach (var text in new[] { shakespeare, tricky, shakespeare + tricky })
            Assert.Equal(bpe.Encode(text), TokenizeCommand.Encode(bpe, text, quiet: true, piece: 997));
    }
}
