namespace Jamba.Training;

/// <summary>
/// One row of the training log: an optimiser update (training fields set) and/or an evaluation (validation fields
/// set). Step 0 holds the evaluation before any update.
/// </summary>
public sealed record TrainingLogEntry
{
    /// <summary>Updates taken so far.</summary>
    public long Step { get; init; }
    /// <summary>Epoch of the data at this step.</summary>
    public int Epoch { get; init; }
    /// <summary>Training loss of this update: mean over its micro-batches of LM loss + coef × router loss.</summary>
    public double? Loss { get; init; }
    /// <summary>The causal-LM cross-entropy part of <see cref="Loss"/>.</summary>
    public double? LmLoss { get; init; }
    /// <summary>The router load-balancing loss (before the coefficient), when the model has MoE layers.</summary>
    public double? AuxLoss { get; init; }
    /// <summary>Learning rate used by this update.</summary>
    public double? LearningRate { get; init; }
    /// <summary>Gradient norm before clipping.</summary>
    public double? GradNorm { get; init; }
    /// <summary>Training tokens per second of this update.</summary>
    public double? TokensPerSecond { get; init; }
    /// <summary>Mean validation cross-entropy, when evaluated at this step.</summary>
    public double? ValidationLoss { get; init; }
    /// <summary>exp(<see cref="ValidationLoss"/>).</summary>
    public double? ValidationPerplexity { get; init; }
}

/// <summary>How a run ended.</summary>
/// <param name="Step">Updates taken in total.</param>
/// <param name="Interrupted">Stopped by cancellation (Ctrl-C) before the planned steps.</param>
/// <param name="EarlyStopped">Stopped because the validation loss stopped improving.</param>
/// <param name="FinalCheckpoint">The last checkpoint folder written, if any.</param>
/// <param name="BestValidationLoss">Lowest validation loss seen, if evaluated.</param>
public sealed record TrainingResult(long Step, bool Interrupted, bool EarlyStopped, string? FinalCheckpoint, double? BestValidationLoss);
