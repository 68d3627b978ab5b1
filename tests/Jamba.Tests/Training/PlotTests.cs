using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Jamba.Plotting;

namespace Jamba.Tests.Training;

[TestClass]
public sealed class PlotTests
{
    /// <summary>Walks the chunks of a PNG, checks every CRC and returns IHDR fields and the inflated IDAT.</summary>
    internal static (int Width, int Height, byte Depth, byte ColorType, byte[] Raw) Decode(byte[] png)
    {
        CollectionAssert.AreEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }, png[..8]);
        int pos = 8, w = 0, h = 0;
        byte depth = 0, color = 0;
        using var idat = new MemoryStream();
        var types = new List<string>();
        while (pos < png.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = Encoding.ASCII.GetString(png, pos + 4, 4);
            var body = png.AsSpan(pos + 8, len);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + len));
            Assert.AreEqual(PngEncoder.Crc32(png.AsSpan(pos + 4, len + 4)), crc, $"CRC of {type}");
            types.Add(type);
            if (type == "IHDR") { w = BinaryPrimitives.ReadInt32BigEndian(body); h = BinaryPrimitives.ReadInt32BigEndian(body[4..]); depth = body[8]; color = body[9]; }
            if (type == "IDAT") idat.Write(body);
            pos += 12 + len;
        }
        CollectionAssert.AreEqual(new[] { "IHDR", "IDAT", "IEND" }, types);
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        return (w, h, depth, color, raw.ToArray());
    }

    [TestMethod]
    public void Crc32MatchesTheStandardCheckValue() =>
        Assert.AreEqual(0xCBF43926u, PngEncoder.Crc32(Encoding.ASCII.GetBytes("123456789")));

    [TestMethod]
    public void EncoderWritesDecodablePixels()
    {
        var img = new RgbImage(3, 2);
        img.Set(1, 0, new Rgb(10, 20, 30));
        img.Set(2, 1, new Rgb(200, 100, 50));
        var (w, h, depth, color, raw) = Decode(img.ToPng());
        Assert.AreEqual((3, 2, (byte)8, (byte)2), (w, h, depth, color));
        Assert.AreEqual(2 * (1 + 9), raw.Length);
        Assert.AreEqual(0, raw[0], "filter byte");
        CollectionAssert.AreEqual(new byte[] { 10, 20, 30 }, raw[(1 + 3)..(1 + 6)]);
        CollectionAssert.AreEqual(new byte[] { 200, 100, 50 }, raw[(10 + 1 + 6)..(10 + 1 + 9)]);
        CollectionAssert.AreEqual(new byte[] { 255, 255, 255 }, raw[1..4]);
    }

    [TestMethod]
    public void LinePlotDrawsSeriesAxesAndText()
    {
        var red = new Rgb(255, 0, 0);
        var blue = new Rgb(0, 0, 255);
        var plot = new LinePlot { Title = "Loss", XLabel = "step", YLabel = "loss" }
            .Add("train", new double[] { 0, 1, 2, 3 }, new double[] { 4, 3, 2.5, 2 }, red)
            .Add("val", new double[] { 0, 3 }, new double[] { 4.2, 2.4 }, blue, markers: true);
        var img = plot.Render(400, 300);
        int Count(Rgb c) { int n = 0; for (int y = 0; y < img.Height; y++) for (int x = 0; x < img.Width; x++) if (img.Get(x, y) == c) n++; return n; }
        Assert.IsTrue(Count(red) > 100, "the red series is drawn");
        Assert.IsTrue(Count(blue) > 100, "the blue series and its markers are drawn");
        Assert.IsTrue(Count(Rgb.Black) > 500, "axes, ticks and text are drawn");
        var (w, h, _, _, _) = Decode(plot.ToPng(400, 300));
        Assert.AreEqual((400, 300), (w, h));
    }

    [TestMethod]
    public void TicksAreNiceAndLabelsDistinct()
    {
        var t = LinePlot.Ticks(2.13, 4.87);
        CollectionAssert.AreEqual(new[] { 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0 }, t.Select(v => Math.Round(v, 9)).ToArray());
        var labels = t.Select(v => LinePlot.Format(v, t)).ToArray();
        CollectionAssert.AreEqual(new[] { "2.0", "2.5", "3.0", "3.5", "4.0", "4.5", "5.0" }, labels);
        Assert.AreEqual("100", LinePlot.Format(100, LinePlot.Ticks(0, 500)));
    }

    [TestMethod]
    public void FontDrawsDigitsAndFallsBackForUnknownCharacters()
    {
        Assert.IsTrue(BitmapFont.Ink('1', 2, 0));
        Assert.IsFalse(BitmapFont.Ink(' ', 2, 3));
        Assert.AreEqual(BitmapFont.Ink('A', 0, 3), BitmapFont.Ink('a', 0, 3), "lower case is drawn as upper case");
        Assert.IsTrue(BitmapFont.Ink('~', 0, 0), "unknown characters are a box");
    }
}
