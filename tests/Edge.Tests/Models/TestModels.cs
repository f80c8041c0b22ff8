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
