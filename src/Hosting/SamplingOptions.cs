using Edge.Generation;

namespace Edge.Cli;

/// <summary>The sampling options shared by `generate` and `chat`, parsed and validated in one place.</summary>
sealed class SamplingOptions
{
    public const string Help = """
          --temperature T          0 = greedy (always the most likely), 1 = the model's distribution (default 1)
          --top-k K                sample only among the K most likely tokens (default 0: all)
          --top-p P                sample from the smallest set of tokens whose probability reaches P (default 1: all)
          --repetition-penalty R   make tokens already in the context less likely (1 = off; 1.1 to 1.3 typical)
          --no-repeat-ngram N      never repeat an N-gram that is already in the context (0 = off)
          --stop TEXT              stop before this text (repeatable); it is not printed
          --seed S                 the same seed gives the same text (default 1337)
        """;

    public float Temperature { get; set; }
    public int TopK { get; set; }
    public float TopP { get; set; }
    public float RepetitionPenalty { get; init; }
    public int NoRepeatNgram { get; init; }
    public ulong Seed { get; init; }
    public IReadOnlyList<string> Stops { get; init; } = [];

    public static SamplingOptions Parse(Args args) => new()
    {
        Temperature = (float)args.Double("temperature", 1.0, min: 0, max: 100),
        TopK = args.Int("top-k", 0, min: 0),
        TopP = (float)args.Double("top-p", 1.0, min: 1e-6, max: 1),
        RepetitionPenalty = (float)args.Double("repetition-penalty", 1.0, min: 1e-3, max: 100),
        NoRepeatNgram = args.Int("no-repeat-ngram", 0, min: 0, max: 64),
        Seed = args.ULong("seed", 1337),
        Stops = args.Strings("stop"),
    };

    public Sampler CreateSampler(int vocabSize) => new(vocabSize, Seed, Temperature, TopK, TopP)
    {
        RepetitionPenalty = RepetitionPenalty,
        NoRepeatNgram = NoRepeatNgram,
    };

    /// <summary>Applies the current values to an existing sampler (chat changes them between turns).</summary>
    public void Apply(Sampler sampler)
    {
        sampler.Temperature = Temperature;
        sampler.TopK = TopK;
        sampler.TopP = TopP;
    }
}
