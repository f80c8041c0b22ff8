using Edge.Cli;
using Edge.Gpu;
using Edge.Training;

namespace Edge.GpuCli;

/// <summary>
/// The edge commands' passes on a device: each context uploads the model's weights (a <see cref="DeviceModel"/> it owns)
/// and runs the op table there. Counting models (the bigram fitted by counts) have no passes to move and stay on the CPU.
/// </summary>
sealed class DeviceBackend(GpuDevice device) : Backend
{
    public override bool IsDevice => true;

    public override TrainingEngine CreateTraining(LanguageModel model, int batch, TrainOptions options)
    {
        if (model.FitsByCounting) return new CpuBackend().CreateTraining(model, batch, options);
        var context = Own(new DeviceModel(device, model), m => m.CreateTrainingContext(batch));
        return new DeviceTraining(context, options, ownsContext: true);
    }

    public override IModelContext CreateInference(LanguageModel model, int maxBatch) =>
        Own(new DeviceModel(device, model), m => m.CreateInferenceContext(maxBatch));

    public override IModelContext CreateDecoding(LanguageModel model) => Own(new DeviceModel(device, model), m => m.CreateDecodingContext());

    /// <summary>A context that disposes its device model with it (one model upload per context the commands create).</summary>
    static DeviceContext Own(DeviceModel model, Func<DeviceModel, DeviceContext> create)
    {
        try
        {
            var context = create(model);
            context.OwnsModel = true;
            return context;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
