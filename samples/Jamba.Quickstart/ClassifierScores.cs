using Microsoft.ML.Data;

namespace Jamba.Quickstart;

/// <summary>A classifier's test-set numbers as the quickstart reports them.</summary>
/// <param name="Model">Which model.</param>
/// <param name="Accuracy">Micro accuracy: the fraction of test rows predicted right.</param>
/// <param name="MacroF1">Mean over classes of the per-class F1 (ML.NET reports per-class precision and recall, not F1).</param>
/// <param name="LogLoss">Mean negative log-probability of the true class (nats; lower is better).</param>
public sealed record ClassifierScores(string Model, double Accuracy, double MacroF1, double LogLoss)
{
    /// <summary>Takes the numbers from ML.NET's <see cref="MulticlassClassificationMetrics"/>.</summary>
    public static ClassifierScores From(string model, MulticlassClassificationMetrics metrics)
    {
        var precision = metrics.ConfusionMatrix.PerClassPrecision;
        var recall = metrics.ConfusionMatrix.PerClassRecall;
        // A class never predicted has precision 0/0; ML.NET reports it as 0, and its F1 is then 0 as in scikit-learn.
        double f1 = Enumerable.Range(0, precision.Count)
            .Select(k => precision[k] + recall[k] > 0 ? 2 * precision[k] * recall[k] / (precision[k] + recall[k]) : 0)
            .Average();
        return new ClassifierScores(model, metrics.MicroAccuracy, f1, metrics.LogLoss);
    }
}
