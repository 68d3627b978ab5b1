using System.Globalization;
using System.Text;

namespace Jamba.Training;

/// <summary>
/// Writes a training history as <c>loss.csv</c>. Drawing it is left to the applications (the CLI draws
/// <c>loss.png</c> through Jamba.Lab), so the model library carries no plotting.
/// </summary>
public static class LossCurve
{
    /// <summary>The CSV file name in an output folder.</summary>
    public const string CsvFile = "loss.csv";

    /// <summary>The CSV header.</summary>
    public const string CsvHeader = "step,epoch,loss,lm_loss,aux_loss,learning_rate,grad_norm,tokens_per_second,val_loss,val_perplexity";

    /// <summary>
    /// Writes one row per log entry (empty cells for absent values; invariant culture; round-trip precision for
    /// losses) atomically.
    /// </summary>
    public static void WriteCsv(IEnumerable<TrainingLogEntry> history, string path)
    {
        var sb = new StringBuilder(CsvHeader).Append('\n');
        static string F(double? v, string format = "R") => v is double d ? d.ToString(format, CultureInfo.InvariantCulture) : "";
        foreach (var h in history)
        {
            sb.Append(h.Step.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(h.Epoch.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(F(h.Loss)).Append(',').Append(F(h.LmLoss)).Append(',').Append(F(h.AuxLoss)).Append(',')
              .Append(F(h.LearningRate)).Append(',').Append(F(h.GradNorm, "G6")).Append(',').Append(F(h.TokensPerSecond, "F1")).Append(',')
              .Append(F(h.ValidationLoss)).Append(',').Append(F(h.ValidationPerplexity, "G6")).Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }
}
