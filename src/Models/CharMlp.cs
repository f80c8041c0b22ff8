namespace Edge.Models;

/// <summary>
/// A character MLP over running text, in the spirit of the NumPy notebook and the autograd MLP lesson:
/// sixteen characters of context, a 24-dimensional embedding, two hidden layers (tanh, then ReLU).
/// </summary>
[LanguageModel("char-mlp", Context = 16, Data = DataLayout.Text,
    Description = "character MLP: context 16, embedding 24, hidden 512 tanh + 256 relu")]
[TokenEmbedding(24)]
[Flatten]
[Dense(512, Activation.Tanh)]
[Dense(256, Activation.Relu)]
[OutputHead]
[TrainingRecipe(Optimizer = OptimizerKind.AdamW, LearningRate = 2e-3, Batch = 64, Steps = 3000, DecayStep = 2000, DecayFactor = 0.2, EvalInterval = 500)]
public partial class CharMlp;
