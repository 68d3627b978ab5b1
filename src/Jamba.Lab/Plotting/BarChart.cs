using System.Globalization;
using ScottPlot;

namespace Jamba.Lab.Plotting;

/// <summary>One series of a <see cref="BarChart"/>: a value per category (non-finite values draw no bar).</summary>
/// <param name="Name">Legend text.</param>
/// <param name="Values">One value per category, in category order.</param>
/// <param name="Color">Bar colour; null takes the next palette colour.</param>
public sealed record BarSeries(string Name, IReadOnlyList<double> Values, Color? Color = null);

/// <summary>
/// A grouped bar chart drawn by ScottPlot: categories along x, one bar per series in each category with its value
/// printed above it, and a legend. Used to put models side by side on several metrics (for example accuracy,
/// macro-F1 and log-loss).
/// </summary>
public sealed class BarChart
{
    /// <summary>Title above the chart.</summary>
    public string Title { get; set; } = "";
    /// <summary>Y-axis title.</summary>
    public string YLabel { get; set; } = "";
    /// <summary>Category names along the x axis.</summary>
    public List<string> Categories { get; } = new();
    /// <summary>The series; each has one value per category.</summary>
    public List<BarSeries> Series { get; } = new();
    /// <summary>Format of the value labels above the bars.</summary>
    public string ValueFormat { get; set; } = "0.000";

    /// <summary>Adds a series.</summary>
    /// <exception cref="ArgumentException">The series does not have one value per category.</exception>
    public BarChart Add(string name, IReadOnlyList<double> values, Color? color = null)
    {
        if (values.Count != Categories.Count) throw new ArgumentException($"series '{name}' has {values.Count} values for {Categories.Count} categories");
        Series.Add(new BarSeries(name, values, color));
        return this;
    }

    /// <summary>The ScottPlot plot of this chart (for further styling or other output formats).</summary>
    /// <exception cref="ArgumentException">No categories or no series.</exception>
    public Plot Build()
    {
        if (Categories.Count == 0 || Series.Count == 0) throw new ArgumentException("a bar chart needs at least one category and one series");
        var plot = new Plot();
        if (Title.Length > 0) plot.Title(Title);
        plot.YLabel(YLabel);
        var palette = new ScottPlot.Palettes.Category10();
        // Each category takes one unit per series plus one unit of gap, so the groups stand apart.
        int slot = Series.Count + 1;
        for (int k = 0; k < Series.Count; k++)
        {
            var color = Series[k].Color ?? palette.GetColor(k);
            var bars = Enumerable.Range(0, Categories.Count)
                .Where(c => double.IsFinite(Series[k].Values[c]))
                .Select(c => new Bar
                {
                    Position = c * slot + k,
                    Value = Series[k].Values[c],
                    FillColor = color,
                    Label = Series[k].Values[c].ToString(ValueFormat, CultureInfo.InvariantCulture),
                })
                .ToArray();
            plot.Add.Bars(bars);
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = Series[k].Name, FillColor = color });
        }
        double centre = (Series.Count - 1) / 2.0;
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, Categories.Count).Select(c => c * slot + centre).ToArray(), Categories.ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.HideGrid();
        // Bars start at zero; the headroom keeps the value labels inside the figure.
        plot.Axes.Margins(bottom: 0, top: 0.15);
        // Below the figure: inside it the legend would cover the tallest bars' value labels.
        plot.ShowLegend(Edge.Bottom);
        return plot;
    }

    /// <summary>Renders the chart as PNG bytes of <paramref name="width"/>×<paramref name="height"/> pixels.</summary>
    public byte[] ToPng(int width = 900, int height = 540) => Build().GetImageBytes(width, height, ImageFormat.Png);

    /// <summary>Renders and writes a PNG file atomically (a reader never sees a half-written image).</summary>
    public void SavePng(string path, int width = 900, int height = 540)
    {
        var bytes = ToPng(width, height);
        AtomicFile.Write(path, s => s.Write(bytes));
    }
}
