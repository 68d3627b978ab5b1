using Jamba.Training;

namespace Jamba.Tests.Training;

[TestClass]
public sealed class FineTunerTests
{
    [TestMethod]
    public void ScheduleShapesWarmUpThenDecayToZero()
    {
        LearningRateSchedule S(LearningRateDecay d) => new(1, WarmupSteps: 2, TotalSteps: 10, MinRatio: 0, d);
        Assert.AreEqual(0.5, S(LearningRateDecay.Cosine).At(1), 1e-12);
        Assert.AreEqual(1.0, S(LearningRateDecay.Cosine).At(2), 1e-12);
        Assert.AreEqual(0.5, S(LearningRateDecay.Cosine).At(6), 1e-12);
        Assert.AreEqual(0.5, S(LearningRateDecay.Linear).At(6), 1e-12);
        Assert.AreEqual(0.0, S(LearningRateDecay.Linear).At(10), 1e-12);
        Assert.AreEqual(1.0, S(LearningRateDecay.Constant).At(9), 1e-12);
    }

    [TestMethod]
    [TestCategory("EndToEnd")]
    public void LearnsASeparableTaskWithoutTouchingTheSource()
    {
        var config = TestConfigs.Tiny(c => c.VocabSize = 300);
        using var source = JambaModel.Create(config, seed: 2);
        var before = source.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter.clone());
        // Class = which of three marker tokens the sequence ends with.
        var rng = new Random(4);
        var examples = Enumerable.Range(0, 48).Select(i =>
        {
            int c = i % 3;
            var ids = new List<int> { 1 };
            for (int k = 0; k < rng.Next(1, 5); k++) ids.Add(rng.Next(10, 200));
            ids.Add(250 + c);
            return new FineTuneExample(ids, c);
        }).ToList();
        var progress = new List<FineTuneProgress>();
        var result = SequenceClassificationFineTuner.Train(source, FineTuneObjective.Multiclass, 3, examples, examples.Take(12).ToList(),
            new FineTuneOptions { Epochs = 4, BatchSize = 12, LearningRate = 3e-3f, Seed = 1, LogEverySteps = 2 }, progress.Add);
        using var model = result.Model;
        var logits = SequenceClassificationFineTuner.Predict(model.Classifier!, examples.Select(e => e.Ids).ToList());
        int correct = logits.Select((l, i) => Array.IndexOf(l, l.Max()) == (int)examples[i].Label ? 1 : 0).Sum();
        Assert.IsTrue(correct >= 0.9 * examples.Count, $"{correct}/{examples.Count}");
        Assert.IsTrue(progress.Any(p => p.EndOfEpoch && p.ValidationLoss is not null));
        foreach (var (name, p) in source.Network.named_parameters())
            Assert.IsTrue(p.eq(before[name]).all().item<bool>(), $"source parameter {name} changed");
        Assert.AreEqual(3, model.Config.NumLabels);
        Assert.IsTrue(model.Config.IsSequenceClassifier);
    }
}
