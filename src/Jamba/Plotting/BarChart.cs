using System.Globalization;

namespace Jamba.Plotting;

/// <summary>One series of a <see cref="BarChart"/>: a value per category (non-finite values draw no bar).</summary>
/// <param name="Name">Legend text.</param>
/// <param name="Values">One value per category, in category order.</param>
/// <param name="Color">Bar colour; null takes the next palette colour.</param>
public sealed record BarSeries(string Name, IReadOnlyList<double> Values, Rgb? Color = null);

/// <summary>
/// A dependency-free grouped bar chart rendered to PNG: categories along x, one bar per series in each category,
/// the value printed above each bar, a zero-based y axis with "nice" ticks, a title and a legend. Used to put models
/// side by side on several metrics (for example accuracy, macro-F1 and log-loss).
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
    /// <summary>Font scale (pixels per font pixel; default 2).</summary>
    public int FontScale { get; set; } = 2;
    /// <summary>Format of the value labels above the bars.</summary>
    public string ValueFormat { get; set; } = "0.000";

    /// <summary>Adds a series.</summary>
    /// <exception cref="ArgumentException">The series does not have one value per category.</exception>
    public BarChart Add(string name, IReadOnlyList<double> values, Rgb? color = null)
    {
        if (values.Count != Categories.Count) throw new ArgumentException($"series '{name}' has {values.Count} values for {Categories.Count} categories");
        Series.Add(new BarSeries(name, values, color));
        return this;
    }

    /// <summary>Renders the chart to an image of <paramref name="width"/>×<paramref name="height"/> pixels.</summary>
    /// <exception cref="ArgumentException">No categories or series, or the image is too small.</exception>
    public RgbImage Render(int width = 900, int height = 540)
    {
        if (Categories.Count == 0 || Series.Count == 0) throw new ArgumentException("a bar chart needs at least one category and one series");
        var img = new RgbImage(width, height);
        int s = FontScale, glyphH = BitmapFont.GlyphHeight * s;
        var finite = Series.SelectMany(p => p.Values).Where(double.IsFinite).ToList();
        // Bars start at zero, so the axis always includes it; the headroom leaves space for the value labels.
        double lo = Math.Min(0, finite.DefaultIfEmpty(0).Min()), hi = Math.Max(0, finite.DefaultIfEmpty(1).Max());
        if (hi - lo < 1e-12) hi = lo + 1;
        var ticks = LinePlot.Ticks(lo, hi + (hi - lo) * 0.12);
        double yLo = ticks[0], yHi = ticks[^1];
        string[] tickLabels = ticks.Select(t => LinePlot.Format(t, ticks)).ToArray();

        int left = glyphH + 2 * s + tickLabels.Max(l => BitmapFont.Measure(l, s)) + 6 * s + 4;
        int top = Title.Length > 0 ? glyphH + 12 * s : 8 * s;
        int legendH = glyphH + 8 * s;
        int bottom = height - (glyphH + 10 * s) - legendH;
        int right = width - 12 * s;
        int pw = right - left, ph = bottom - top;
        if (pw < 10 * Categories.Count || ph < 10) throw new ArgumentException($"image {width}x{height} is too small for the chart");
        int Y(double v) => bottom - 1 - (int)Math.Round((v - yLo) / (yHi - yLo) * (ph - 1));

        for (int i = 0; i < ticks.Length; i++)
        {
            int y = Y(ticks[i]);
            img.DrawLine(left, y, right - 1, y, Rgb.Grid);
            img.DrawLine(left - 4, y, left, y, Rgb.Black);
            img.DrawText(left - 6 - BitmapFont.Measure(tickLabels[i], s), y - glyphH / 2, tickLabels[i], Rgb.Black, s);
        }

        // Each category gets an equal slot; its bars fill 70 % of the slot, the rest separates the groups.
        double slot = (double)pw / Categories.Count;
        int barW = Math.Max(2, (int)(slot * 0.7 / Series.Count));
        int zero = Y(0);
        for (int c = 0; c < Categories.Count; c++)
        {
            int groupLeft = left + (int)Math.Round(c * slot + (slot - barW * Series.Count) / 2);
            for (int k = 0; k < Series.Count; k++)
            {
                double v = Series[k].Values[c];
                if (!double.IsFinite(v)) continue;
                var color = Series[k].Color ?? Rgb.Palette[k % Rgb.Palette.Count];
                int x = groupLeft + k * barW, y = Y(v);
                img.FillRect(x + 1, Math.Min(y, zero), barW - 2, Math.Max(1, Math.Abs(zero - y)), color);
                string label = v.ToString(ValueFormat, CultureInfo.InvariantCulture);
                int labelScale = BitmapFont.Measure(label, s) <= barW ? s : Math.Max(1, s - 1);
                img.DrawText(x + (barW - BitmapFont.Measure(label, labelScale)) / 2, Math.Min(y, zero) - BitmapFont.GlyphHeight * labelScale - 3, label, Rgb.Black, labelScale);
            }
            string name = Categories[c];
            int cx = left + (int)Math.Round(c * slot + slot / 2);
            img.DrawText(cx - BitmapFont.Measure(name, s) / 2, bottom + 6, name, Rgb.Black, s);
        }
        img.DrawLine(left, top, left, bottom, Rgb.Black);
        img.DrawLine(left, zero, right - 1, zero, Rgb.Black);

        if (Title.Length > 0) img.DrawText((width - BitmapFont.Measure(Title, s)) / 2, 5 * s, Title, Rgb.Black, s);
        if (YLabel.Length > 0) img.DrawTextVertical(3 * s, top + (ph - BitmapFont.Measure(YLabel, s)) / 2, YLabel, Rgb.Black, s);

        // Legend: one row under the category names, centred.
        int swatch = glyphH, gap = 4 * s;
        int legendW = Series.Sum(p => swatch + 2 * s + BitmapFont.Measure(p.Name, s)) + gap * (Series.Count - 1);
        int lx = left + Math.Max(0, (pw - legendW) / 2), ly = height - legendH;
        for (int k = 0; k < Series.Count; k++)
        {
            var color = Series[k].Color ?? Rgb.Palette[k % Rgb.Palette.Count];
            img.FillRect(lx, ly, swatch, swatch, color);
            img.DrawText(lx + swatch + 2 * s, ly, Series[k].Name, Rgb.Black, s);
            lx += swatch + 2 * s + BitmapFont.Measure(Series[k].Name, s) + gap;
        }
        return img;
    }

    /// <summary>Renders and writes a PNG file.</summary>
    public void SavePng(string path, int width = 900, int height = 540) => File.WriteAllBytes(path, Render(width, height).ToPng());
}
