namespace Edge.Models;

/// <summary>
/// makemore part 2 (Bengio et al. 2003): three characters of context, a 10-dimensional embedding per
/// character, one tanh hidden layer of 200, trained on names with '.' as the start/end marker. The recipe
/// is makemore's: SGD, batch 32, learning rate 0.1 then 0.01 for the second half of 200,000 steps.
/// </summary>
[LanguageModel("names-mlp", Context = 3, Data = DataLayout.Lines,
    Description = "makemore MLP: context 3, embedding 10, hidden 200 tanh")]
[TokenEmbedding(10)]
[Flatten]
[Dense(200, Activation.Tanh)]
[OutputHead]
[TrainingRecipe(Optimizer = OptimizerKind.Sgd, LearningRate = 0.1, Batch = 32, Steps = 200_000, DecayStep = 100_000, DecayFactor = 0.1, EvalInterval = 10_000)]
public partial class NamesMlp;
