using Microsoft.ML;

namespace Jamba.MLNet.Tests;

[TestClass]
public sealed class SchemaErrorTests
{
    private static void AssertMessage(Exception e, params string[] parts)
    {
        Assert.IsTrue(e is ArgumentOutOfRangeException or InvalidOperationException, e.GetType().Name);
        foreach (var p in parts) StringAssert.Contains(e.Message, p, $"message: {e.Message}");
    }

    [TestMethod]
    public void MissingColumnIsNamed()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(new[] { new TextRow { Text = "x" } });
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.Jamba().Embed("Features", "Body", TestModels.Tiny).Fit(data));
        AssertMessage(e, "'Body'", "String", "found none");
    }

    [TestMethod]
    public void NumberWhereTextIsExpected()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(new[] { new NumberRow { Text = 1f } });
        foreach (var estimator in new IEstimator<ITransformer>[]
        {
            ml.Transforms.Jamba().Tokenize("Tokens", "Text", TestModels.Tiny),
            ml.Transforms.Jamba().Embed("Features", "Text", TestModels.Tiny),
            ml.Transforms.Jamba().Generate("Completion", "Text", TestModels.Tiny),
            ml.Transforms.Jamba().Classify("Text", TestModels.Tiny, new[] { "a", "b" }),
        })
        {
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.Fit(data));
            AssertMessage(e, "'Text'", "expected String", "found Single");
        }
    }

    [TestMethod]
    public void TransformerValidatesSchemaToo()
    {
        var ml = TestModels.Context();
        var good = ml.Data.LoadFromEnumerable(new[] { new TextRow { Text = "x" } });
        var transformer = ml.Transforms.Jamba().Embed("Features", "Text", TestModels.Tiny).Fit(good);
        var bad = ml.Data.LoadFromEnumerable(new[] { new NumberRow { Text = 1f } });
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => transformer.Transform(bad));
        AssertMessage(e, "'Text'", "expected String", "found Single");
    }

    [TestMethod]
    public void MulticlassNeedsAKeyLabel()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(TestModels.Topic(4, 1));
        var trainer = ml.MulticlassClassification.Trainers.Jamba(TestModels.Tiny, "Label", "Text");
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.Fit(data));
        AssertMessage(e, "'Label'", "Key", "found String");
    }

    [TestMethod]
    public void BinaryNeedsABooleanAndRegressionASingle()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(TestModels.Topic(4, 1));
        AssertMessage(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.Jamba(TestModels.Tiny, "Label", "Text").Fit(data)), "'Label'", "Boolean", "found String");
        AssertMessage(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.Jamba(TestModels.Tiny, "Label", "Text").Fit(data)), "'Label'", "Single", "found String");
    }
}
