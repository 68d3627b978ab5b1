namespace Jamba.Quickstart;

/// <summary>A prediction of the reloaded classifier on a sentence it has not seen.</summary>
/// <param name="Text">The sentence.</param>
/// <param name="Predicted">The predicted label.</param>
/// <param name="Probability">The predicted label's probability.</param>
/// <param name="Expected">The right label when known (generated task), else null.</param>
public sealed record SentencePrediction(string Text, string Predicted, float Probability, string? Expected);

/// <summary>Everything a quickstart run measured; the tests compare two of these for determinism.</summary>
public sealed class QuickstartResult
{
    /// <summary>Where the data came from (the generated task or the user's file).</summary>
    public required string DataSource { get; init; }
    /// <summary>Where the model came from (a preset or a checkpoint folder).</summary>
    public required string ModelSource { get; init; }
    /// <summary>Training rows.</summary>
    public required int TrainRows { get; init; }
    /// <summary>Test rows.</summary>
    public required int TestRows { get; init; }
    /// <summary>The classes, sorted.</summary>
    public required IReadOnlyList<string> Classes { get; init; }
    /// <summary>The bag-of-n-grams baseline on the test rows.</summary>
    public required ClassifierScores Baseline { get; init; }
    /// <summary>The fine-tuned Jamba on the test rows.</summary>
    public required ClassifierScores Jamba { get; init; }
    /// <summary>The reloaded Jamba classifier on the test rows (must equal <see cref="Jamba"/>).</summary>
    public required ClassifierScores Reloaded { get; init; }
    /// <summary>Training-loss reports of the Jamba fine-tuning.</summary>
    public required IReadOnlyList<LossPoint> Loss { get; init; }
    /// <summary>Predictions of the reloaded classifier on new sentences.</summary>
    public required IReadOnlyList<SentencePrediction> Predictions { get; init; }
    /// <summary>Generated continuations (empty when the model is a classifier checkpoint).</summary>
    public required IReadOnlyList<DecodeRun> Generations { get; init; }
    /// <summary>Size of the saved ML.NET pipeline file.</summary>
    public required long SavedModelBytes { get; init; }
    /// <summary>Seconds spent in each stage, in order.</summary>
    public required IReadOnlyList<(string Stage, double Seconds)> Timings { get; init; }
    /// <summary>The output folder (full path) after a successful run.</summary>
    public required string OutputDir { get; init; }
    /// <summary>CPU seconds the process used up to the summary (all threads).</summary>
    public required double CpuSeconds { get; init; }
    /// <summary>Wall time of the whole run.</summary>
    public double TotalSeconds => Timings.Sum(t => t.Seconds);
}
