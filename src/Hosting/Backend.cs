using Edge.Training;

namespace Edge.Cli;

/// <summary>
/// Where the commands that run passes (train, generate, eval, bench) run them: the CPU kernels in `edge`; the JIT host
/// `edge-gpu` (src/GpuCli) installs a device backend before running the same commands, so argument parsing, data loading,
/// checkpoints, tokenizers and output are shared. This assembly never references the device code (the NativeAOT binary
/// stays free of it): the seam is this class.
/// </summary>
abstract class Backend
{
    public static Backend Current { get; set; } = new CpuBackend();

    /// <summary>True when passes run on a device (bench then reports no CPU peak or bandwidth bound).</summary>
    public virtual bool IsDevice => false;

    /// <summary>A run's engine: a training context at <paramref name="batch"/> and the optimiser of <paramref name="options"/>, owned by the engine.</summary>
    public abstract TrainingEngine CreateTraining(LanguageModel model, int batch, TrainOptions options);

    /// <summary>A context for forward passes (scoring, logits of window models) at up to <paramref name="maxBatch"/> examples.</summary>
    public abstract IModelContext CreateInference(LanguageModel model, int maxBatch);

    /// <summary>A decoding context with a KV cache (sequence models).</summary>
    public abstract IModelContext CreateDecoding(LanguageModel model);

    /// <summary>A decoding context for a sequence model, an inference context for a window model: what text generation runs in.</summary>
    public IModelContext CreateGeneration(LanguageModel model) => model.IsSequenceModel ? CreateDecoding(model) : CreateInference(model, 1);
}

/// <summary>The CPU kernels (generated code over <see cref="ModelContext"/>).</summary>
sealed class CpuBackend : Backend
{
    public override TrainingEngine CreateTraining(LanguageModel model, int batch, TrainOptions options) =>
        new HostTraining(model.CreateTrainingContext(batch), options, ownsContext: true);

    public override IModelContext CreateInference(LanguageModel model, int maxBatch) => model.CreateInferenceContext(maxBatch);

    public override IModelContext CreateDecoding(LanguageModel model) => model.CreateDecodingContext();
}
