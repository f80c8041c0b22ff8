using Edge.Hosting;

// A full edge command line (train, generate, chat, eval, logits, lora, quantize, ...) for the models declared in this
// assembly, found through the registry the Edge source generator writes (no reflection: this publishes with NativeAOT).
// Pass includeBuiltIns: true to offer Edge's own models (char-mlp, baby-gpt, gpt2, ...) as well.
return EdgeCli.Run(args, Edge.Generated.ModelRegistry.All, name: "EdgeApp");
