namespace Jamba.Training;

/// <summary>How the learning rate moves from the peak to the minimum after warm-up.</summary>
public enum LearningRateDecay
{
    /// <summary>Half a cosine (the default).</summary>
    Cosine,
    /// <summary>A straight line.</summary>
    Linear,
    /// <summary>No decay: the peak until the end.</summary>
    Constant,
}

/// <summary>
/// Linear warm-up then decay (cosine by default), as a pure function of the update number, so resuming needs only the step.
/// Update <c>s</c> (1-based) uses <c>peak · s / warmup</c> while <c>s ≤ warmup</c>, then
/// <c>min + (peak − min) · ½(1 + cos(π · progress))</c> with progress = (s − warmup) / (total − warmup), reaching
/// <c>min = peak · MinRatio</c> at the last update. Unlike transformers' <c>get_cosine_schedule_with_warmup</c>,
/// whose first update has learning rate 0, every update here moves the weights.
/// </summary>
/// <param name="PeakLearningRate">The learning rate at the end of warm-up.</param>
/// <param name="WarmupSteps">Updates of linear warm-up (0 for none).</param>
/// <param name="TotalSteps">The planned number of updates.</param>
/// <param name="MinRatio">Final learning rate as a fraction of the peak (default 0.1).</param>
/// <param name="Decay">The shape of the decay after warm-up.</param>
public sealed record LearningRateSchedule(double PeakLearningRate, int WarmupSteps, int TotalSteps, double MinRatio = 0.1,
    LearningRateDecay Decay = LearningRateDecay.Cosine)
{
    /// <summary>The learning rate of update <paramref name="step"/> (1-based; steps past the total keep the minimum).</summary>
    public double At(long step)
    {
        if (step < 1) step = 1;
        if (WarmupSteps > 0 && step <= WarmupSteps) return PeakLearningRate * step / WarmupSteps;
        if (Decay == LearningRateDecay.Constant) return PeakLearningRate;
        double min = PeakLearningRate * MinRatio;
        long span = TotalSteps - WarmupSteps;
        if (span <= 0) return PeakLearningRate;
        double progress = Math.Clamp((double)(step - WarmupSteps) / span, 0.0, 1.0);
        double shape = Decay == LearningRateDecay.Linear ? 1 - progress : 0.5 * (1 + Math.Cos(Math.PI * progress));
        return min + (PeakLearningRate - min) * shape;
    }

    /// <summary>Checks the numbers; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (!(PeakLearningRate > 0) || !double.IsFinite(PeakLearningRate)) throw new ArgumentException($"learning rate must be positive, got {PeakLearningRate}");
        if (WarmupSteps < 0) throw new ArgumentException($"warm-up steps must be >= 0, got {WarmupSteps}");
        if (TotalSteps < 1) throw new ArgumentException($"total steps must be >= 1, got {TotalSteps}");
        if (MinRatio is < 0 or > 1) throw new ArgumentException($"minimum learning-rate ratio must be in [0, 1], got {MinRatio}");
    }
}
