namespace Jamba.Lab.Experiments.Ablation;

/// <summary>One evaluation during a run.</summary>
/// <param name="Step">Updates taken.</param>
/// <param name="Loss">Mean cross-entropy over the scored positions of the validation set (nats).</param>
/// <param name="Accuracy">Fraction of scored positions whose argmax is the label.</param>
public sealed record AblationEvaluation(int Step, double Loss, double Accuracy);

/// <summary>One trained model: variant × task × seed.</summary>
/// <param name="Variant">Variant name.</param>
/// <param name="Task">Task name.</param>
/// <param name="Seed">Training seed (initialisation and data order).</param>
/// <param name="TotalParameters">All parameters.</param>
/// <param name="ActiveParameters">Parameters used per token.</param>
/// <param name="Curve">Evaluations in step order; the last is the final result.</param>
/// <param name="Seconds">Wall time of the run (training and evaluations).</param>
/// <param name="Tokens">Training tokens seen.</param>
public sealed record AblationRunResult(string Variant, string Task, long Seed, long TotalParameters, long ActiveParameters,
    IReadOnlyList<AblationEvaluation> Curve, double Seconds, long Tokens)
{
    /// <summary>Validation loss at the end of training.</summary>
    public double FinalLoss => Curve[^1].Loss;
    /// <summary>Validation accuracy at the end of training.</summary>
    public double FinalAccuracy => Curve[^1].Accuracy;
}
