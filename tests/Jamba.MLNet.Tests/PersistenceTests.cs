using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet.Tests;

[TestClass]
public sealed class PersistenceTests
{
    private static string TempFile(string name) => Path.Combine(Path.GetTempPath(), $"jamba-mlnet-{Guid.NewGuid():N}-{name}");

    private static (ITransformer model, IDataView data, List<LabeledText> rows) Fitted(MLContext ml)
    {
        var rows = TestModels.Topic(20, 51);
        var data = ml.Data.LoadFromEnumerable(rows);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.Jamba().Embed("Features", "Text", TestModels.Tiny))
            .Append(ml.MulticlassClassification.Trainers.Jamba(TestModels.Tiny, "Label", "Text", new JambaTrainerOptions { Epochs = 1, BatchSize = 10, MaxTokens = 16 }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel"));
        return (pipeline.Fit(data), data, rows);
    }

    private static float[][] Column(IDataView view, string name) => view.GetColumn<float[]>(name).ToArray();

    [TestMethod]
    public void SaveJambaThenLoadInAFreshContextGivesIdenticalOutputs()
    {
        var ml = TestModels.Context();
        var (model, data, _) = Fitted(ml);
        string path = TempFile("pipeline.zip");
        try
        {
            ml.Model.SaveJamba(model, data.Schema, path);
            var fresh = new MLContext(seed: 7);
            using var loaded = (IDisposable)fresh.Model.LoadJamba(path, out var schema);
            Assert.IsNotNull(schema.GetColumnOrNull("Text"));
            var a = model.Transform(data);
            var b = ((ITransformer)loaded).Transform(fresh.Data.LoadFromEnumerable(TestModels.Topic(20, 51)));
            foreach (var column in new[] { "Score", "Features" })
            {
                var x = Column(a, column);
                var y = Column(b, column);
                for (int i = 0; i < x.Length; i++) CollectionAssert.AreEqual(x[i], y[i], $"{column} row {i}");
            }
            CollectionAssert.AreEqual(a.GetColumn<string>("PredictedText").ToArray(), b.GetColumn<string>("PredictedText").ToArray());
        }
        finally
        {
            File.Delete(path);
            (model as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    [Timeout(600_000)]
    [TestCategory("EndToEnd")]
    public void SavedPipelineLoadsInANewProcessWithIdenticalScores()
    {
        var ml = TestModels.Context();
        var (model, data, rows) = Fitted(ml);
        string path = TempFile("pipeline.zip"), texts = TempFile("texts.txt");
        try
        {
            ml.Model.SaveJamba(model, data.Schema, path);
            File.WriteAllLines(texts, rows.Select(r => r.Text));
            // The helper is built by the ProjectReference into its own output folder (same configuration and framework).
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string helper = Path.Combine(here.Parent!.Parent!.Parent!.Parent!.FullName, "Jamba.MLNet.LoadCheck", "bin", here.Parent.Name, here.Name, "Jamba.MLNet.LoadCheck.dll");
            Assert.IsTrue(File.Exists(helper), $"helper not built: {helper}");
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { helper, path, texts, "Score,PredictedLabel" }) info.ArgumentList.Add(a);
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            Assert.IsTrue(process.WaitForExit(300_000), "helper timed out");
            Assert.AreEqual(0, process.ExitCode, stderr.Result);
            var lines = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var scores = Column(model.Transform(data), "Score");
            var keys = model.Transform(data).GetColumn<uint>("PredictedLabel").ToArray();
            Assert.AreEqual(rows.Count, lines.Length);
            for (int i = 0; i < lines.Length; i++)
            {
                var parts = lines[i].Split('\t');
                CollectionAssert.AreEqual(scores[i], parts[0].Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray(), $"row {i}");
                Assert.AreEqual(keys[i], uint.Parse(parts[1], CultureInfo.InvariantCulture));
            }
        }
        finally
        {
            File.Delete(path);
            File.Delete(texts);
            (model as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    public void PlainModelSaveRefusesAndTheFileItLeavesDoesNotLoad()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(TestModels.Topic(4, 1));
        var model = ml.Transforms.Text.NormalizeText("Clean", "Text").Append(ml.Transforms.Jamba().Embed("Features", "Clean", TestModels.Tiny)).Fit(data);
        string path = TempFile("plain.zip");
        try
        {
            var e = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Model.Save(model, data.Schema, path));
            StringAssert.Contains(e.Message, "ml.Model.SaveJamba");
            StringAssert.Contains(e.Message, "incomplete");
            // ML.NET created the file before asking the transformer; whatever it holds must not load as a model.
            if (File.Exists(path)) Assert.Throws<Exception>(() => ml.Model.Load(path, out _));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void CorruptOrTruncatedFilesGiveAClearError()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(TestModels.Topic(4, 1));
        var model = ml.Transforms.Jamba().Tokenize("Tokens", "Text", TestModels.Tiny).Fit(data);
        string path = TempFile("good.zip"), bad = TempFile("bad.zip");
        try
        {
            ml.Model.SaveJamba(model, data.Schema, path);
            var bytes = File.ReadAllBytes(path);

            File.WriteAllBytes(bad, bytes.Take(bytes.Length / 2).ToArray());
            var e1 = Assert.ThrowsExactly<InvalidDataException>(() => ml.Model.LoadJamba(bad, out _));
            StringAssert.Contains(e1.Message, bad);

            // Flip bytes inside the safetensors payload (stored uncompressed): the digest check catches it.
            var flipped = (byte[])bytes.Clone();
            int at = IndexOf(flipped, "model.safetensors"u8.ToArray());
            for (int i = at + 4096; i < at + 4112 && i < flipped.Length; i++) flipped[i] ^= 0x5A;
            File.WriteAllBytes(bad, flipped);
            var e2 = Assert.ThrowsExactly<InvalidDataException>(() => ml.Model.LoadJamba(bad, out _));
            StringAssert.Contains(e2.Message, "cannot be loaded");

            File.WriteAllText(bad, "not a model");
            Assert.ThrowsExactly<InvalidDataException>(() => ml.Model.LoadJamba(bad, out _));
        }
        finally
        {
            File.Delete(path);
            File.Delete(bad);
        }
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        return -1;
    }
}
