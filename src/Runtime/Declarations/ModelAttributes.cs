using System;

namespace Edge;

// The attributes a developer puts on a `partial class` to declare a language model. Edge.Generators reads
// them (by name, in source order: the order of the attributes is the order of the layers) and emits the
// other half of the class. They carry no behaviour; everything they describe is checked at compile time.
// docs/DECLARATIONS.md is the reference for every attribute, option and EDGE diagnostic; the XML docs below say the
// same per member, and each statement about a check is what Edge.Generators' Parsing/ShapeWalk.cs and
// Parsing/ModelParser.cs do (this file is compiled into the generator too, so crefs stay inside it).

/// <summary>How a training corpus is cut into examples (<see cref="LanguageModelAttribute.Data"/>).</summary>
public enum DataLayout
{
    /// <summary>Running text: contiguous windows; first 90% train, last 10% validation. The default.</summary>
    Text,
    /// <summary>
    /// One example per line (names.txt): a start/end marker '.' around each line; lines shuffled (with the split seed)
    /// into 80% train, 10% validation and 10% test. The character vocabulary includes the marker.
    /// </summary>
    Lines,
}

/// <summary>The non-linearity after a dense layer (<see cref="DenseAttribute.Activation"/>).</summary>
public enum Activation
{
    /// <summary>No non-linearity: y = x W + b. Initialised with gain 1 (W ~ N(0, 1 / sqrt(in))).</summary>
    None,
    /// <summary>y = tanh(x W + b). Initialised with Kaiming's tanh gain 5/3 (W ~ N(0, (5/3) / sqrt(in))).</summary>
    Tanh,
    /// <summary>y = max(0, x W + b). Initialised with Kaiming's ReLU gain sqrt(2) (W ~ N(0, sqrt(2) / sqrt(in))).</summary>
    Relu,
}

/// <summary>Which GELU a transformer's MLP uses (<see cref="TransformerBlocksAttribute.Gelu"/>).</summary>
public enum GeluForm
{
    /// <summary>0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): GPT-2's, Hugging Face "gelu_new". The default.</summary>
    Tanh,
    /// <summary>x Phi(x), Phi the normal CDF through erf: PyTorch's nn.GELU(), nanoGPT's, Hugging Face "gelu".</summary>
    Exact,
}

/// <summary>
/// How a rotary position embedding pairs a head's channels (<see cref="LlamaBlocksAttribute.Rope"/>; checkpoints differ,
/// the two are one function up to a permutation of the q and k projections' rows).
/// </summary>
public enum RopeLayout
{
    /// <summary>Channel i with channel i + hs/2 (Hugging Face's rotate_half; Llama, SmolLM, Qwen2 checkpoints on the Hub). The default.</summary>
    Half,
    /// <summary>Channel 2i with channel 2i + 1 (Meta's original Llama code and llama2.c's checkpoints).</summary>
    Interleaved,
}

/// <summary>The optimiser a training recipe uses (<see cref="TrainingRecipeAttribute.Optimizer"/>).</summary>
public enum OptimizerKind
{
    /// <summary>Plain stochastic gradient descent; <see cref="TrainingRecipeAttribute.WeightDecay"/> is coupled (added to the gradient) and applies to matrices and embeddings only.</summary>
    Sgd,
    /// <summary>
    /// AdamW with PyTorch's beta1 0.9 and epsilon, beta2 from <see cref="TrainingRecipeAttribute.Beta2"/>, and decoupled
    /// weight decay on matrices and embeddings (not biases or norms). The default.
    /// </summary>
    AdamW,
}

/// <summary>How the learning rate changes over a run (<see cref="TrainingRecipeAttribute.Schedule"/>).</summary>
public enum ScheduleKind
{
    /// <summary>
    /// The base rate, times <see cref="TrainingRecipeAttribute.DecayFactor"/> from step
    /// <see cref="TrainingRecipeAttribute.DecayStep"/> on (makemore; DecayStep 0 keeps the rate constant). The default.
    /// </summary>
    Step,
    /// <summary>
    /// Linear warm-up over <see cref="TrainingRecipeAttribute.Warmup"/> steps to the base rate, then cosine decay to
    /// <see cref="TrainingRecipeAttribute.MinLearningRate"/> at the last step (nanoGPT).
    /// </summary>
    Cosine,
}

/// <summary>
/// Marks a <c>partial class</c> as a language model: the generator writes the rest of the class (derived from
/// <c>Edge.LanguageModel</c>) and lists it in <c>Edge.Generated.ModelRegistry.All</c>. Only classes with this attribute
/// are read; by convention it comes first, followed by the layer attributes in layer order and an optional
/// <see cref="TrainingRecipeAttribute"/>.
/// </summary>
/// <remarks>
/// The class must be <c>partial</c> (else EDGE001), top-level and non-generic (EDGE002), and declare no base class
/// (EDGE003). Its layers must end in <see cref="OutputHeadAttribute"/> or be a single <see cref="BigramTableAttribute"/>
/// (EDGE004). See docs/DECLARATIONS.md for every rule.
/// </remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class LanguageModelAttribute(string name) : Attribute
{
    /// <summary>
    /// The name users type (<c>edge train NAME</c>) and that checkpoints record: a lower-case letter, then lower-case
    /// letters, digits and dashes (<c>^[a-z][a-z0-9-]*$</c>; otherwise EDGE012). Two models with one name in an assembly
    /// are EDGE011.
    /// </summary>
    public string Name { get; } = name;
    /// <summary>
    /// How many previous tokens the model sees; default 1, must be positive (EDGE006). For a window model
    /// (embedding, flatten, dense) every example is exactly this many tokens, [B, Context]; for a transformer it is the
    /// longest sequence, T &lt;= Context (the size of <c>wpe</c> and of the KV cache). A bigram table needs 1 (EDGE013).
    /// </summary>
    public int Context { get; set; } = 1;
    /// <summary>The default way to cut a corpus for this model (<see cref="DataLayout.Text"/> unless set).</summary>
    public DataLayout Data { get; set; } = DataLayout.Text;
    /// <summary>One line for <c>edge models</c>; empty by default.</summary>
    public string Description { get; set; } = "";
}

/// <summary>
/// A learned table of token vectors <c>wte</c> [V, Dim] (V the tokenizer's vocabulary size, known when the model is
/// created): tokens [B, Context] (or [B, T]) -> emb [B, Context, Dim] (or [B, T, Dim]). The first layer of every model
/// except the bigram table; a layer that needs vectors before it is EDGE007. In a model with
/// <see cref="LlamaBlocksAttribute"/> the table is named <c>model.embed_tokens</c>. Initialised N(0, 1) in a window
/// model (makemore), N(0, 0.02) in a transformer (GPT-2).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class TokenEmbeddingAttribute(int dim) : Attribute
{
    /// <summary>The width of each token's vector; must be positive (EDGE006). It is the model's width C for blocks after it.</summary>
    public int Dim { get; } = dim;
    /// <summary>
    /// Adds a learned position embedding <c>wpe</c> [Context, Dim] to the token vectors (GPT-2); default false. Not with
    /// <see cref="LlamaBlocksAttribute"/>, whose rotary positions replace it (EDGE020).
    /// </summary>
    public bool Positional { get; set; }
}

/// <summary>
/// A stack of GPT-2 decoder blocks over [B, T, C]: x += attn(ln_1(x)); x += mlp(ln_2(x)), with causal
/// multi-head self-attention (fused QKV projection) and a GELU MLP of width MlpRatio * C. Makes the model a
/// sequence model: it predicts the next token at every position.
/// </summary>
/// <remarks>
/// C is the width of the layer before (the embedding's <see cref="TokenEmbeddingAttribute.Dim"/>), and the output keeps
/// [B, T, C]. Tensors carry Hugging Face's GPT-2 names (<c>h.N.ln_1</c>, <c>h.N.attn.c_attn</c> [C, 3C],
/// <c>h.N.attn.c_proj</c> [C, C], <c>h.N.ln_2</c>, <c>h.N.mlp.c_fc</c> [C, MlpRatio*C], <c>h.N.mlp.c_proj</c>
/// [MlpRatio*C, C]) in Conv1D's [in, out] orientation; initialisation is GPT-2's (N(0, 0.02), residual projections
/// N(0, 0.02 / sqrt(2 * Layers))). Needs a <see cref="TokenEmbeddingAttribute"/> before it (EDGE007); may appear once
/// (EDGE010); cannot be combined with <see cref="FlattenAttribute"/> or <see cref="DenseAttribute"/> (EDGE017), nor with
/// <see cref="LlamaBlocksAttribute"/> or <see cref="RmsNormAttribute"/> (EDGE020). Usually followed by
/// <see cref="LayerNormAttribute"/> and <see cref="OutputHeadAttribute"/>.
/// </remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class TransformerBlocksAttribute : Attribute
{
    /// <summary>How many blocks (<c>h.0</c> .. <c>h.{Layers-1}</c>); default 1, must be positive (EDGE006).</summary>
    public int Layers { get; set; } = 1;
    /// <summary>Attention heads, each of width C / Heads; default 1, must be positive (EDGE006) and divide C (EDGE015).</summary>
    public int Heads { get; set; } = 1;
    /// <summary>The MLP's hidden width as a multiple of C (GPT-2: 4, the default); must be positive (EDGE006).</summary>
    public int MlpRatio { get; set; } = 4;
    /// <summary>
    /// Dropout on the embeddings and on each residual branch, in training only; default 0, must be in [0, 1) (EDGE014).
    /// It becomes the model's recipe dropout (<c>edge train --dropout</c> overrides it).
    /// </summary>
    public double Dropout { get; set; }
    /// <summary>
    /// Biases in the linear layers and LayerNorms, including the final <see cref="LayerNormAttribute"/>'s shift (GPT-2:
    /// true, the default; nanoGPT's option false, "a bit better and faster").
    /// </summary>
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
/// <remarks>
/// C is the embedding's <see cref="TokenEmbeddingAttribute.Dim"/> and the output keeps [B, T, C]. Per layer:
/// <c>input_layernorm</c> [C], <c>self_attn.q_proj</c> [C, C], <c>k_proj</c> and <c>v_proj</c> [KvHeads * hs, C]
/// (hs = C / Heads), <c>o_proj</c> [C, C] (no bias), <c>post_attention_layernorm</c> [C], <c>mlp.gate_proj</c> and
/// <c>up_proj</c> [MlpHidden, C], <c>mlp.down_proj</c> [C, MlpHidden] (no biases). Needs a
/// <see cref="TokenEmbeddingAttribute"/> without positions before it (EDGE007, EDGE020); may appear once (EDGE010);
/// cannot be combined with <see cref="FlattenAttribute"/> or <see cref="DenseAttribute"/> (EDGE017), nor with
/// <see cref="TransformerBlocksAttribute"/> or <see cref="LayerNormAttribute"/> (EDGE020). Usually followed by
/// <see cref="RmsNormAttribute"/> and <see cref="OutputHeadAttribute"/>.
/// </remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class LlamaBlocksAttribute : Attribute
{
    /// <summary>How many blocks (<c>model.layers.0</c> ..); default 1, must be positive (EDGE006).</summary>
    public int Layers { get; set; } = 1;
    /// <summary>
    /// Query heads; default 1, must be positive (EDGE006) and divide C (EDGE015), and the head size C / Heads must be even
    /// (rotary positions rotate channel pairs; EDGE019).
    /// </summary>
    public int Heads { get; set; } = 1;
    /// <summary>
    /// Key/value heads; must divide <see cref="Heads"/> (EDGE018), must not be negative (EDGE006); 0, the default, means as
    /// many as the query heads (plain multi-head attention); 1 is multi-query attention.
    /// </summary>
    public int KvHeads { get; set; }
    /// <summary>The MLP's hidden width (Llama's intermediate_size). Required: the default 0 is EDGE006.</summary>
    public int MlpHidden { get; set; }
    /// <summary>The RoPE base (Llama's rope_theta); default 10000, must be positive (EDGE014).</summary>
    public double RopeTheta { get; set; } = 10000;
    /// <summary>How rotary positions pair a head's channels: <see cref="RopeLayout.Half"/> (the default, Hugging Face) or <see cref="RopeLayout.Interleaved"/> (Meta, llama2.c).</summary>
    public RopeLayout Rope { get; set; } = RopeLayout.Half;
    /// <summary>The blocks' RMSNorms' epsilon (rms_norm_eps); default 1e-5, must be positive (EDGE014). The final <see cref="RmsNormAttribute"/> has its own.</summary>
    public double NormEpsilon { get; set; } = 1e-5;
    /// <summary>Biases on the q, k and v projections (Qwen2 has them; Llama does not); default false.</summary>
    public bool QkvBias { get; set; }
    /// <summary>
    /// Dropout on the embeddings and each residual branch, in training only; default 0, must be in [0, 1) (EDGE014). It
    /// becomes the model's recipe dropout (<c>edge train --dropout</c> overrides it).
    /// </summary>
    public double Dropout { get; set; }
}

/// <summary>
/// Root-mean-square normalisation with a learned scale (Llama's final <c>model.norm</c> [C]): [B, T, C] -> [B, T, C].
/// Goes after <see cref="LlamaBlocksAttribute"/>; not with <see cref="TransformerBlocksAttribute"/> (EDGE020); needs vectors
/// before it (EDGE007); may appear once (EDGE010).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class RmsNormAttribute : Attribute
{
    /// <summary>Added to the mean square before the square root; default 1e-5, must be positive (EDGE014).</summary>
    public double Epsilon { get; set; } = 1e-5;
}

/// <summary>
/// Layer normalisation over the last dimension, with a learned scale and shift (GPT-2's <c>ln_f</c> [C]):
/// [B, T, C] -> [B, T, C]. Goes after <see cref="TransformerBlocksAttribute"/>; the shift is present when the blocks'
/// <see cref="TransformerBlocksAttribute.Bias"/> is (true without blocks). Not with <see cref="LlamaBlocksAttribute"/>
/// (EDGE020); needs vectors before it (EDGE007); may appear once (EDGE010). No options.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class LayerNormAttribute : Attribute;

/// <summary>
/// Concatenates the context's embeddings into one vector: [B, Context, Dim] -> [B, Context * Dim]; no parameters and no
/// work. Required between <see cref="TokenEmbeddingAttribute"/> and the first <see cref="DenseAttribute"/> or the
/// <see cref="OutputHeadAttribute"/> when Context &gt; 1 (else EDGE009); needs the embedding before it (EDGE007); may
/// appear once (EDGE010); not in a transformer (EDGE017).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class FlattenAttribute : Attribute;

/// <summary>
/// A fully connected layer y = act(x W + b) with W stored [in, out] and a bias [out]: [B, in] -> [B, Width], where in is
/// the width of the layer before. Repeat it for deeper models (the only attribute that may appear more than once).
/// Window models only: not with transformer blocks (EDGE017). Needs the embedding before it (EDGE007) and, when
/// Context &gt; 1, a <see cref="FlattenAttribute"/> (EDGE009). W is initialised N(0, gain / sqrt(in)) (Kaiming, the gain by
/// <see cref="Activation"/>), b to zeros.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = true)]
public sealed class DenseAttribute(int width, Activation activation = Activation.None) : Attribute
{
    /// <summary>The output width; must be positive (EDGE006).</summary>
    public int Width { get; } = width;
    /// <summary>The non-linearity after the product; <see cref="Activation.None"/> unless given.</summary>
    public Activation Activation { get; } = activation;
    /// <summary>
    /// The tensor name prefix in checkpoints (<c>NAME.weight</c>, <c>NAME.bias</c>); default fc1, fc2, ... by position
    /// among the dense layers. Names must be unique and not one of wte, wpe, lm_head, ln_f, h (EDGE011).
    /// </summary>
    public string? Name { get; set; }
}

/// <summary>
/// The bigram model: logits are the row of a [V, V] table picked by the previous token. With
/// <see cref="Counting"/> the table is not trained but filled with log-probabilities from smoothed counts.
/// </summary>
/// <remarks>
/// A whole model on its own: tokens [B, 1] -> logits [B, V], the table <c>table.weight</c> [V, V] initialised to zeros
/// (uniform predictions). It must be the only layer (EDGE008) and the model's Context must be 1 (EDGE013).
/// </remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class BigramTableAttribute : Attribute
{
    /// <summary>Fill the table from counts (<c>edge train</c> fits it, no gradient steps) instead of training it; default false.</summary>
    public bool Counting { get; set; }
    /// <summary>Add-k smoothing for the counting version (1 = add-one, the default); ignored when <see cref="Counting"/> is false.</summary>
    public double Smoothing { get; set; } = 1;
}

/// <summary>
/// The output layer: a projection to vocabulary logits, trained with softmax cross-entropy: [B, in] -> logits [B, V] in a
/// window model, [B, T, C] -> [B, T, V] in a transformer. It (or a <see cref="BigramTableAttribute"/>) must be declared
/// (EDGE004) and must be the last layer (EDGE005).
/// </summary>
/// <remarks>
/// Untied, the weight is <c>lm_head.weight</c> [in, V] (N(0, 0.01) in a window model, N(0, 0.02) in a GPT), or [V, in]
/// in a Llama-family model (torch.nn.Linear's orientation). Needs vectors before it (EDGE007) and, in a window model with
/// Context &gt; 1, a <see cref="FlattenAttribute"/> (EDGE009).
/// </remarks>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class OutputHeadAttribute : Attribute
{
    /// <summary>A bias <c>lm_head.bias</c> [V] (zeros at the start); default true. GPT-2 and Llama checkpoints have none: set false.</summary>
    public bool Bias { get; set; } = true;
    /// <summary>
    /// Reuses the token embedding as the output projection: logits = x wte^T (GPT-2, nanoGPT); default false. The head's
    /// input width must equal the embedding's <see cref="TokenEmbeddingAttribute.Dim"/> (EDGE016).
    /// </summary>
    public bool TiedToEmbedding { get; set; }
}

/// <summary>
/// The training defaults <c>edge train</c> (and <c>TrainOptions.FromRecipe</c>) use for this model; every value can be
/// overridden on the command line. Optional and not a layer: it may stand anywhere among the attributes. Invalid values
/// are EDGE014. Without it the defaults below apply.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class TrainingRecipeAttribute : Attribute
{
    /// <summary>The optimiser; default <see cref="OptimizerKind.AdamW"/>.</summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.AdamW;
    /// <summary>The base learning rate (the peak of the cosine schedule); default 1e-3, must be positive (EDGE014).</summary>
    public double LearningRate { get; set; } = 1e-3;
    /// <summary>Examples (windows or sequences) per step; default 32, must be positive (EDGE014).</summary>
    public int Batch { get; set; } = 32;
    /// <summary>Optimiser steps in a run; default 2000, must be positive (EDGE014).</summary>
    public int Steps { get; set; } = 2000;
    /// <summary>Step schedule: multiply the rate by <see cref="DecayFactor"/> from this step on (0 = never, the default); must not be negative (EDGE014).</summary>
    public int DecayStep { get; set; }
    /// <summary>Step schedule: the factor applied from <see cref="DecayStep"/> on; default 0.1. Not checked.</summary>
    public double DecayFactor { get; set; } = 0.1;
    /// <summary>
    /// Weight decay on matrices and embeddings (not biases or norms): decoupled for AdamW, coupled for SGD; default 0,
    /// must not be negative (EDGE014).
    /// </summary>
    public double WeightDecay { get; set; }
    /// <summary>Evaluate on the validation split every this many steps (and after the last); default 500, must be positive (EDGE014).</summary>
    public int EvalInterval { get; set; } = 500;
    /// <summary>The learning-rate schedule; default <see cref="ScheduleKind.Step"/>.</summary>
    public ScheduleKind Schedule { get; set; } = ScheduleKind.Step;
    /// <summary>Cosine schedule: steps of linear warm-up; default 0, must not be negative (EDGE014).</summary>
    public int Warmup { get; set; }
    /// <summary>Cosine schedule: the rate at the last step; default 0, must not be negative (EDGE014).</summary>
    public double MinLearningRate { get; set; }
    /// <summary>AdamW's second-moment decay; default 0.999, must be in (0, 1) (EDGE014). Beta1 is 0.9.</summary>
    public double Beta2 { get; set; } = 0.999;
    /// <summary>Global gradient-norm clipping threshold (0 = off, the default); must not be negative (EDGE014).</summary>
    public double GradClip { get; set; }
}
