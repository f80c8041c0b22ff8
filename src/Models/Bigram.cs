namespace Edge.Models;

// makemore part 1: the next character depends only on the previous one.

/// <summary>The bigram model trained by gradient descent: logits are a learned row per previous token.</summary>
[LanguageModel("bigram", Context = 1, Data = DataLayout.Lines,
    Description = "bigram table trained by gradient descent (makemore part 1)")]
[BigramTable]
[TrainingRecipe(Optimizer = OptimizerKind.AdamW, LearningRate = 0.1, Batch = 512, Steps = 3000, DecayStep = 2000, DecayFactor = 0.1, EvalInterval = 500)]
public partial class Bigram;

/// <summary>The same table filled from add-one-smoothed counts: the model gradient descent should converge to.</summary>
[LanguageModel("bigram-counts", Context = 1, Data = DataLayout.Lines,
    Description = "bigram table from add-one smoothed counts, no training (makemore part 1)")]
[BigramTable(Counting = true, Smoothing = 1)]
public partial class BigramCounting;
