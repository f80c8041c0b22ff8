using Edge;
using Edge.Generation;
using Edge.Training;

// Data: a text file (or a built-in line), a character tokenizer over it, and train/val examples (90/10).
string text = args.Length > 0 ? File.ReadAllText(args[0]) : string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 400));
var tokenizer = TrainingData.BuildTokenizer(text, DataLayout.Text);
var data = TrainingData.Split(text, tokenizer, TinyMlp.Descriptor, DataLayout.Text, splitSeed: 42);

// Create the model and train it with its declared recipe (fewer steps), reporting each evaluation.
using var model = new TinyMlp(tokenizer.VocabSize);
model.Initialize(seed: 1);
var options = TrainOptions.FromRecipe(TinyMlp.Descriptor.Recipe) with { Steps = 300, EvalInterval = 100 };
using (var trainer = new Trainer(model.CreateTrainingContext(options.Batch), data.Train, data.Val, options))
{
    trainer.Run(onEval: (e, best) => Console.WriteLine($"step {e.Step}: train loss {e.TrainLoss:F3}, val loss {e.ValLoss:F3}"));
    Console.WriteLine($"val perplexity {Math.Exp(trainer.Evaluate(data.Val)):F2}");
}
Checkpoint.Save("tiny.safetensors", model, tokenizer);

// Load the checkpoint by its recorded model name and sample 80 characters (temperature 0.8, top-k 10).
var loaded = Checkpoint.Load("tiny.safetensors", [TinyMlp.Descriptor]);
using var context = loaded.Model.CreateInferenceContext();
var sampler = new Sampler(loaded.Model.VocabSize, seed: 7, temperature: 0.8f, topK: 10);
new TextGenerator(context, loaded.Tokenizer).Generate(tokenizer.Encode("the "), 80, sampler, Console.Out);
Console.WriteLine();

[LanguageModel("tiny-mlp", Context = 8)]
[TokenEmbedding(16), Flatten, Dense(64, Activation.Tanh), OutputHead]
[TrainingRecipe(Optimizer = OptimizerKind.AdamW, LearningRate = 3e-3, Batch = 32, Steps = 1000)]
partial class TinyMlp;
