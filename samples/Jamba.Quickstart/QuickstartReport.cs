using System.Globalization;
using System.Text;
using Jamba.Planning;
using Jamba.Lab.Plotting;
using TorchSharp;

namespace Jamba.Quickstart;

/// <summary>The files a run leaves in its output folder: plots, a text summary, the model report and the saved pipeline.</summary>
public static class QuickstartReport
{
    /// <summary>The saved ML.NET pipeline (ml.Model.SaveJamba).</summary>
    public const string ModelFile = "jamba-classifier.zip";
    /// <summary>The Jamba fine-tuning loss curve.</summary>
    public const string LossPlotFile = "loss.png";
    /// <summary>Baseline vs Jamba bars.</summary>
    public const string ComparisonPlotFile = "comparison.png";
    /// <summary>The full model report (as <c>jamba info</c> prints it).</summary>
    public const string ModelReportFile = "model.txt";

    /// <summary>Every file, in the order they are listed at the end of a run.</summary>
    public static IReadOnlyList<string> Files { get; } = new[] { OutputFolder.MarkerFile, LossPlotFile, ComparisonPlotFile, ModelReportFile, ModelFile };

    /// <summary>Writes the plots, the summary and the model report into the staging folder.</summary>
    public static void Write(QuickstartResult r, JambaConfig config, QuickstartOptions o, OutputFolder output)
    {
        var lossPlot = new LinePlot { Title = "Jamba fine-tuning", XLabel = "step", YLabel = "training loss (cross-entropy)" };
        lossPlot.Add("training loss", r.Loss.Select(p => (double)p.Step).ToList(), r.Loss.Select(p => p.Loss).ToList(), markers: r.Loss.Count < 30);
        lossPlot.SavePng(output.PathOf(LossPlotFile));

        var bars = new BarChart { Title = $"Test set, {r.TestRows} rows (log-loss: lower is better)", YLabel = "score" };
        bars.Categories.AddRange(new[] { "accuracy", "macro-F1", "log-loss" });
        foreach (var s in new[] { r.Baseline, r.Jamba })
            bars.Add(s.Model, new[] { s.Accuracy, s.MacroF1, s.LogLoss });
        bars.SavePng(output.PathOf(ComparisonPlotFile));

        File.WriteAllText(output.PathOf(ModelReportFile), ModelReport.Build(config, context: 4096, dtype: torch.ScalarType.Float32, name: r.ModelSource));
        File.WriteAllText(output.PathOf(OutputFolder.MarkerFile), Summary(r, o));
    }

    /// <summary>The text of <c>summary.txt</c>.</summary>
    public static string Summary(QuickstartResult r, QuickstartOptions o)
    {
        var sb = new StringBuilder();
        void Line(string s = "") => sb.Append(s).Append('\n');
        string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
        Line("Jamba.MLNet quickstart");
        Line($"model:  {r.ModelSource}");
        Line($"data:   {r.DataSource}");
        Line($"        {r.TrainRows} training rows, {r.TestRows} test rows; classes {string.Join(", ", r.Classes)}");
        Line($"run:    seed {o.Seed}, {o.Epochs} epochs, batch {o.BatchSize}, peak lr {o.LearningRate.ToString("G3", CultureInfo.InvariantCulture)}, max tokens {o.MaxTokens}");
        Line();
        Line($"{"test set",-36} {"accuracy",9} {"macro-F1",9} {"log-loss",9}");
        foreach (var s in new[] { r.Baseline, r.Jamba, r.Reloaded })
            Line($"{s.Model,-36} {F(s.Accuracy),9} {F(s.MacroF1),9} {F(s.LogLoss),9}");
        Line();
        Line("training loss (step: mean loss since the previous report)");
        Line("  " + string.Join(", ", r.Loss.Select(p => $"{p.Step}: {p.Loss.ToString("F3", CultureInfo.InvariantCulture)}")));
        Line();
        Line($"reloaded classifier ({r.SavedModelBytes / 1024} KiB, {ModelFile}) on new sentences:");
        foreach (var p in r.Predictions)
            Line($"  {p.Text} -> {p.Predicted} ({p.Probability.ToString("P0", CultureInfo.InvariantCulture)}){(string.IsNullOrEmpty(p.Expected) ? "" : p.Expected == p.Predicted ? " right" : $" wrong, expected {p.Expected}")}");
        if (r.Generations.Count > 0)
        {
            Line();
            Line("generation (greedy, hybrid KV + Mamba-state cache):");
            foreach (var g in r.Generations)
                Line($"  \"{g.Prompt}\" -> \"{new string(g.Continuation.Select(c => char.IsControl(c) ? '·' : c).ToArray())}\"  ({g.NewTokens} tokens, prefill {(g.PrefillSeconds * 1000).ToString("F0", CultureInfo.InvariantCulture)} ms, decode {g.DecodeTokensPerSecond.ToString("F1", CultureInfo.InvariantCulture)} tokens/s)");
        }
        Line();
        Line($"time: {r.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture)} s wall, {r.CpuSeconds.ToString("F0", CultureInfo.InvariantCulture)} s CPU ({string.Join(", ", r.Timings.Select(t => $"{t.Stage} {t.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s"))})");
        return sb.ToString();
    }
}
