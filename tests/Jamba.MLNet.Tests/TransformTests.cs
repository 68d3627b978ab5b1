using Jamba.Inference;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet.Tests;

[TestClass]
public sealed class TransformTests
{
    private static readonly TextRow[] Texts =
    {
        new() { Text = "hello world" }, new() { Text = "" }, new() { Text = null },
        new() { Text = "a somewhat longer sentence about nothing in particular" }, new() { Text = "ünïcödé ✓" },
    };

    [TestMethod]
    public void TokenizeGivesIdsAndTruncates()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(Texts);
        var model = ml.Transforms.Jamba().Tokenize(outputColumnName: "Tokens", inputColumnName: "Text", model: TestModels.Tiny, maxTokens: 8).Fit(data);
        var output = model.Transform(data);
        var type = output.Schema["Tokens"].Type as VectorDataViewType;
        Assert.IsNotNull(type);
        Assert.AreEqual(NumberDataViewType.Int32, type.ItemType);
        var rows = output.GetColumn<VBuffer<int>>("Tokens").Select(v => v.DenseValues().ToArray()).ToArray();
        var tokenizer = TestModels.Tiny.RequireTokenizer();
        CollectionAssert.AreEqual(tokenizer.Encode("hello world").Take(8).ToArray(), rows[0]);
        Assert.AreEqual(0, rows[1].Length, "empty text gives an empty vector");
        Assert.AreEqual(0, rows[2].Length, "null text gives an empty vector");
        Assert.AreEqual(8, rows[3].Length);
        CollectionAssert.AreEqual(tokenizer.Encode(Texts[3].Text).Take(8).ToArray(), rows[3]);

        var keepEnd = ml.Transforms.Jamba().Tokenize("Tokens", "Text", TestModels.Tiny, new JambaTokenizeOptions { MaxTokens = 4, Truncation = TruncationPolicy.KeepEnd, AddBos = true }).Fit(data).Transform(data);
        var last = keepEnd.GetColumn<VBuffer<int>>("Tokens").Select(v => v.DenseValues().ToArray()).First();
        CollectionAssert.AreEqual(new[] { 1 }.Concat(tokenizer.Encode("hello world").TakeLast(3)).ToArray(), last);
    }

    [TestMethod]
    public void EmbedIsKnownSizeAndIndependentOfBatching()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(Texts);
        foreach (var pooling in new[] { EmbeddingPooling.Mean, EmbeddingPooling.LastToken })
        {
            var transformer = ml.Transforms.Jamba().Embed(outputColumnName: "Features", inputColumnName: "Text", model: TestModels.Tiny,
                options: new JambaEmbedOptions { Pooling = pooling, BatchSize = 3 }).Fit(data);
            var output = transformer.Transform(data);
            var type = (VectorDataViewType)output.Schema["Features"].Type;
            Assert.AreEqual(TestModels.Tiny.Config.HiddenSize, type.Size);
            Assert.AreEqual(NumberDataViewType.Single, type.ItemType);
            var batched = output.GetColumn<float[]>("Features").ToArray();

            // The same rows one at a time (PredictionEngine: batch of one, no padding) give the same vectors.
            var engine = ml.Model.CreatePredictionEngine<TextRow, EmbeddingPrediction>(transformer);
            for (int i = 0; i < Texts.Length; i++)
            {
                var single = engine.Predict(Texts[i]).Features;
                Assert.AreEqual(batched[i].Length, single.Length);
                for (int j = 0; j < single.Length; j++) Assert.AreEqual(single[j], batched[i][j], 1e-4, $"{pooling} row {i} dim {j}");
            }
            Assert.IsTrue(batched.All(v => v.All(float.IsFinite)));
        }
    }

    [TestMethod]
    public void EmbeddingsFeedAnMLNetTrainer()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(TestModels.Topic(60, 3));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.Jamba().Embed("Features", "Text", TestModels.Tiny))
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(maximumNumberOfIterations: 20));
        var metrics = ml.MulticlassClassification.Evaluate(pipeline.Fit(data).Transform(data));
        Assert.IsTrue(metrics.MicroAccuracy > 0.34, $"accuracy {metrics.MicroAccuracy}");
    }

    [TestMethod]
    public void GenerateGreedyMatchesTheModelAndSamplingIsSeeded()
    {
        var ml = TestModels.Context();
        var prompts = new[] { new TextRow { Text = "Once upon" }, new TextRow { Text = "a" }, new TextRow { Text = "" } };
        var data = ml.Data.LoadFromEnumerable(prompts);
        var greedy = ml.Transforms.Jamba().Generate(outputColumnName: "Completion", inputColumnName: "Text", model: TestModels.Tiny,
            options: new JambaGenerationOptions { MaxNewTokens = 6, Temperature = 0f }).Fit(data);
        var output = greedy.Transform(data);
        Assert.IsInstanceOfType<TextDataViewType>(output.Schema["Completion"].Type);
        var completions = output.GetColumn<string>("Completion").ToArray();
        // The tiny preset's vocabulary (1024) is wider than the byte tokenizer's (260): undecodable ids are dropped.
        var tok = TestModels.Tiny.RequireTokenizer();
        var ids = TestModels.Tiny.StreamIds(new[] { (IReadOnlyList<int>)TextEncoding.Encode(tok, "Once upon", 1024, TruncationPolicy.KeepEnd, true) },
            new GenerationOptions { MaxNewTokens = 6 }).Select(s => s[0]).TakeWhile(id => !TestModels.Tiny.Config.EosTokenIds.Contains(id));
        Assert.AreEqual(tok.Decode(ids.Where(id => id < tok.VocabSize)), completions[0]);
        Assert.AreEqual(3, completions.Length);

        var sampling = new JambaGenerationOptions { MaxNewTokens = 6, Temperature = 1.0f, Seed = 42 };
        var a = ml.Transforms.Jamba().Generate("Completion", "Text", TestModels.Tiny, sampling).Fit(data).Transform(data).GetColumn<string>("Completion").ToArray();
        var b = ml.Transforms.Jamba().Generate("Completion", "Text", TestModels.Tiny, new JambaGenerationOptions { MaxNewTokens = 6, Temperature = 1.0f, Seed = 42, BatchSize = 1 })
            .Fit(data).Transform(data).GetColumn<string>("Completion").ToArray();
        CollectionAssert.AreEqual(a, b, "same seed gives the same completions, whatever the batch size");
    }

    [TestMethod]
    public void GenerateTakesUnsetOptionsFromGenerationConfigAndSetOnesWin()
    {
        var dir = Path.Combine(Path.GetTempPath(), "jamba-generation-config-" + Guid.NewGuid().ToString("N"));
        try
        {
            TestModels.Tiny.Save(dir);
            // A stop id the tiny model's config does not have, and a length the transform's own default (32) is not.
            const int stopId = 1000;
            File.WriteAllText(Path.Combine(dir, "generation_config.json"), $"{{\"max_new_tokens\": 3, \"eos_token_id\": [{stopId}]}}");
            using var model = JambaModel.Load(dir);
            var ml = TestModels.Context();
            var data = ml.Data.LoadFromEnumerable(new[] { new TextRow { Text = "Once upon" } });
            string Run(JambaGenerationOptions o) =>
                ml.Transforms.Jamba().Generate("Completion", "Text", model, o).Fit(data).Transform(data).GetColumn<string>("Completion").Single();

            var tok = model.RequireTokenizer();
            var prompt = (IReadOnlyList<int>)TextEncoding.Encode(tok, "Once upon", 1024, TruncationPolicy.KeepEnd, true);
            string Expected(int n) => tok.Decode(TestModels.Tiny.StreamIds(new[] { prompt }, new GenerationOptions { MaxNewTokens = n, IgnoreStopTokens = true })
                .Select(s => s[0]).TakeWhile(id => id != stopId).Where(id => id < tok.VocabSize));
            Assert.AreEqual(Expected(3), Run(new JambaGenerationOptions()), "unset options take generation_config.json's values");
            Assert.AreEqual(Expected(6), Run(new JambaGenerationOptions { MaxNewTokens = 6 }), "an option that is set wins");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void GenerateWithTheChatTemplateRendersTheRowAsAUserMessage()
    {
        var dir = Path.Combine(Path.GetTempPath(), "jamba-chat-generate-" + Guid.NewGuid().ToString("N"));
        try
        {
            TestModels.Tiny.Save(dir);
            const string template = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), new System.Text.Json.Nodes.JsonObject { ["chat_template"] = template }.ToJsonString());
            using var model = JambaModel.Load(dir);
            var ml = TestModels.Context();
            var data = ml.Data.LoadFromEnumerable(new[] { new TextRow { Text = "hello there" } });
            var options = new JambaGenerationOptions { UseChatTemplate = true, SystemPrompt = "be brief", MaxNewTokens = 5 };
            var completion = ml.Transforms.Jamba().Generate("Completion", "Text", model, options).Fit(data).Transform(data).GetColumn<string>("Completion").Single();

            var tok = model.RequireTokenizer();
            var prompt = tok.Encode("<|system|>be brief\n<|user|>hello there\n<|assistant|>");
            var ids = model.StreamIds(new[] { prompt }, new GenerationOptions { MaxNewTokens = 5 }).Select(s => s[0])
                .TakeWhile(id => !model.Config.EosTokenIds.Contains(id)).Where(id => id < tok.VocabSize);
            Assert.AreEqual(tok.Decode(ids), completion, "the prompt is the rendered conversation, without an added BOS");

            var noTemplate = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.Jamba().Generate("Completion", "Text", TestModels.Tiny, options).Fit(data));
            StringAssert.Contains(noTemplate.Message, "UseChatTemplate");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void ClassifyGivesProbabilitiesAndAKeyThatMapsBackAndEvaluates()
    {
        var ml = TestModels.Context();
        var rows = TestModels.Topic(12, 5);
        var data = ml.Data.LoadFromEnumerable(rows);
        var keys = ml.Data.LoadFromEnumerable(TestModels.Topics.Select(t => new LabelOnly { Label = t }));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", keyData: keys)
            .Append(ml.Transforms.Jamba().Classify(inputColumnName: "Text", model: TestModels.Tiny, labels: TestModels.Topics))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel"));
        var scored = pipeline.Fit(data).Transform(data);
        var scoreType = (VectorDataViewType)scored.Schema["Score"].Type;
        Assert.AreEqual(3, scoreType.Size);
        Assert.IsInstanceOfType<KeyDataViewType>(scored.Schema["PredictedLabel"].Type);
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var predicted = scored.GetColumn<string>("PredictedText").ToArray();
        for (int i = 0; i < scores.Length; i++)
        {
            Assert.AreEqual(1.0, scores[i].Sum(), 1e-4);
            Assert.AreEqual(TestModels.Topics[Array.IndexOf(scores[i], scores[i].Max())], predicted[i]);
        }
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.IsTrue(metrics.MicroAccuracy is >= 0 and <= 1);
        Assert.IsTrue(double.IsFinite(metrics.LogLoss));
    }

    [TestMethod]
    public void ClassifyWithPerRowChoices()
    {
        var ml = TestModels.Context();
        var rows = new[]
        {
            new ChoiceRow { Text = "2 + 2 =", Choices = new[] { "4", "five", "blue" } },
            new ChoiceRow { Text = "The sky is", Choices = new[] { "green", "blue", "loud" } },
        };
        var data = ml.Data.LoadFromEnumerable(rows);
        var scored = ml.Transforms.Jamba().Classify("Text", TestModels.Tiny, options: new JambaClassifyOptions { ChoicesColumnName = "Choices" }).Fit(data).Transform(data);
        Assert.AreEqual(3, ((VectorDataViewType)scored.Schema["Score"].Type).Size);
        var keys = scored.GetColumn<uint>("PredictedLabel").ToArray();
        Assert.IsTrue(keys.All(k => k is >= 1 and <= 3));
        // Each row's probabilities are the softmax of its choices' likelihoods under the LM.
        var lm = TestModels.Tiny.CausalLM!;
        var tok = TestModels.Tiny.RequireTokenizer();
        var expected = LabelScoring.LogLikelihoods(lm, new[] { (IReadOnlyList<int>)TextEncoding.Encode(tok, "2 + 2 =", 512, TruncationPolicy.KeepEnd, true) },
            new[] { (IReadOnlyList<IReadOnlyList<int>>)rows[0].Choices.Select(c => (IReadOnlyList<int>)tok.Encode(" " + c).ToArray()).ToArray() });
        var p = LabelScoring.Softmax(expected[0]);
        var got = scored.GetColumn<float[]>("Score").First();
        for (int i = 0; i < 3; i++) Assert.AreEqual(p[i], got[i], 1e-4);
    }

    [TestMethod]
    public void EvaluateLanguageModelMatchesDirectScoring()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(Texts);
        var metrics = ml.Transforms.Jamba().EvaluateLanguageModel(data, model: TestModels.Tiny, textColumnName: "Text");
        var tok = TestModels.Tiny.RequireTokenizer();
        long tokens = Texts.Sum(t => (long)tok.Encode(t.Text).Count);
        Assert.AreEqual(tokens, metrics.TokenCount);
        Assert.AreEqual(Texts.Length, metrics.RowCount);
        var direct = LanguageModelScoring.Score(TestModels.Tiny.CausalLM!, Texts.Select(t => (IReadOnlyList<int>)TextEncoding.Encode(tok, t.Text, 1024, TruncationPolicy.KeepStart, true)).ToList());
        double ce = direct.Sum(d => d.NegativeLogLikelihood) / direct.Sum(d => d.TokenCount);
        Assert.AreEqual(ce, metrics.CrossEntropy, 1e-6);
        Assert.AreEqual(ce / Math.Log(2), metrics.BitsPerToken, 1e-6);
        Assert.AreEqual(Math.Exp(ce), metrics.Perplexity, 1e-6 * Math.Exp(ce));
        // A random model over 1024 ids is close to uniform.
        Assert.IsTrue(metrics.CrossEntropy > 3 && metrics.CrossEntropy < 12, metrics.ToString());
    }

    [TestMethod]
    public void WorksInAppendChainsWithPreview()
    {
        var ml = TestModels.Context();
        var data = ml.Data.LoadFromEnumerable(TestModels.Topic(10, 7));
        var pipeline = ml.Transforms.Text.NormalizeText("Clean", "Text")
            .Append(ml.Transforms.Jamba().Tokenize("Tokens", "Clean", TestModels.Tiny))
            .Append(ml.Transforms.Jamba().Embed("Features", "Clean", TestModels.Tiny))
            .Append(ml.Transforms.NormalizeMinMax("Features"));
        var preview = pipeline.Preview(data, maxRows: 5);
        Assert.AreEqual(5, preview.RowView.Length);
        Assert.IsTrue(preview.Schema.Any(c => c.Name == "Features"));
        var schema = pipeline.Fit(data).GetOutputSchema(data.Schema);
        Assert.AreEqual(TestModels.Tiny.Config.HiddenSize, ((VectorDataViewType)schema["Features"].Type).Size);
    }
}

public sealed class LabelOnly
{
    public string Label { get; set; } = "";
}
