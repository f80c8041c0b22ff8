namespace Edge.Gpu.Tests;

// Tiny declarations covering every op kind the device walks, small enough for ILGPU's CPU accelerator.

[LanguageModel("gpu-test-mlp", Context = 3)]
[TokenEmbedding(4)]
[Flatten]
[Dense(7, Activation.Tanh)]
[Dense(6, Activation.Relu)]
[OutputHead]
public partial class GpuTestMlp;

[LanguageModel("gpu-test-bigram")]
[BigramTable]
public partial class GpuTestBigram;

// GPT-2's block with a tied head and dropout in the recipe (the tests set it as they need).
[LanguageModel("gpu-test-gpt", Context = 8)]
[TokenEmbedding(16, Positional = true)]
[TransformerBlocks(Layers = 2, Heads = 2, MlpRatio = 2, Dropout = 0.25)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
public partial class GpuTestGpt;

// nanoGPT's block: no biases, the exact GELU, an untied head, three heads.
[LanguageModel("gpu-test-gpt-exact", Context = 6)]
[TokenEmbedding(12, Positional = true)]
[TransformerBlocks(Layers = 1, Heads = 3, MlpRatio = 2, Bias = false, Gelu = GeluForm.Exact)]
[LayerNorm]
[OutputHead(Bias = false)]
public partial class GpuTestGptExact;

// Llama: grouped-query attention (2 query heads per kv head), half-rotation RoPE, SwiGLU, RMSNorm, tied head.
[LanguageModel("gpu-test-llama", Context = 8)]
[TokenEmbedding(16)]
[LlamaBlocks(Layers = 2, Heads = 4, KvHeads = 2, MlpHidden = 24)]
[RmsNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
public partial class GpuTestLlama;

// Multi-query attention, interleaved RoPE, q/k/v biases, an untied head.
[LanguageModel("gpu-test-llama-mqa", Context = 6)]
[TokenEmbedding(16)]
[LlamaBlocks(Layers = 1, Heads = 4, KvHeads = 1, MlpHidden = 20, Rope = RopeLayout.Interleaved, QkvBias = true, RopeTheta = 500, NormEpsilon = 1e-6)]
[RmsNorm(Epsilon = 1e-6)]
[OutputHead(Bias = false)]
public partial class GpuTestLlamaMqa;
