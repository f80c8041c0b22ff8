using Edge.Generation;
using Edge.Models;

namespace Edge.Cli;

static class GenerateCommand
{
    const string Help = """
        edge generate: sample from a trained model, streaming text as it is produced.

        Usage: edge generate --model FILE [options]

        Options:
          --model FILE|DIR         a checkpoint written by 'edge train', or a Hugging Face GPT-2-family folder
                                   (config.json, model.safetensors, vocab.json + merges.txt or tokenizer.json)
          --prompt TEXT            text to continue (every character must be in the model's vocabulary)
          --tokens N               tokens to generate for running-text models (default 500)
          --count N                names to generate for line models such as names-mlp (default 10)
        """ + AdapterOptions.Help + SamplingOptions.Help + """

        Transformers decode with a KV cache: the prompt is processed in one pass, then each token costs one
        position. Past the context, the newest three quarters of it are kept and decoding continues.

        Examples:
          edge generate --model models/baby-gpt/model.safetensors --prompt "ROMEO:" --tokens 300 --top-p 0.9
          edge generate --model models/names-mlp/model.safetensors --count 20 --temperature 0.8
          edge generate --model models/baby-gpt/model.safetensors --adapter adapters/names:0.8 --prompt "\n"
        """;

    public static int Run(Args args)
    {
        if (Commands.ShowHelp(args, Help)) return 0;
        var path = args.String("model") ?? throw new UsageException("--model FILE is required (a checkpoint written by 'edge train')");
        var prompt = args.Text("prompt") ?? "";
        int tokens = args.Int("tokens", 500, min: 0, max: 10_000_000);
        int count = args.Int("count", 10, min: 0, max: 1_000_000);
        var adapterSpecs = args.Strings("adapter");
        var sampling = SamplingOptions.Parse(args);
        args.Threads();
        args.RejectUnknown(0);

        var loaded = Checkpoint.LoadAny(path, ModelCatalog.All, mapWeights: true);
        using var model = loaded.Model;
        if (adapterSpecs.Count > 0) model.ActiveAdapters = AdapterOptions.Load(adapterSpecs, model);
        loaded.Tokenizer.Encode(prompt); // refuses characters outside the vocabulary before anything is printed
        var sampler = sampling.CreateSampler(loaded.Tokenizer.VocabSize);
        var stops = sampling.Stops.Count > 0 ? new StopSequences(sampling.Stops) : null;
        bool lines = loaded.Marker is not null && loaded.Info.Data == DataLayout.Lines;
        using var cancel = Interrupt.OnCtrlC();
        TrainCommand.Sample(loaded, lines ? DataLayout.Lines : DataLayout.Text, lines ? count : tokens, sampler, prompt, Console.Out, stops, cancel.Token);
        if (!lines) Console.WriteLine();
        return 0;
    }
}
