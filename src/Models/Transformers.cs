namespace Edge.Models;

// Decoder-only transformers (GPT-2 blocks: pre-LayerNorm, causal multi-head attention, GELU MLP), with the
// output head tied to the token embedding. The vocabulary comes from the tokenizer at run time.

/// <summary>
/// nanoGPT's CPU recipe for Tiny Shakespeare ("baby GPT"): 4 layers, 4 heads, width 128, context 64,
/// batch 12, 2000 iterations, lr 1e-3 with 100 warm-up steps and cosine decay to 1e-4, beta2 0.99, no dropout.
/// With biases, as GPT-2 has them: measured here, nanoGPT's bias = False default ended 0.006 higher.
/// </summary>
[LanguageModel("baby-gpt", Context = 64, Description = "nanoGPT's CPU baby GPT: 4 layers, 4 heads, width 128, context 64")]
[TokenEmbedding(128, Positional = true)]
[TransformerBlocks(Layers = 4, Heads = 4, MlpRatio = 4, Dropout = 0.0)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
[TrainingRecipe(Optimizer = OptimizerKind.AdamW, LearningRate = 1e-3, Batch = 12, Steps = 2000, Schedule = ScheduleKind.Cosine,
    Warmup = 100, MinLearningRate = 1e-4, Beta2 = 0.99, WeightDecay = 0.1, GradClip = 1.0, EvalInterval = 250)]
public partial class BabyGpt;

/// <summary>
/// The baby GPT as nanoGPT builds it (model.py's defaults): no biases in the linear layers and LayerNorms, and
/// PyTorch's exact (erf) GELU; the same recipe. For comparing with nanoGPT's own runs.
/// </summary>
[LanguageModel("baby-gpt-nanogpt", Context = 64, Description = "the baby GPT with nanoGPT's block: no biases, exact GELU")]
[TokenEmbedding(128, Positional = true)]
[TransformerBlocks(Layers = 4, Heads = 4, MlpRatio = 4, Dropout = 0.0, Bias = false, Gelu = GeluForm.Exact)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
[TrainingRecipe(Optimizer = OptimizerKind.AdamW, LearningRate = 1e-3, Batch = 12, Steps = 2000, Schedule = ScheduleKind.Cosine,
    Warmup = 100, MinLearningRate = 1e-4, Beta2 = 0.99, WeightDecay = 0.1, GradClip = 1.0, EvalInterval = 250)]
public partial class BabyGptNanoGpt;

/// <summary>
/// MiniGPT from the "build your own AI" course: embedding 128, 4 heads, 4 blocks, context 256, GELU MLP 512,
/// pre-LayerNorm, dropout 0.1, output tied to the embedding, N(0, 0.02) initialisation.
/// </summary>
[LanguageModel("mini-gpt", Context = 256, Description = "MiniGPT: 4 blocks, 4 heads, width 128, context 256, dropout 0.1")]
[TokenEmbedding(128, Positional = true)]
[TransformerBlocks(Layers = 4, Heads = 4, MlpRatio = 4, Dropout = 0.1)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
[TrainingRecipe(Optimizer = OptimizerKind.AdamW, LearningRate = 1e-3, Batch = 16, Steps = 2000, Schedule = ScheduleKind.Cosine,
    Warmup = 100, MinLearningRate = 1e-4, Beta2 = 0.99, WeightDecay = 0.1, GradClip = 1.0, EvalInterval = 250)]
public partial class MiniGpt;

/// <summary>
/// nanoGPT's Shakespeare character GPT: 6 layers, 6 heads, width 384, context 256, dropout 0.2
/// (nanoGPT: batch 64, 5000 iterations on a GPU, val loss about 1.47).
/// </summary>
[LanguageModel("shakespeare-gpt", Context = 256, Description = "nanoGPT's Shakespeare GPT: 6 layers, 6 heads, width 384, context 256, dropout 0.2")]
[TokenEmbedding(384, Positional = true)]
[TransformerBlocks(Layers = 6, Heads = 6, MlpRatio = 4, Dropout = 0.2)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
[TrainingRecipe(Optimizer = OptimizerKind.AdamW, LearningRate = 1e-3, Batch = 64, Steps = 5000, Schedule = ScheduleKind.Cosine,
    Warmup = 100, MinLearningRate = 1e-4, Beta2 = 0.99, WeightDecay = 0.1, GradClip = 1.0, EvalInterval = 250)]
public partial class ShakespeareGpt;

/// <summary>
/// GPT-2 (124M): 12 layers, 12 heads, width 768, context 1024, biases, GELU (tanh), head tied to wte. Loads
/// Hugging Face's `gpt2` directory (config.json, model.safetensors, vocab.json + merges.txt) by name and shape.
/// </summary>
[LanguageModel("gpt2", Context = 1024, Description = "GPT-2 124M: 12 layers, 12 heads, width 768, context 1024 (Hugging Face gpt2)")]
[TokenEmbedding(768, Positional = true)]
[TransformerBlocks(Layers = 12, Heads = 12, MlpRatio = 4)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
[TrainingRecipe(Optimizer = OptimizerKind.AdamW, LearningRate = 6e-4, Batch = 4, Steps = 1000, Schedule = ScheduleKind.Cosine,
    Warmup = 100, MinLearningRate = 6e-5, Beta2 = 0.95, WeightDecay = 0.1, GradClip = 1.0, EvalInterval = 250)]
public partial class Gpt2;

/// <summary>DistilGPT-2: GPT-2's shape with 6 layers (Hugging Face distilgpt2).</summary>
[LanguageModel("distilgpt2", Context = 1024, Description = "DistilGPT-2: 6 layers, 12 heads, width 768, context 1024 (Hugging Face distilgpt2)")]
[TokenEmbedding(768, Positional = true)]
[TransformerBlocks(Layers = 6, Heads = 12, MlpRatio = 4)]
[LayerNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
[TrainingRecipe(Optimizer = OptimizerKind.AdamW, LearningRate = 6e-4, Batch = 4, Steps = 1000, Schedule = ScheduleKind.Cosine,
    Warmup = 100, MinLearningRate = 6e-5, Beta2 = 0.95, WeightDecay = 0.1, GradClip = 1.0, EvalInterval = 250)]
public partial class DistilGpt2;
