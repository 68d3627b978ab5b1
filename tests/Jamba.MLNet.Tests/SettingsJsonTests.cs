using System.Reflection;
using System.Text.Json.Nodes;
using Jamba.Inference;
using Jamba.MLNet.Persistence;
using Microsoft.ML;

namespace Jamba.MLNet.Tests;

/// <summary>The settings a saved pipeline records for each Jamba step, through System.Text.Json.</summary>
[TestClass]
public sealed class SettingsJsonTests
{
    /// <summary>Every public property of <paramref name="a"/> and <paramref name="b"/> has the same value (arrays by content).</summary>
    private static void AssertSameProperties<T>(T a, T b)
    {
        foreach (var p in typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            object? x = p.GetValue(a), y = p.GetValue(b);
            if (x is Array xa && y is Array ya) CollectionAssert.AreEqual(xa, ya, p.Name);
            else Assert.AreEqual(x, y, p.Name);
        }
    }

    private static T RoundTrip<T>(T value) => JambaSettingsJson.Read<T>(JambaSettingsJson.Write(value), typeof(T).Name);

    [TestMethod]
    public void EveryOptionsClassRoundTripsWithNonDefaultValues()
    {
        var tokenize = new JambaTokenizeOptions { MaxTokens = 7, Truncation = TruncationPolicy.KeepEnd, AddBos = true, AddEos = true };
        AssertSameProperties(tokenize, RoundTrip(tokenize));
        var embed = new JambaEmbedOptions { Pooling = EmbeddingPooling.LastToken, Normalize = true, MaxTokens = 9, Truncation = TruncationPolicy.KeepEnd, AddBos = false, BatchSize = 3 };
        AssertSameProperties(embed, RoundTrip(embed));
        var generate = new JambaGenerationOptions
        {
            MaxNewTokens = 5, Temperature = 0.7f, TopK = 3, TopP = 0.9f, Seed = 42, StopTokenIds = [2, 9],
            MaxPromptTokens = 100, Truncation = TruncationPolicy.KeepStart, AddBos = false, BatchSize = 2,
        };
        AssertSameProperties(generate, RoundTrip(generate));
        var classify = new JambaClassifyOptions
        {
            PromptTemplate = "Q: {text}\nA:", ChoicePrefix = "", LengthNormalize = true, ChoicesColumnName = "Choices", MaxTokens = 33,
            Truncation = TruncationPolicy.KeepStart, AddBos = false, BatchSize = 4, ScoreColumnName = "S", PredictedLabelColumnName = "P", MaxChoices = 5,
        };
        AssertSameProperties(classify, RoundTrip(classify));
        var prediction = new JambaPredictionSettings
        {
            MaxTokens = 12, Truncation = TruncationPolicy.KeepEnd, AddBos = false, BatchSize = 3,
            ScoreColumnName = "S", PredictedLabelColumnName = "P", ProbabilityColumnName = "Q",
        };
        AssertSameProperties(prediction, RoundTrip(prediction));
    }

    [TestMethod]
    public void SettingsWrittenBeforeSystemTextJsonStillRead()
    {
        // As the hand-written serialisers of format version 1 wrote them (nulls included, enums by name).
        var generate = JambaSettingsJson.Read<JambaGenerationOptions>(JsonNode.Parse("""
            {"maxNewTokens":5,"temperature":0.7,"topK":3,"topP":0.9,"seed":null,"stopTokenIds":[2,3],"maxPromptTokens":100,
             "truncation":"KeepStart","addBos":false,"batchSize":4}
            """)!.AsObject(), "Generate");
        Assert.AreEqual(0.7f, generate.Temperature);
        Assert.IsNull(generate.Seed);
        CollectionAssert.AreEqual(new[] { 2, 3 }, generate.StopTokenIds);
        Assert.AreEqual(TruncationPolicy.KeepStart, generate.Truncation);

        var prediction = JambaSettingsJson.Read<JambaPredictionSettings>(JsonNode.Parse("""
            {"maxTokens":16,"truncation":"KeepEnd","addBos":true,"batchSize":32,"score":"Score2","predictedLabel":"Label2","probability":"Prob2"}
            """)!.AsObject(), "BinaryPredictor");
        Assert.AreEqual("Score2", prediction.ScoreColumnName);
        Assert.AreEqual("Label2", prediction.PredictedLabelColumnName);
        Assert.AreEqual("Prob2", prediction.ProbabilityColumnName);
        Assert.AreEqual(TruncationPolicy.KeepEnd, prediction.Truncation);
    }

    [TestMethod]
    public void TransformerSettingsKeepTheirVersionOneLayout()
    {
        var model = ml().Transforms.Jamba().Tokenize("Tokens", "Text", TestModels.Tiny, new JambaTokenizeOptions { MaxTokens = 7 })
            .Fit(ml().Data.LoadFromEnumerable(new[] { new TextRow { Text = "x" } }));
        var saved = model.SaveSettings();
        Assert.AreEqual("Tokens", (string)saved["output"]!);
        Assert.AreEqual("Text", (string)saved["input"]!);
        Assert.AreEqual(7, (int)saved["options"]!["maxTokens"]!);
        Assert.AreEqual("KeepStart", (string)saved["options"]!["truncation"]!);

        var loaded = JambaTokenizingTransformer.Load(TestModels.Tiny, false, saved);
        Assert.AreEqual("Tokens", loaded.OutputColumnName);
        AssertSameProperties(model.Options, loaded.Options);

        static MLContext ml() => TestModels.Context();
    }

    [TestMethod]
    public void DamagedSettingsNameTheStepAndTheProblem()
    {
        var missingInput = JsonNode.Parse("""{"output":"Tokens","options":{"maxTokens":7}}""")!.AsObject();
        var e = Assert.ThrowsExactly<InvalidDataException>(() => JambaTokenizingTransformer.Load(TestModels.Tiny, false, missingInput));
        StringAssert.Contains(e.Message, "Tokenize");
        StringAssert.Contains(e.Message, "input");

        var wrongType = JsonNode.Parse("""{"output":"E","input":"Text","options":{"batchSize":"many"}}""")!.AsObject();
        e = Assert.ThrowsExactly<InvalidDataException>(() => JambaEmbeddingTransformer.Load(TestModels.Tiny, false, wrongType));
        StringAssert.Contains(e.Message, "Embed");
        StringAssert.Contains(e.Message, "batchSize");
    }
}
