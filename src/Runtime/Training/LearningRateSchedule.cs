namespace Edge.Training;

/// <summary>
/// The learning rate at each step (steps count from 0). A step schedule multiplies the base rate by a factor
/// from one step on (makemore's 0.1 -> 0.01); a cosine schedule warms up linearly, then decays to a minimum.
/// </summary>
public sealed record LearningRateSchedule(double BaseRate, int DecayStep = 0, double DecayFactor = 1,
    int WarmupSteps = 0, int CosineSteps = 0, double MinRate = 0)
{
    /// <summary>The base <paramref name="rate"/>, times <paramref name="factor"/> from step <paramref name="decayStep"/> on (0: never).</summary>
    public static LearningRateSchedule Step(double rate, int decayStep, double factor) => new(rate, decayStep, factor);

    /// <summary>Linear warm-up over <paramref name="warmup"/> steps to <paramref name="rate"/>, then cosine decay to <paramref name="minRate"/> at step <paramref name="totalSteps"/>.</summary>
    public static LearningRateSchedule Cosine(double rate, int warmup, int totalSteps, double minRate) =>
        new(rate, WarmupSteps: warmup, CosineSteps: totalSteps, MinRate: minRate);

    /// <summary>The rate at <paramref name="step"/> (counting from 0).</summary>
    public double At(int step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return BaseRate * (step + 1) / WarmupSteps;
        if (CosineSteps > 0)
        {
            if (step >= CosineSteps) return MinRate;
            double progress = (double)(step - WarmupSteps) / Math.Max(1, CosineSteps - WarmupSteps);
            return MinRate + 0.5 * (1 + Math.Cos(Math.PI * progress)) * (BaseRate - MinRate);
        }
        return DecayStep > 0 && step >= DecayStep ? BaseRate * DecayFactor : BaseRate;
    }
}
