namespace Edge.Tests.Models;

// Tiny declarations that cover every layer kind, so gradient checks stay fast and exact.

[LanguageModel("test-deep-mlp", Context = 3)]
[TokenEmbedding(4)]
[Flatten]
[Dense(7, Activation.Tanh)]
[Dense(6, Activation.Relu)]
[Dense(5)]
[OutputHead]
public partial class TinyDeepMlp;

[LanguageModel("test-linear", Context = 2)]
[TokenEmbedding(3)]
[Flatten]
[OutputHead(Bias = false)]
public partial class TinyLinear;

[LanguageModel("test-context-one")]
[TokenEmbedding(5)]
[Dense(4, Activation.Tanh)]
[OutputHead]
public partial class TinyContextOne;

[LanguageModel("test-bigram")]
[BigramTable]
public partial class TinyBigram;

[LanguageModel("test-gpt", Context = 6)]
[TokenEmbedding(8, Positional = true)]
[TransformerBlocks(Layers = 2, Heads = 2, MlpRatio = 2, Dropout = 0.25)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
public partial class TinyGpt;

[LanguageModel("test-gpt-untied", Context = 5)]
[TokenEmbedding(12, Positional = true)]
[TransformerBlocks(Layers = 1, Heads = 3, MlpRatio = 4)]
[LayerNorm]
[OutputHead]
public partial class TinyGptUntied;

[LanguageModel("test-tied-mlp", Context = 1)]
[TokenEmbedding(6)]
[Dense(6, Activation.Tanh)]
[OutputHead(TiedToEmbedding = true)]
public partial class TinyTiedMlp;

[LanguageModel("test-gpt-nobias", Context = 4)]
[TokenEmbedding(8, Positional = true)]
[TransformerBlocks(Layers = 1, Heads = 2, MlpRatio = 2, Bias = false)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
public partial class TinyGptNoBias;

// nanoGPT's block: no biases and the exact (erf) GELU.
[LanguageModel("test-gpt-exact", Context = 5)]
[TokenEmbedding(8, Positional = true)]
[TransformerBlocks(Layers = 2, Heads = 2, MlpRatio = 2, Bias = false, Gelu = GeluForm.Exact)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
public partial class TinyGptExact;

// GPT-2's architecture at a tiny width, for loading Hugging Face-layout directories in tests.
[LanguageModel("test-gpt2-tiny", Context = 16)]
[TokenEmbedding(24, Positional = true)]
[TransformerBlocks(Layers = 2, Heads = 3, MlpRatio = 4)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
public partial class TinyGpt2;

// The same shape with the exact GELU: what a config.json with activation_function "gelu" loads into.
[LanguageModel("test-gpt2-tiny-exact", Context = 16)]
[TokenEmbedding(24, Positional = true)]
[TransformerBlocks(Layers = 2, Heads = 3, MlpRatio = 4, Gelu = GeluForm.Exact)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
public partial class TinyGpt2Exact;

// GPT-2's architecture at the smallest width whose products quantise (inputs a multiple of 32).
[LanguageModel("test-gpt-quant", Context = 16)]
[TokenEmbedding(32, Positional = true)]
[TransformerBlocks(Layers = 2, Heads = 2, MlpRatio = 4)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
public partial class TinyQuantGpt;

// The Llama family at tiny widths: every option the reference forward, the gradient check and decoding cover.
// Grouped-query attention with 2 query heads per key/value head, half-rotation RoPE, tied head.
[LanguageModel("test-llama", Context = 6)]
[TokenEmbedding(16)]
[LlamaBlocks(Layers = 2, Heads = 4, KvHeads = 2, MlpHidden = 24, Dropout = 0.25)]
[RmsNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
public partial class TinyLlama;

// 4 query heads per key/value head, interleaved RoPE (llama2.c's layout), untied head, Qwen2's q/k/v biases.
[LanguageModel("test-llama-interleaved", Context = 6)]
[TokenEmbedding(16)]
[LlamaBlocks(Layers = 1, Heads = 4, KvHeads = 1, MlpHidden = 20, Rope = RopeLayout.Interleaved, QkvBias = true, RopeTheta = 500, NormEpsilon = 1e-6)]
[RmsNorm(Epsilon = 1e-6)]
[OutputHead(Bias = false)]
public partial class TinyLlamaInterleaved;

// Multi-query (one key/value head for eight query heads), half-rotation, with biases, untied.
[LanguageModel("test-llama-mqa", Context = 5)]
[TokenEmbedding(16)]
[LlamaBlocks(Layers = 1, Heads = 8, KvHeads = 1, MlpHidden = 16, QkvBias = true)]
[RmsNorm]
[OutputHead(Bias = false)]
public partial class TinyLlamaMqa;

// The same function as test-llama-interleaved-twin up to RoPE's pairing: loading tests permute q/k rows between them.
[LanguageModel("test-llama-half", Context = 8)]
[TokenEmbedding(16)]
[LlamaBlocks(Layers = 2, Heads = 4, KvHeads = 2, MlpHidden = 32)]
[RmsNorm]
[OutputHead(Bias = false)]
public partial class TinyLlamaHalf;

[LanguageModel("test-llama-interleaved-twin", Context = 8)]
[TokenEmbedding(16)]
[LlamaBlocks(Layers = 2, Heads = 4, KvHeads = 2, MlpHidden = 32, Rope = RopeLayout.Interleaved)]
[RmsNorm]
[OutputHead(Bias = false)]
public partial class TinyLlamaInterleavedTwin;

// The smallest Llama whose products quantise (inputs a multiple of 32).
[LanguageModel("test-llama-quant", Context = 16)]
[TokenEmbedding(32)]
[LlamaBlocks(Layers = 2, Heads = 4, KvHeads = 2, MlpHidden = 64)]
[RmsNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
public partial class TinyQuantLlama;
