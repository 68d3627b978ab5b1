using ScottPlot;

namespace Jamba.Lab.Plotting;

/// <summary>One line of a <see cref="LinePlot"/>.</summary>
/// <param name="Name">Legend text.</param>
/// <param name="X">X values.</param>
/// <param name="Y">Y values (same count; points where either value is not finite are left out).</param>
/// <param name="Color">Line colour; null takes the next palette colour.</param>
/// <param name="Markers">Draw a marker at each point (useful for sparse series such as evaluations).</param>
public sealed record PlotSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y, Color? Color = null, bool Markers = false);

/// <summary>
/// A line chart described by its series and titles, drawn by ScottPlot: the description stays a plain object the
/// callers fill in (loss curves, benchmark and experiment plots), and <see cref="Build"/> turns it into a ScottPlot
/// plot in one place so every chart of the project looks the same.
/// </summary>
public sealed class LinePlot
{
    /// <summary>Title above the chart.</summary>
    public string Title { get; set; } = "";
    /// <summary>X-axis title.</summary>
    public string XLabel { get; set; } = "";
    /// <summary>Y-axis title.</summary>
    public string YLabel { get; set; } = "";
    /// <summary>The series, drawn in order.</summary>
    public List<PlotSeries> Series { get; } = new();

    /// <summary>Adds a series.</summary>
    /// <exception cref="ArgumentException">The x and y lists differ in length.</exception>
    public LinePlot Add(string name, IReadOnlyList<double> x, IReadOnlyList<double> y, Color? color = null, bool markers = false)
    {
        if (x.Count != y.Count) throw new ArgumentException($"series '{name}' has {x.Count} x values and {y.Count} y values");
        Series.Add(new PlotSeries(name, x, y, color, markers));
        return this;
    }

    /// <summary>The ScottPlot plot of this chart (for further styling or other output formats).</summary>
    public Plot Build()
    {
        var plot = new Plot();
        if (Title.Length > 0) plot.Title(Title);
        plot.XLabel(XLabel);
        plot.YLabel(YLabel);
        var palette = new ScottPlot.Palettes.Category10();
        for (int k = 0; k < Series.Count; k++)
        {
            var s = Series[k];
            var points = Enumerable.Range(0, s.X.Count).Where(i => double.IsFinite(s.X[i]) && double.IsFinite(s.Y[i])).ToArray();
            var line = plot.Add.Scatter(points.Select(i => s.X[i]).ToArray(), points.Select(i => s.Y[i]).ToArray(), s.Color ?? palette.GetColor(k));
            line.LegendText = s.Name;
            line.LineWidth = 2;
            line.MarkerSize = s.Markers ? 7 : 0;
        }
        if (Series.Count > 0) plot.ShowLegend(Alignment.UpperRight);
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
