using Jamba.Lab.Plotting;
using Jamba.Training;
using ScottPlot;
using SkiaSharp;

namespace Jamba.Tests.Lab;

/// <summary>The charts render headless to PNG files of the asked size, with their series actually drawn.</summary>
[TestClass]
public sealed class PlotTests
{
    private static readonly Color Red = new(255, 0, 0);
    private static readonly Color Blue = new(0, 0, 255);

    /// <summary>Decodes a PNG (checking the signature) and returns its bitmap.</summary>
    private static SKBitmap Decode(byte[] png)
    {
        CollectionAssert.AreEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }, png[..8], "PNG signature");
        return SKBitmap.Decode(png) ?? throw new AssertFailedException("the bytes do not decode as an image");
    }

    /// <summary>How many pixels <paramref name="match"/> accepts.</summary>
    private static int Count(SKBitmap bmp, Func<SKColor, bool> match)
    {
        int n = 0;
        for (int y = 0; y < bmp.Height; y++)
            for (int x = 0; x < bmp.Width; x++)
                if (match(bmp.GetPixel(x, y))) n++;
        return n;
    }

    // Anti-aliasing blends the edges of lines and text, so colours are matched within a small distance.
    private static bool Near(SKColor p, Color c) => Math.Abs(p.Red - c.R) < 40 && Math.Abs(p.Green - c.G) < 40 && Math.Abs(p.Blue - c.B) < 40;
    private static bool Dark(SKColor p) => p.Red < 100 && p.Green < 100 && p.Blue < 100;

    [TestMethod]
    public void LinePlotWritesAPngOfTheAskedSizeWithItsSeriesDrawn()
    {
        var plot = new LinePlot { Title = "Loss", XLabel = "step", YLabel = "loss" }
            .Add("train", new double[] { 0, 1, 2, 3 }, new double[] { 4, 3, 2.5, 2 }, Red)
            .Add("val", new double[] { 0, 3 }, new double[] { 4.2, 2.4 }, Blue, markers: true);
        using var bmp = Decode(plot.ToPng(400, 300));
        Assert.AreEqual((400, 300), (bmp.Width, bmp.Height));
        Assert.IsTrue(Count(bmp, p => Near(p, Red)) > 100, "the red series is drawn");
        Assert.IsTrue(Count(bmp, p => Near(p, Blue)) > 100, "the blue series and its markers are drawn");
        Assert.IsTrue(Count(bmp, Dark) > 200, "axes, ticks and frame are drawn");
        Assert.IsTrue(Count(bmp, p => p == SKColors.White) > 400 * 300 / 2, "most of the figure is background");
    }

    [TestMethod]
    public void LinePlotLeavesOutNonFinitePointsAndRejectsMismatchedSeries()
    {
        var plot = new LinePlot().Add("loss", new double[] { 0, 1, 2, 3 }, new[] { 3, double.NaN, double.PositiveInfinity, 1 }, Red);
        using var bmp = Decode(plot.ToPng(300, 200));
        Assert.IsTrue(Count(bmp, p => Near(p, Red)) > 50, "the finite points are still drawn");
        var e = Assert.ThrowsExactly<ArgumentException>(() => new LinePlot().Add("val", new double[] { 0, 1 }, new double[] { 1 }));
        StringAssert.Contains(e.Message, "'val'");
    }

    [TestMethod]
    public void BarChartDrawsOneBarPerSeriesAndCategory()
    {
        var chart = new BarChart { Title = "Test set", YLabel = "score" };
        chart.Categories.AddRange(new[] { "accuracy", "macro-F1", "log-loss" });
        chart.Add("BASELINE", new[] { 0.6, 0.55, 0.9 }, Red).Add("JAMBA", new[] { 0.9, 0.88, 0.3 }, Blue);
        using var bmp = Decode(chart.ToPng(500, 320));
        Assert.AreEqual((500, 320), (bmp.Width, bmp.Height));
        int red = Count(bmp, p => Near(p, Red)), blue = Count(bmp, p => Near(p, Blue));
        Assert.IsTrue(red > 2000 && blue > 2000, $"filled bars of both series (red {red}, blue {blue} pixels)");
        var e = Assert.ThrowsExactly<ArgumentException>(() => chart.Add("SHORT", new[] { 1.0 }));
        StringAssert.Contains(e.Message, "'SHORT' has 1 values for 3 categories");
        Assert.ThrowsExactly<ArgumentException>(() => new BarChart().Build());
    }

    [TestMethod]
    public void LossPlotWritesTheTrainingHistoryAtomically()
    {
        string dir = Path.Combine(Path.GetTempPath(), "jamba-plot-tests", Guid.NewGuid().ToString("N"));
        try
        {
            var history = Enumerable.Range(1, 80)
                .Select(s => new TrainingLogEntry { Step = s, LmLoss = 5.0 / Math.Sqrt(s), Loss = 5.0 / Math.Sqrt(s) })
                .Concat(new[] { new TrainingLogEntry { Step = 40, ValidationLoss = 1.0 }, new TrainingLogEntry { Step = 80, ValidationLoss = 0.7 } })
                .ToList();
            var plot = LossPlot.Plot(history);
            CollectionAssert.AreEqual(new[] { "train loss", "train (mean of 5)", "validation loss" }, plot.Series.Select(s => s.Name).ToArray());
            Assert.IsTrue(plot.Series[2].Markers, "evaluations are sparse: drawn with markers");

            string path = Path.Combine(dir, LossPlot.PngFile);
            LossPlot.WritePng(history, path, width: 640, height: 400);
            using var bmp = Decode(File.ReadAllBytes(path));
            Assert.AreEqual((640, 400), (bmp.Width, bmp.Height));
            Assert.IsTrue(Count(bmp, p => p != SKColors.White) > 2000, "the curves and axes are drawn");
            CollectionAssert.AreEqual(new[] { LossPlot.PngFile }, Directory.GetFiles(dir).Select(Path.GetFileName).ToArray(), "no temporary file is left behind");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
