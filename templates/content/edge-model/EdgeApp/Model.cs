using Edge;

namespace EdgeApp;

/// <summary>
/// A character MLP: eight characters of context, each embedded in 16 numbers, concatenated, one hidden layer of 128
/// tanh units, and a softmax over the characters. The Edge source generator writes the rest of this class (parameter
/// layout, initialisation, forward and backward passes); a declaration it cannot build is a compile error (EDGE0xx).
/// </summary>
[LanguageModel("my-model", Context = 8, Data = DataLayout.Text, Description = "character MLP: context 8, embedding 16, hidden 128 tanh")]
[TokenEmbedding(16)]
[Flatten]
[Dense(128, Activation.Tanh)]
[OutputHead]
[TrainingRecipe(Optimizer = OptimizerKind.AdamW, LearningRate = 3e-3, Batch = 32, Steps = 1000, EvalInterval = 250)]
public partial class MyModel;
