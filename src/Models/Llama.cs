namespace Edge.Models;

// The Llama family: RMSNorm, rotary positions, grouped-query attention and a SwiGLU MLP, with Hugging Face's tensor
// names (model.layers.N.self_attn.q_proj, ...), so checkpoints from the Hub load as they are.

/// <summary>A Llama the size of nanoGPT's baby GPT (about 0.8M parameters), trained with the baby GPT's recipe.</summary>
[LanguageModel("small-llama", Context = 64, Description = "a Llama of the baby GPT's size: 4 layers, 4 heads over 2 kv heads, width 128, SwiGLU 384, context 64")]
[TokenEmbedding(128)]
[LlamaBlocks(Layers = 4, Heads = 4, KvHeads = 2, MlpHidden = 384)]
[RmsNorm]
[OutputHead(TiedToEmbedding = true, Bias = false)]
[TrainingRecipe(LearningRate = 1e-3, Batch = 12, Steps = 2000, Schedule = ScheduleKind.Cosine, Warmup = 100,
    MinLearningRate = 1e-4, Beta2 = 0.99, WeightDecay = 0.1, GradClip = 1.0, EvalInterval = 250)]
public partial class SmallLlama;

/// <summary>SmolLM-135M's shape (Hugging Face HuggingFaceTB/SmolLM-135M): loads its checkpoint; benchmarks.</summary>
[LanguageModel("smollm-135m", Context = 2048, Description = "SmolLM-135M: 30 layers, 9 heads over 3 kv heads, width 576, SwiGLU 1536, tied head (Hugging Face)")]
[TokenEmbedding(576)]
[LlamaBlocks(Layers = 30, Heads = 9, KvHeads = 3, MlpHidden = 1536, RopeTheta = 10000, NormEpsilon = 1e-5)]
[RmsNorm(Epsilon = 1e-5)]
[OutputHead(TiedToEmbedding = true, Bias = false)]
[TrainingRecipe(LearningRate = 3e-4, Batch = 4, Steps = 1000, Schedule = ScheduleKind.Cosine, Warmup = 100, MinLearningRate = 3e-5,
    Beta2 = 0.95, WeightDecay = 0.1, GradClip = 1.0, EvalInterval = 250)]
public partial class SmolLm135M;

/// <summary>TinyLlama-1.1B's shape (Hugging Face TinyLlama/TinyLlama-1.1B-Chat-v1.0): loads its checkpoint; benchmarks.</summary>
[LanguageModel("tinyllama", Context = 2048, Description = "TinyLlama-1.1B: 22 layers, 32 heads over 4 kv heads, width 2048, SwiGLU 5632 (Hugging Face)")]
[TokenEmbedding(2048)]
[LlamaBlocks(Layers = 22, Heads = 32, KvHeads = 4, MlpHidden = 5632, RopeTheta = 10000, NormEpsilon = 1e-5)]
[RmsNorm(Epsilon = 1e-5)]
[OutputHead(Bias = false)]
[TrainingRecipe(LearningRate = 3e-4, Batch = 1, Steps = 1000, Schedule = ScheduleKind.Cosine, Warmup = 100, MinLearningRate = 3e-5,
    Beta2 = 0.95, WeightDecay = 0.1, GradClip = 1.0, EvalInterval = 250)]
public partial class TinyLlama;
