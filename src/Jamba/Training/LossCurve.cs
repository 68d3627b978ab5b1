using System.Globalization;
using System.Text;
using Jamba.Plotting;

namespace Jamba.Training;

/// <summary>Writes a training history as <c>loss.csv</c> and a <c>loss.png</c> plot.</summary>
public static class LossCurve
{
    /// <summary>The CSV file name in an output folder.</summary>
    public const string CsvFile = "loss.csv";
    /// <summary>The PNG file name in an output folder.</summary>
    public const string PngFile = "loss.png";

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

    /// <summary>
    /// Plots the training LM loss per step (and its centred running mean over 1/20 of the run, from 40 steps on)
    /// and the validation loss at each evaluation, and writes the PNG atomically.
    /// </summary>
    public static void WritePng(IReadOnlyList<TrainingLogEntry> history, string path, string title = "Training", int width = 900, int height = 540)
        => Plot(history, title).SavePng(path, width, height);

    /// <summary>The plot <see cref="WritePng"/> draws.</summary>
    public static LinePlot Plot(IReadOnlyList<TrainingLogEntry> history, string title = "Training")
    {
        var plot = new LinePlot { Title = title, XLabel = "step", YLabel = "loss" };
        var train = history.Where(h => h.LmLoss is not null).ToList();
        if (train.Count > 0)
        {
            plot.Add("train loss", train.Select(h => (double)h.Step).ToList(), train.Select(h => h.LmLoss!.Value).ToList(), new Rgb(150, 190, 230));
            // A centred running mean: a trailing one lags behind the curve and makes training look slower than it is.
            int half = train.Count / 40;
            if (half >= 1)
            {
                var prefix = new double[train.Count + 1];
                for (int i = 0; i < train.Count; i++) prefix[i + 1] = prefix[i] + train[i].LmLoss!.Value;
                var smooth = new List<double>(train.Count);
                for (int i = 0; i < train.Count; i++)
                {
                    int lo = Math.Max(0, i - half), hi = Math.Min(train.Count, i + half + 1);
                    smooth.Add((prefix[hi] - prefix[lo]) / (hi - lo));
                }
                plot.Add($"train (mean of {2 * half + 1})", train.Select(h => (double)h.Step).ToList(), smooth, Rgb.Palette[0]);
            }
        }
        var val = history.Where(h => h.ValidationLoss is not null).ToList();
        if (val.Count > 0)
            plot.Add("validation loss", val.Select(h => (double)h.Step).ToList(), val.Select(h => h.ValidationLoss!.Value).ToList(), Rgb.Palette[1], markers: true);
        return plot;
    }
}
