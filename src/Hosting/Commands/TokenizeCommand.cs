using Edge.Text;

namespace Edge.Cli;

static class TokenizeCommand
{
    public const string Help = """
        edge tokenize: show how a tokenizer splits a text: one line per token with its id and piece.

        Usage: edge tokenize --tokenizer PATH [--text TEXT]     (without --text, reads standard input)
               edge tokenize --train N --data FILE --out DIR    (learn a byte-level BPE vocabulary of N tokens)

        Options:
          --tokenizer PATH   a folder with Hugging Face's tokenizer.json, SentencePiece's tokenizer.model,
                             vocab.json + merges.txt or GPT-2's encoder.json + vocab.bpe; one of those files
                             (tokenizer.json, tokenizer.model) or llama2.c's tokenizer.bin; or an Edge checkpoint
                             (its character vocabulary)
          --text TEXT        the text to tokenize (default: standard input)
          --train N          train a GPT-2-style byte-level BPE with N tokens (256 bytes + merges + <|endoftext|>)
                             on --data and save it in Hugging Face's layout (vocab.json + merges.txt) in --out
          --data FILE        the corpus to learn the vocabulary from (with --train)
          --out DIR          where vocab.json and merges.txt go (with --train; written as one unit)
          --force            replace the vocabulary a folder already holds (with --train)
          --quiet            no progress bar

        Examples:
          edge tokenize --tokenizer ../shared/data/gpt2 --text "Hello world, it's 2026!"
          edge tokenize --tokenizer path/to/TinyLlama --text "Hello world"
          edge tokenize --train 1000 --data ../shared/data/tinyshakespeare.txt --out models/shakespeare-bpe
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        int train = args.Int("train", 0, min: 0, max: 1_000_000);
        if (train > 0) return Train(args, train);
        var path = args.String("tokenizer") ?? throw new UsageException("--tokenizer PATH is required (see 'edge tokenize --help')");
        var text = args.Text("text");
        bool quiet = args.Flag("quiet");
        args.RejectUnknown(0);
        text ??= Console.In.ReadToEnd();

        ITokenizer tokenizer;
        if (Directory.Exists(path)) tokenizer = TokenizerFiles.Load(path);
        else if (Path.GetExtension(path) is ".json" or ".model" or ".bin") tokenizer = TokenizerFiles.LoadFile(path);
        else
        {
            var loaded = Checkpoint.Load(path, Catalog.All, mapWeights: true);
            loaded.Model.Dispose();
            tokenizer = loaded.Tokenizer;
        }
        var ids = Encode(tokenizer, text, quiet);
        foreach (var id in ids)
            Console.WriteLine($"{id,7}  {(tokenizer is SentencePieceBpe sp && sp.Type(id) == SentencePieceBpe.PieceType.Control ? sp.Piece(id) : Show(tokenizer.TokenBytes(id)))}");
        Console.WriteLine($"{ids.Length} tokens, {System.Text.Encoding.UTF8.GetByteCount(text)} bytes");
        return 0;
    }

    static int Train(Args args, int vocabSize)
    {
        var data = args.String("data") ?? throw new UsageException("--train needs --data FILE (the corpus to learn from)");
        var outDir = args.String("out") ?? throw new UsageException("--train needs --out DIR (where vocab.json and merges.txt go)");
        bool quiet = args.Flag("quiet");
        bool force = args.Flag("force");
        args.RejectUnknown(0);
        if (vocabSize < 257) throw new UsageException("option --train: a byte-level BPE needs at least 257 tokens (256 bytes and <|endoftext|>)");
        var text = Edge.Data.TextCorpus.Read(data);
        using var folder = Edge.Files.OutputFolder.Claim(outDir, "--out", ["vocab.json", "merges.txt"],
            force ? Edge.Files.OutputFolder.Existing.Replace : Edge.Files.OutputFolder.Existing.Refuse, data);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        BpeTokenizer tokenizer;
        using (new ProgressBar(0, "", quiet, status: $"learning {vocabSize:N0} tokens from {Path.GetFileName(data)}"))
            tokenizer = BpeTokenizer.Train(text, vocabSize, ["<|endoftext|>"]);
        double seconds = clock.Elapsed.TotalSeconds;
        tokenizer.SaveHuggingFace(outDir);
        int tokens = Encode(tokenizer, text, quiet).Length;
        long bytes = System.Text.Encoding.UTF8.GetByteCount(text);
        Console.WriteLine($"trained {tokenizer.VocabSize} tokens ({tokenizer.MergeCount} merges) on {Path.GetFileName(data)} in {seconds:0.0}s; " +
                          $"it encodes the corpus in {tokens:N0} tokens ({(double)bytes / tokens:0.00} bytes per token); saved {Path.Combine(outDir, "vocab.json")} and merges.txt");
        return 0;
    }

    /// <summary>
    /// A BPE encoding of a long text in pieces of about <paramref name="piece"/> characters, with a progress bar.
    /// A piece ends after a newline that follows a non-space and precedes a letter: GPT-2's pre-tokeniser
    /// splits there anyway (that newline is a piece of its own and the letter starts the next), so the ids are
    /// exactly those of one Encode call (pinned by a test); so do SmolLM's and Qwen2's pre-tokenisers and NFC. Other
    /// tokenizers, and a byte-level one whose template adds tokens around the text, encode in one call.
    /// </summary>
    public static int[] Encode(ITokenizer tokenizer, string text, bool quiet, int piece = 1 << 18)
    {
        if (tokenizer is not BpeTokenizer { AddsTemplateTokens: false } || text.Length <= piece) return tokenizer.Encode(text);
        using var bar = new ProgressBar(System.Text.Encoding.UTF8.GetByteCount(text), "bytes", quiet, status: "encoding");
        var ids = new List<int>(text.Length / 3);
        long bytes = 0;
        for (int start = 0; start < text.Length;)
        {
            int end = PieceEnd(text, Math.Min(text.Length, start + piece));
            var part = text[start..end];
            ids.AddRange(tokenizer.Encode(part));
            bar.Report(bytes += System.Text.Encoding.UTF8.GetByteCount(part));
            start = end;
        }
        return [.. ids];
    }

    /// <summary>The first safe split at or after <paramref name="from"/>: after "x\n" before a letter (or the end).</summary>
    static int PieceEnd(string text, int from)
    {
        for (int i = Math.Max(from, 1); i + 1 < text.Length; i++)
            if (text[i] == '\n' && !char.IsWhiteSpace(text[i - 1]) && char.IsLetter(text[i + 1])) return i + 1;
        return text.Length;
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
