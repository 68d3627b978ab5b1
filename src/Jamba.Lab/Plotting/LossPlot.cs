using Jamba.Training;
using ScottPlot;

namespace Jamba.Lab.Plotting;

/// <summary>
/// Draws a training history (the rows <see cref="CausalLmTrainer"/> records and <see cref="LossCurve"/> writes as
/// <c>loss.csv</c>) as <c>loss.png</c>.
/// </summary>
public static class LossPlot
{
    /// <summary>The PNG file name in an output folder, beside <see cref="LossCurve.CsvFile"/>.</summary>
    public const string PngFile = "loss.png";

    /// <summary>
    /// Plots the training LM loss per step (and its centred running mean over 1/20 of the run, from 40 steps on)
    /// and the validation loss at each evaluation, and writes the PNG atomically.
    /// </summary>
    public static void WritePng(IReadOnlyList<TrainingLogEntry> history, string path, string title = "Training", int width = 900, int height = 540)
        => Plot(history, title).SavePng(path, width, height);

    /// <summary>The plot <see cref="WritePng"/> draws.</summary>
    public static LinePlot Plot(IReadOnlyList<TrainingLogEntry> history, string title = "Training")
    {
        var palette = new ScottPlot.Palettes.Category10();
        var plot = new LinePlot { Title = title, XLabel = "step", YLabel = "loss" };
        var train = history.Where(h => h.LmLoss is not null).ToList();
        if (train.Count > 0)
        {
            plot.Add("train loss", train.Select(h => (double)h.Step).ToList(), train.Select(h => h.LmLoss!.Value).ToList(), new Color(150, 190, 230));
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
                plot.Add($"train (mean of {2 * half + 1})", train.Select(h => (double)h.Step).ToList(), smooth, palette.GetColor(0));
            }
        }
        var val = history.Where(h => h.ValidationLoss is not null).ToList();
        if (val.Count > 0)
            plot.Add("validation loss", val.Select(h => (double)h.Step).ToList(), val.Select(h => h.ValidationLoss!.Value).ToList(), palette.GetColor(1), markers: true);
        return plot;
    }
}
