using System.Text;
using Edge.Data;
using Edge.Text;

namespace Edge.Training;

/// <summary>Which characters a character vocabulary built from running text holds.</summary>
public enum CharVocabulary
{
    /// <summary>The text's characters, printable ASCII (U+0020..U+007E), tab, newline and U+0003, the end-of-text mark.</summary>
    Ascii,
    /// <summary>Exactly the text's characters (nanoGPT's choice: 65 for Tiny Shakespeare).</summary>
    Data,
}

/// <summary>Turns a corpus into a tokenizer and examples the way a model's data layout says.</summary>
public static class TrainingData
{
    /// <summary>The start/end marker of line data (makemore's '.').</summary>
    public static readonly Rune Marker = new('.');

    /// <summary>
    /// A tokenizer built from the corpus: for running text its characters plus printable ASCII, tab, newline and the
    /// end-of-text mark (<see cref="CharVocabulary.Ascii"/>, so a later template or instruction set never meets a
    /// missing '#'), or exactly its characters (<see cref="CharVocabulary.Data"/>, nanoGPT's vocabulary); for line data
    /// its characters plus the marker.
    /// </summary>
    public static CharTokenizer BuildTokenizer(string text, DataLayout layout, CharVocabulary vocabulary = CharVocabulary.Ascii) =>
        layout == DataLayout.Lines
            ? CharTokenizer.FromText(string.Concat(CorpusLines.Split(text)), Marker)
            : vocabulary == CharVocabulary.Ascii ? CharTokenizer.FromTextAndAscii(text) : CharTokenizer.FromText(text);

    /// <summary>Train/val(/test) splits: contiguous 90/10 for text; lines shuffled with <paramref name="splitSeed"/>, 80/10/10.</summary>
    public static DataSplits Split(string text, CharTokenizer tokenizer, ModelInfo model, DataLayout layout, ulong splitSeed) =>
        layout == DataLayout.Lines
            ? DataSplits.FromLines(EncodeLines(text, tokenizer), model.Context, tokenizer.MarkerId ?? throw MissingMarker(), splitSeed)
            : DataSplits.FromText(tokenizer.Encode(text), model.Context, model.SequenceTargets);

    /// <summary>Every example of a corpus, unsplit (for evaluating a trained model on a file).</summary>
    public static ExampleSet All(string text, ITokenizer tokenizer, ModelInfo model, DataLayout layout) =>
        layout == DataLayout.Lines
            ? tokenizer is CharTokenizer { MarkerId: int marker } chars
                ? ExampleSet.FromLines(EncodeLines(text, chars), model.Context, marker)
                : throw MissingMarker()
            : ExampleSet.FromStream(tokenizer.Encode(text), model.Context, model.SequenceTargets);

    static List<int[]> EncodeLines(string text, CharTokenizer tokenizer) =>
        CorpusLines.Split(text).Select(tokenizer.Encode).ToList();

    static EdgeException MissingMarker() =>
        new("line data needs a tokenizer with a start/end marker; this model was trained on running text (use --layout text)");
}
