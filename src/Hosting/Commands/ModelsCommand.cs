
namespace Edge.Cli;

static class ModelsCommand
{
    public const string Help = """
        edge models: list the declared models.

        Usage: edge models [--vocab V]

        Options:
          --vocab V      the vocabulary size to count parameters at (default 65)

        Parameter counts depend on the vocabulary, which comes from the training data;
        they are shown for V tokens (default 65, Tiny Shakespeare's character count).

        Examples:
          edge models
          edge models --vocab 50257      (GPT-2's vocabulary)
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        int vocab = args.Int("vocab", 65, min: 1, max: 1_000_000);
        args.RejectUnknown(0);
        Console.WriteLine(Terminal.Bold($"{"model",-15} {"params (V=" + vocab + ")",14}  {"context",7}  {"data",-5}  description"));
        foreach (var m in Catalog.All)
        {
            string count;
            try { count = m.ParameterCount(vocab).ToString("N0", System.Globalization.CultureInfo.InvariantCulture); }
            catch (EdgeException) { count = "too large"; } // a V x V bigram table at GPT-2's vocabulary
            Console.WriteLine($"{m.Name,-15} {count,14}  {m.Context,7}  {m.Data.ToString().ToLowerInvariant(),-5}  {m.Description}");
        }
        return 0;
    }
}
