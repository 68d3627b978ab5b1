using System.Globalization;

namespace Jamba.Plotting;

/// <summary>One line of a <see cref="LinePlot"/>.</summary>
/// <param name="Name">Legend text.</param>
/// <param name="X">X values.</param>
/// <param name="Y">Y values (same count; non-finite points are skipped and break the line).</param>
/// <param name="Color">Line colour; null takes the next palette colour.</param>
/// <param name="Markers">Draw a small square at each point (useful for sparse series such as evaluations).</param>
public sealed record PlotSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y, Rgb? Color = null, bool Markers = false);

/// <summary>
/// A dependency-free line chart rendered to PNG: several series, axes with "nice" tick values and labels, light
/// grid, axis titles, a title and a legend, drawn with the built-in <see cref="BitmapFont"/>. Used for loss curves
/// and reusable for benchmark plots.
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
    /// <summary>Font scale (pixels per font pixel; default 2).</summary>
    public int FontScale { get; set; } = 2;

    /// <summary>Adds a series.</summary>
    public LinePlot Add(string name, IReadOnlyList<double> x, IReadOnlyList<double> y, Rgb? color = null, bool markers = false)
    {
        if (x.Count != y.Count) throw new ArgumentException($"series '{name}' has {x.Count} x values and {y.Count} y values");
        Series.Add(new PlotSeries(name, x, y, color, markers));
        return this;
    }

    /// <summary>Renders the chart to an image of <paramref name="width"/>×<paramref name="height"/> pixels.</summary>
    public RgbImage Render(int width = 900, int height = 540)
    {
        var img = new RgbImage(width, height);
        int s = FontScale, glyphH = BitmapFont.GlyphHeight * s;
        var (xMin, xMax) = Range(Series.SelectMany(p => Finite(p).Select(q => q.x)));
        var (yMin, yMax) = Range(Series.SelectMany(p => Finite(p).Select(q => q.y)));
        var yPad = (yMax - yMin) * 0.05;
        var yTicks = Ticks(yMin - yPad, yMax + yPad);
        var xTicks = Ticks(xMin, xMax);
        // The y axis runs from the first to the last tick, which bracket the padded data range.
        double yLo = yTicks[0], yHi = yTicks[^1];
        double xLo = xMin, xHi = xMax;

        string[] yLabels = yTicks.Select(t => Format(t, yTicks)).ToArray();
        int left = glyphH + 2 * s + yLabels.Max(l => BitmapFont.Measure(l, s)) + 6 * s + 4;
        int top = Title.Length > 0 ? glyphH + 12 * s : 8 * s;
        int bottom = height - (2 * glyphH + 10 * s);
        int right = width - 12 * s;
        int pw = right - left, ph = bottom - top;
        if (pw < 10 || ph < 10) throw new ArgumentException($"image {width}x{height} is too small for the plot");
        int X(double v) => left + (int)Math.Round((v - xLo) / (xHi - xLo) * (pw - 1));
        int Y(double v) => bottom - 1 - (int)Math.Round((v - yLo) / (yHi - yLo) * (ph - 1));

        // Grid and ticks.
        for (int i = 0; i < yTicks.Length; i++)
        {
            int y = Y(yTicks[i]);
            img.DrawLine(left, y, right - 1, y, Rgb.Grid);
            img.DrawLine(left - 4, y, left, y, Rgb.Black);
            img.DrawText(left - 6 - BitmapFont.Measure(yLabels[i], s), y - glyphH / 2, yLabels[i], Rgb.Black, s);
        }
        foreach (var t in xTicks.Where(t => t >= xLo - 1e-12 * Math.Abs(xHi) && t <= xHi + 1e-12 * Math.Abs(xHi)))
        {
            int x = X(t);
            img.DrawLine(x, top, x, bottom - 1, Rgb.Grid);
            img.DrawLine(x, bottom, x, bottom + 4, Rgb.Black);
            string label = Format(t, xTicks);
            img.DrawText(x - BitmapFont.Measure(label, s) / 2, bottom + 6, label, Rgb.Black, s);
        }
        // Axes box.
        img.DrawLine(left, top, left, bottom, Rgb.Black);
        img.DrawLine(left, bottom, right - 1, bottom, Rgb.Black);

        // Series.
        var clip = (left, top, pw, ph);
        for (int k = 0; k < Series.Count; k++)
        {
            var p = Series[k];
            var color = p.Color ?? Rgb.Palette[k % Rgb.Palette.Count];
            (int x, int y)? prev = null;
            for (int i = 0; i < p.X.Count; i++)
            {
                if (!double.IsFinite(p.X[i]) || !double.IsFinite(p.Y[i])) { prev = null; continue; }
                var cur = (X(p.X[i]), Y(p.Y[i]));
                if (prev is { } q) img.DrawLine(q.x, q.y, cur.Item1, cur.Item2, color, 2, clip);
                else if (!p.Markers) img.DrawLine(cur.Item1, cur.Item2, cur.Item1, cur.Item2, color, 2, clip);
                if (p.Markers) img.FillRect(cur.Item1 - 3, cur.Item2 - 3, 7, 7, color);
                prev = cur;
            }
        }

        // Titles.
        if (Title.Length > 0) img.DrawText((width - BitmapFont.Measure(Title, s)) / 2, 5 * s, Title, Rgb.Black, s);
        if (XLabel.Length > 0) img.DrawText(left + (pw - BitmapFont.Measure(XLabel, s)) / 2, height - glyphH - 4 * s, XLabel, Rgb.Black, s);
        if (YLabel.Length > 0) img.DrawTextVertical(3 * s, top + (ph - BitmapFont.Measure(YLabel, s)) / 2, YLabel, Rgb.Black, s);

        // Legend, top right inside the plot.
        if (Series.Count > 0)
        {
            int swatch = 14 * s / 2, rowH = glyphH + 4 * s;
            int boxW = Series.Max(p => BitmapFont.Measure(p.Name, s)) + swatch + 12 * s / 2 + 8;
            int boxH = Series.Count * rowH + 4 * s;
            int bx = right - boxW - 6 * s, by = top + 6 * s;
            img.FillRect(bx, by, boxW, boxH, Rgb.White);
            img.DrawLine(bx, by, bx + boxW, by, Rgb.Black); img.DrawLine(bx, by + boxH, bx + boxW, by + boxH, Rgb.Black);
            img.DrawLine(bx, by, bx, by + boxH, Rgb.Black); img.DrawLine(bx + boxW, by, bx + boxW, by + boxH, Rgb.Black);
            for (int k = 0; k < Series.Count; k++)
            {
                var color = Series[k].Color ?? Rgb.Palette[k % Rgb.Palette.Count];
                int ry = by + 3 * s + k * rowH;
                img.FillRect(bx + 4 * s, ry + glyphH / 2 - s, swatch, 2 * s, color);
                img.DrawText(bx + 4 * s + swatch + 4 * s, ry, Series[k].Name, Rgb.Black, s);
            }
        }
        return img;
    }

    /// <summary>Renders and encodes as PNG.</summary>
    public byte[] ToPng(int width = 900, int height = 540) => Render(width, height).ToPng();

    /// <summary>Renders and writes a PNG file atomically.</summary>
    public void SavePng(string path, int width = 900, int height = 540)
    {
        var bytes = ToPng(width, height);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    private static IEnumerable<(double x, double y)> Finite(PlotSeries p) =>
        Enumerable.Range(0, p.X.Count).Select(i => (p.X[i], p.Y[i])).Where(q => double.IsFinite(q.Item1) && double.IsFinite(q.Item2));

    private static (double lo, double hi) Range(IEnumerable<double> values)
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var v in values) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
        if (double.IsInfinity(lo)) return (0, 1);
        if (hi - lo < 1e-12 * Math.Max(1, Math.Abs(hi))) { double d = Math.Max(Math.Abs(lo) * 0.05, 0.5); return (lo - d, hi + d); }
        return (lo, hi);
    }

    /// <summary>Tick values at a 1-2-5 step covering [lo, hi] with about five intervals (first ≤ lo, last ≥ hi).</summary>
    internal static double[] Ticks(double lo, double hi)
    {
        double raw = (hi - lo) / 5;
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double norm = raw / mag;
        double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
        double first = Math.Floor(lo / step) * step, last = Math.Ceiling(hi / step) * step;
        int n = (int)Math.Round((last - first) / step);
        return Enumerable.Range(0, n + 1).Select(i => first + i * step).ToArray();
    }

    /// <summary>A tick label with just enough decimals to tell neighbouring ticks apart.</summary>
    internal static string Format(double v, double[] ticks)
    {
        double step = ticks.Length > 1 ? Math.Abs(ticks[1] - ticks[0]) : 1;
        if (Math.Abs(v) < step * 1e-9) v = 0;
        double big = Math.Max(Math.Abs(ticks[0]), Math.Abs(ticks[^1]));
        if (big >= 1e6 || (big > 0 && big < 1e-4)) return v.ToString("0.##E+0", CultureInfo.InvariantCulture);
        int decimals = Math.Max(0, (int)Math.Ceiling(-Math.Log10(step) - 1e-9));
        return v.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }
}
