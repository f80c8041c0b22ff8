using Edge.Models;
using Edge.Text;

namespace Edge.Cli;

static class TokenizeCommand
{
    const string Help = """
        edge tokenize: show how a tokenizer splits a text: one line per token with its id and piece.

        Usage: edge tokenize --tokenizer PATH [--text TEXT]     (without --text, reads standard input)

          --tokenizer PATH   a folder with GPT-2's encoder.json + vocab.bpe, Hugging Face's vocab.json + merges.txt
                             or tokenizer.json, or an Edge checkpoint (its character vocabulary)

        Example:
          edge tokenize --tokenizer ../shared/data/gpt2 --text "Hello world, it's 2026!"
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        var path = args.String("tokenizer") ?? throw new UsageException("--tokenizer PATH is required (see 'edge tokenize --help')");
        var text = args.Text("text");
        args.RejectUnknown(0);
        text ??= Console.In.ReadToEnd();

        ITokenizer tokenizer;
        if (Directory.Exists(path)) tokenizer = BpeTokenizer.FromDirectory(path);
        else
        {
            var loaded = Checkpoint.Load(path, ModelCatalog.All, mapWeights: true);
            loaded.Model.Dispose();
            tokenizer = loaded.Tokenizer;
        }
        var ids = tokenizer.Encode(text);
        foreach (var id in ids)
            Console.WriteLine($"{id,7}  {Show(tokenizer.TokenBytes(id))}");
        Console.WriteLine($"{ids.Length} tokens, {System.Text.Encoding.UTF8.GetByteCount(text)} bytes");
        return 0;
    }

    /// <summary>A token's bytes as readable text: printable UTF-8 as is, control and partial bytes escaped.</summary>
    static string Show(ReadOnlySpan<byte> bytes)
    {
        var s = new System.Text.StringBuilder("\"");
        var text = System.Text.Encoding.UTF8.GetString(bytes);
        bool clean = System.Text.Encoding.UTF8.GetByteCount(text) == bytes.Length && !text.Contains('\uFFFD');
        if (clean)
            foreach (var ch in text)
                s.Append(ch switch { '\n' => "\\n", '\t' => "\\t", '\r' => "\\r", '"' => "\\\"", '\\' => "\\\\", _ when char.IsControl(ch) => $"\\u{(int)ch:x4}", _ => ch.ToString() });
        else
            foreach (var b in bytes) s.Append($"\\x{b:x2}");
        return s.Append('"').ToString();
    }
}
