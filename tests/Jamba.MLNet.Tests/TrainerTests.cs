using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Jamba.MLNet.Tests;

[TestClass]
public sealed class TrainerTests
{
    private static float[] Weights(JambaModel m) => m.Network.named_parameters().First(p => p.name.Contains("embed_tokens")).parameter.cpu().data<float>().Take(64).ToArray();

    [TestMethod]
    [Timeout(600_000)]
    public void MulticlassReachesHighAccuracyOnAnEasyTaskAndLeavesTheModelAlone()
    {
        var ml = TestModels.Context();
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info && e.Source.Contains("Jamba")) lock (log) log.Add(e.Message); };
        var before = Weights(TestModels.Tiny);
        var train = ml.Data.LoadFromEnumerable(TestModels.Topic(96, 11));
        var test = ml.Data.LoadFromEnumerable(TestModels.Topic(60, 12));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.Jamba(model: TestModels.Tiny, labelColumnName: "Label", textColumnName: "Text",
                options: new JambaTrainerOptions { Epochs = 3, BatchSize = 16, LearningRate = 1e-3f, MaxTokens = 32, LogEverySteps = 5 }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel"));
        using var model = pipeline.Fit(train);
        var scored = model.Transform(test);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Console.WriteLine($"micro accuracy {metrics.MicroAccuracy:F3}, macro {metrics.MacroAccuracy:F3}, log-loss {metrics.LogLoss:F3}");
        Assert.IsTrue(metrics.MicroAccuracy >= 0.95, $"accuracy {metrics.MicroAccuracy}");
        CollectionAssert.AreEqual(before, Weights(TestModels.Tiny), "the given model is never modified");
        Assert.IsTrue(log.Any(l => l.Contains("epoch 3/3") && l.Contains("loss") && l.Contains("tokens/s")), string.Join("\n", log));

        var labels = TestModels.Topic(60, 12).Select(r => r.Label).ToArray();
        var predicted = scored.GetColumn<string>("PredictedText").ToArray();
        Assert.IsTrue(labels.Zip(predicted).Count(p => p.First == p.Second) >= 0.95 * labels.Length);

        // PredictionEngine agrees with the batched Transform; one engine per thread is safe.
        var rows = TestModels.Topic(60, 12);
        var batchedScores = scored.GetColumn<float[]>("Score").ToArray();
        Parallel.For(0, 2, t =>
        {
            var engine = ml.Model.CreatePredictionEngine<LabeledText, MulticlassPrediction>(model);
            for (int i = t; i < 20; i += 2)
            {
                var p = engine.Predict(rows[i]);
                Assert.AreEqual(rows[i].Label, p.PredictedText);
                for (int k = 0; k < 3; k++) Assert.AreEqual(batchedScores[i][k], p.Score[k], 1e-4);
            }
        });
    }

    [TestMethod]
    public void BinaryAndRegressionProduceMLNetColumnsAndMetrics()
    {
        var ml = TestModels.Context();
        var topics = TestModels.Topic(32, 21);
        var binary = ml.Data.LoadFromEnumerable(topics.Select(t => new BinaryText { Text = t.Text, Label = t.Label == "food" }));
        var options = new JambaTrainerOptions { Epochs = 1, BatchSize = 16, LearningRate = 1e-3f, MaxTokens = 24 };
        using var b = ml.BinaryClassification.Trainers.Jamba(TestModels.Tiny, "Label", "Text", options).Fit(binary);
        var scored = b.Transform(binary);
        Assert.AreEqual(NumberDataViewType.Single, scored.Schema["Score"].Type);
        Assert.AreEqual(NumberDataViewType.Single, scored.Schema["Probability"].Type);
        Assert.AreEqual(BooleanDataViewType.Instance, scored.Schema["PredictedLabel"].Type);
        var bm = ml.BinaryClassification.Evaluate(scored);
        Assert.IsTrue(bm.Accuracy is >= 0 and <= 1 && double.IsFinite(bm.LogLoss));

        var regression = ml.Data.LoadFromEnumerable(topics.Select(t => new RegressionText { Text = t.Text, Label = t.Text.Length }));
        using var r = ml.Regression.Trainers.Jamba(TestModels.Tiny, "Label", "Text",
            new JambaTrainerOptions { Epochs = 1, BatchSize = 16, MaxTokens = 24, ScoreColumnName = "Predicted" }).Fit(regression);
        var rs = r.Transform(regression);
        Assert.AreEqual(NumberDataViewType.Single, rs.Schema["Predicted"].Type);
        var rm = ml.Regression.Evaluate(rs, scoreColumnName: "Predicted");
        Assert.IsTrue(double.IsFinite(rm.RootMeanSquaredError));
    }

    [TestMethod]
    public void ValidationEarlyStoppingFreezeAndCancellation()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(TestModels.Topic(16, 31));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data);
        var train = keyed.Transform(data);
        var options = new JambaTrainerOptions
        {
            Epochs = 3, BatchSize = 16, MaxTokens = 16, FreezeBackbone = true, LearningRate = 1e-2f,
            ValidationSet = keyed.Transform(ml.Data.LoadFromEnumerable(TestModels.Topic(8, 32))), EarlyStoppingPatience = 1,
        };
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Source.Contains("Jamba")) lock (log) log.Add(e.Message); };
        using var model = ml.MulticlassClassification.Trainers.Jamba(TestModels.Tiny, "Label", "Text", options).Fit(train);
        Assert.IsTrue(log.Any(l => l.Contains("validation loss")), string.Join("\n", log));
        // Frozen backbone: the fine-tuned copy's decoder weights equal the source's.
        var source = TestModels.Tiny.Backbone.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in model.Model.Backbone.named_parameters())
            Assert.IsTrue(p.eq(source[name]).all().item<bool>(), name);

        ml.CancelExecution();
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.Jamba(TestModels.Tiny, "Label", "Text", options).Fit(train));
    }

    [TestMethod]
    public void CrossValidationRuns()
    {
        var ml = TestModels.Context();
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(TestModels.Topic(24, 41)))
            .Transform(ml.Data.LoadFromEnumerable(TestModels.Topic(24, 41)));
        var results = ml.MulticlassClassification.CrossValidate(data,
            ml.MulticlassClassification.Trainers.Jamba(TestModels.Tiny, "Label", "Text", new JambaTrainerOptions { Epochs = 1, BatchSize = 12, MaxTokens = 16 }), numberOfFolds: 2);
        Assert.AreEqual(2, results.Count);
        foreach (var r in results) Assert.IsTrue(r.Metrics.MicroAccuracy is >= 0 and <= 1);
    }
}
