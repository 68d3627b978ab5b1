using Jamba.Planning;
using Jamba.Quantization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet.Tests;

/// <summary>Quantized models through the ML.NET face: transforms, SaveJamba/LoadJamba, and the trainers' refusal.</summary>
[TestClass]
public sealed class QuantizationTests
{
    private static string TempFile(string name) => Path.Combine(Path.GetTempPath(), $"jamba-mlnet-{Guid.NewGuid():N}-{name}");

    private static float[][] Features(ITransformer model, IDataView data) => model.Transform(data).GetColumn<float[]>("Features").ToArray();

    /// <summary>
    /// A q4 model embeds like any other and its pipeline file round-trips exactly (the quantized checkpoint inside loads
    /// as stored); a float pipeline file loaded with <c>Quantization = Int8</c> is quantized on load, close to the float one.
    /// </summary>
    [TestMethod]
    public void QuantizedModelsEmbedAndRoundTrip()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(TestModels.Topic(12, 5));
        using var q4 = JambaModel.Create(Presets.Tiny(), new JambaModelOptions { Quantization = JambaQuantization.Q4 }, seed: 1);
        var fitted = ml.Transforms.Jamba().Embed("Features", "Text", q4).Fit(data);
        string path = TempFile("q4.zip"), floatPath = TempFile("f32.zip");
        try
        {
            ml.Model.SaveJamba(fitted, data.Schema, path);
            using (var loaded = (IDisposable)new MLContext(seed: 3).Model.LoadJamba(path, out _))
            {
                var expected = Features(fitted, data);
                var actual = Features((ITransformer)loaded, data);
                for (int i = 0; i < expected.Length; i++) CollectionAssert.AreEqual(expected[i], actual[i], $"row {i}");
            }

            var floatFitted = ml.Transforms.Jamba().Embed("Features", "Text", TestModels.Tiny).Fit(data);
            ml.Model.SaveJamba(floatFitted, data.Schema, floatPath);
            using var int8 = (IDisposable)new MLContext(seed: 3).Model.LoadJamba(floatPath, out _, new JambaModelOptions { Quantization = JambaQuantization.Int8 });
            var f = Features(floatFitted, data);
            var g = Features((ITransformer)int8, data);
            double diff = 0, norm = 0;
            for (int i = 0; i < f.Length; i++)
                for (int j = 0; j < f[i].Length; j++) { diff += Math.Pow(f[i][j] - g[i][j], 2); norm += Math.Pow(f[i][j], 2); }
            double rel = Math.Sqrt(diff / norm);
            Assert.IsTrue(rel > 0 && rel < 0.1, $"int8 embeddings vs float: relative error {rel}");
        }
        finally
        {
            File.Delete(path);
            File.Delete(floatPath);
        }
    }

    /// <summary>Fine-tuning a quantized model is refused with the inference-only message.</summary>
    [TestMethod]
    public void TrainersRefuseQuantizedModels()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(TestModels.Topic(12, 5));
        using var int8 = JambaModel.Create(Presets.Tiny(), new JambaModelOptions { Quantization = JambaQuantization.Int8 }, seed: 1);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.Jamba(int8, "Label", "Text", new JambaTrainerOptions { Epochs = 1, BatchSize = 4, MaxTokens = 16 }));
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => pipeline.Fit(data));
        StringAssert.Contains(e.Message, "quantized models are inference-only");
    }
}
