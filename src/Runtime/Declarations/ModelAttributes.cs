using System;

namespace Edge;

// The attributes a developer puts on a `partial class` to declare a language model. Edge.Generators reads
// them (by name, in source order: the order of the attributes is the order of the layers) and emits the
// other half of the class. They carry no behaviour; everything they describe is checked at compile time.

/// <summary>How a training corpus is cut into examples.</summary>
public enum DataLayout
{
    /// <summary>Running text: contiguous windows; first 90% train, last 10% validation.</summary>
    Text,
    /// <summary>One example per line (names.txt): a start/end marker '.' around each line; shuffled 80/10/10.</summary>
    Lines,
}

/// <summary>The non-linearity after a dense layer.</summary>
public enum Activation { None, Tanh, Relu }

/// <summary>Which GELU a transformer's MLP uses.</summary>
public enum GeluForm
{
    /// <summary>0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): GPT-2's, Hugging Face "gelu_new".</summary>
    Tanh,
    /// <summary>x Phi(x), Phi the normal CDF through erf: PyTorch's nn.GELU(), nanoGPT's, Hugging Face "gelu".</summary>
    Exact,
}

/// <summary>How a rotary position embedding pairs a head's channels (checkpoints differ; the two are one function up to a permutation).</summary>
public enum RopeLayout
{
    /// <summary>Channel i with channel i + hs/2 (Hugging Face's rotate_half; Llama, SmolLM, Qwen2 checkpoints on the Hub).</summary>
    Half,
    /// <summary>Channel 2i with channel 2i + 1 (Meta's original Llama code and llama2.c's checkpoints).</summary>
    Interleaved,
}

/// <summary>The optimiser a training recipe uses.</summary>
public enum OptimizerKind { Sgd, AdamW }

/// <summary>How the learning rate changes over a run.</summary>
public enum ScheduleKind
{
    /// <summary>The base rate, times DecayFactor from DecayStep on (makemore).</summary>
    Step,
    /// <summary>Linear warm-up, then cosine decay to the minimum rate at the last step (nanoGPT).</summary>
    Cosine,
}

/// <summary>Marks a partial class as a language model; the first attribute of every declaration.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class LanguageModelAttribute(string name) : Attribute
{
    /// <summary>The name users type (`edge train NAME`): lower case, digits and dashes.</summary>
    public string Name { get; } = name;
    /// <summary>How many previous tokens the model sees.</summary>
    public int Context { get; set; } = 1;
    /// <summary>The default way to cut a corpus for this model.</summary>
    public DataLayout Data { get; set; } = DataLayout.Text;
    /// <summary>One line for `edge models`.</summary>
    public string Description { get; set; } = "";
}

/// <summary>A learned table of token vectors [V, Dim]; the first layer of a neural model.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class TokenEmbeddingAttribute(int dim) : Attribute
{
    public int Dim { get; } = dim;
    /// <summary>Adds a learned position embedding wpe [Context, Dim] (GPT-2).</summary>
    public bool Positional { get; set; }
}

/// <summary>
/// A stack of GPT-2 decoder blocks over [B, T, C]: x += attn(ln_1(x)); x += mlp(ln_2(x)), with causal
/// multi-head self-attention (fused QKV projection) and a GELU MLP of width MlpRatio * C. Makes the model a
/// sequence model: it predicts the next token at every position.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class TransformerBlocksAttribute : Attribute
{
    public int Layers { get; set; } = 1;
    public int Heads { get; set; } = 1;
    public int MlpRatio { get; set; } = 4;
    /// <summary>Dropout on the embeddings and on each residual branch, in training only.</summary>
    public double Dropout { get; set; }
    /// <summary>Biases in the linear layers and LayerNorms (GPT-2: true; nanoGPT's default: false, "a bit better and faster").</summary>
    public bool Bias { get; set; } = true;
    /// <summary>The MLP's GELU: the tanh form (GPT-2, the default) or the exact erf form (nanoGPT).</summary>
    public GeluForm Gelu { get; set; } = GeluForm.Tanh;
}

/// <summary>
/// A stack of Llama decoder blocks over [B, T, C]: x += attn(rmsnorm(x)); x += mlp(rmsnorm(x)), with rotary positions on
/// the queries and keys, grouped-query attention (<see cref="KvHeads"/> key/value heads shared by the query heads; 1 is
/// multi-query) and a gated SwiGLU MLP, SiLU(x W_gate) * (x W_up) W_down. Tensors carry Hugging Face's Llama names
/// (model.layers.N.self_attn.q_proj, ...) and torch.nn.Linear's [out, in] orientation, so Hub checkpoints load as they
/// are. Makes the model a sequence model.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class LlamaBlocksAttribute : Attribute
{
    public int Layers { get; set; } = 1;
    public int Heads { get; set; } = 1;
    /// <summary>Key/value heads; must divide <see cref="Heads"/> (0: as many as the query heads).</summary>
    public int KvHeads { get; set; }
    /// <summary>The MLP's hidden width (Llama's intermediate_size).</summary>
    public int MlpHidden { get; set; }
    /// <summary>The RoPE base (Llama's rope_theta).</summary>
    public double RopeTheta { get; set; } = 10000;
    public RopeLayout Rope { get; set; } = RopeLayout.Half;
    /// <summary>The RMSNorms' epsilon (rms_norm_eps).</summary>
    public double NormEpsilon { get; set; } = 1e-5;
    /// <summary>Biases on the q, k and v projections (Qwen2 has them; Llama does not).</summary>
    public bool QkvBias { get; set; }
    /// <summary>Dropout on the embeddings and each residual branch, in training only.</summary>
    public double Dropout { get; set; }
}

/// <summary>Root-mean-square normalisation with a learned scale (Llama's final model.norm).</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class RmsNormAttribute : Attribute
{
    public double Epsilon { get; set; } = 1e-5;
}

/// <summary>Layer normalisation over the last dimension, with a learned scale and shift (GPT-2's ln_f).</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class LayerNormAttribute : Attribute;

/// <summary>Concatenates the context's embeddings into one vector: [B, Context, Dim] -> [B, Context * Dim].</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class FlattenAttribute : Attribute;

/// <summary>A fully connected layer y = act(x W + b) with W stored [in, out]. Repeat it for deeper models.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
public sealed class DenseAttribute(int width, Activation activation = Activation.None) : Attribute
{
    public int Width { get; } = width;
    public Activation Activation { get; } = activation;
    /// <summary>The tensor name prefix in checkpoints (default fc1, fc2, ...).</summary>
    public string? Name { get; set; }
}

/// <summary>
/// The bigram model: logits are the row of a [V, V] table picked by the previous token. With
/// <see cref="Counting"/> the table is not trained but filled with log-probabilities from smoothed counts.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class BigramTableAttribute : Attribute
{
    public bool Counting { get; set; }
    /// <summary>Add-k smoothing for the counting version (1 = add-one).</summary>
    public double Smoothing { get; set; } = 1;
}

/// <summary>The output layer: a projection to vocabulary logits, trained with softmax cross-entropy.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class OutputHeadAttribute : Attribute
{
    public bool Bias { get; set; } = true;
    /// <summary>Reuses the token embedding as the output projection: logits = x wte^T (GPT-2, nanoGPT).</summary>
    public bool TiedToEmbedding { get; set; }
}

/// <summary>The training defaults `edge train` uses for this model; every value can be overridden on the command line.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class TrainingRecipeAttribute : Attribute
{
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.AdamW;
    public double LearningRate { get; set; } = 1e-3;
    public int Batch { get; set; } = 32;
    public int Steps { get; set; } = 2000;
    /// <summary>Step schedule: multiply the rate by <see cref="DecayFactor"/> from this step on (0 = never).</summary>
    public int DecayStep { get; set; }
    public double DecayFactor { get; set; } = 0.1;
    public double WeightDecay { get; set; }
    public int EvalInterval { get; set; } = 500;
    public ScheduleKind Schedule { get; set; } = ScheduleKind.Step;
    /// <summary>Cosine schedule: steps of linear warm-up.</summary>
    public int Warmup { get; set; }
    /// <summary>Cosine schedule: the rate at the last step.</summary>
    public double MinLearningRate { get; set; }
    public double Beta2 { get; set; } = 0.999;
    /// <summary>Global gradient-norm clipping threshold (0 = off).</summary>
    public double GradClip { get; set; }
}
