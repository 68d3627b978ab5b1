// Jamba in an ordinary ML.NET program.
//
//   dotnet run --project samples/Jamba.Samples.MLNet [-- path/to/checkpoint]
//
// Without a checkpoint it uses the small model trained on the repository's tiny stories (models/jamba-tiny-stories,
// copied beside the program), so it runs on a fresh clone with no downloads; the data below is written in that
// model's words. With a checkpoint folder (config.json + safetensors + tokenizer.json or tokenizer.model) it uses that.
using Jamba;
using Jamba.Inference;
using Jamba.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

var clock = System.Diagnostics.Stopwatch.StartNew();
var ml = new MLContext(seed: 1);
ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info && e.Source.StartsWith("Jamba", StringComparison.Ordinal)) Console.WriteLine($"  [log] {e.Message}"); };

string modelDir = args.Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "models", "jamba-tiny-stories");
using JambaModel jamba = JambaModel.Load(modelDir);
Console.WriteLine($"Loaded {modelDir}");

// 1. Data: a small topic-classification TSV (is the sentence about an animal, a thing or a place?) written here, read back with ML.NET's TextLoader.
string work = Directory.CreateTempSubdirectory("jamba-mlnet-sample-").FullName;
string trainPath = Path.Combine(work, "train.tsv"), testPath = Path.Combine(work, "test.tsv");
SampleData.WriteTsv(trainPath, 120, seed: 1);
SampleData.WriteTsv(testPath, 60, seed: 2);
var train = ml.Data.LoadFromTextFile<Review>(trainPath, separatorChar: '\t', hasHeader: true);
var test = ml.Data.LoadFromTextFile<Review>(testPath, separatorChar: '\t', hasHeader: true);

// 2. Classic ML.NET baseline: bag of n-grams + SDCA maximum entropy.
var baseline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.Text.FeaturizeText("Features", "Text"))
    .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy())
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel"));
var baselineMetrics = ml.MulticlassClassification.Evaluate(baseline.Fit(train).Transform(test));

// 3. Fine-tune Jamba through an ML.NET trainer (the loaded model is not modified; the fitted transformer owns a copy).
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.MulticlassClassification.Trainers.Jamba(model: jamba, labelColumnName: "Label", textColumnName: "Text",
        options: new JambaTrainerOptions { Epochs = 2, BatchSize = 16, LearningRate = 1e-3f, MaxTokens = 32, LogEverySteps = 5 }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel"));
Console.WriteLine("Fine-tuning Jamba ...");
using var fitted = pipeline.Fit(train);
var jambaMetrics = ml.MulticlassClassification.Evaluate(fitted.Transform(test));
Console.WriteLine();
Console.WriteLine($"{"model",-34} {"micro-acc",9} {"macro-acc",9} {"log-loss",9}");
Console.WriteLine($"{"FeaturizeText + SdcaMaximumEntropy",-34} {baselineMetrics.MicroAccuracy,9:F3} {baselineMetrics.MacroAccuracy,9:F3} {baselineMetrics.LogLoss,9:F3}");
Console.WriteLine($"{"Jamba fine-tuned",-34} {jambaMetrics.MicroAccuracy,9:F3} {jambaMetrics.MacroAccuracy,9:F3} {jambaMetrics.LogLoss,9:F3}");

// 4. Save to one file, reload (as a new process would), predict.
string modelPath = Path.Combine(work, "jamba-classifier.zip");
ml.Model.SaveJamba(fitted, train.Schema, modelPath);
var reloadContext = new MLContext(seed: 1);
using var reloaded = (TransformerChain<ITransformer>)reloadContext.Model.LoadJamba(modelPath, out var inputSchema);
var engine = reloadContext.Model.CreatePredictionEngine<Review, TopicPrediction>(reloaded, inputSchema);
Console.WriteLine();
Console.WriteLine($"Saved {new FileInfo(modelPath).Length / 1024} KiB to {modelPath}; reloaded and predicting:");
foreach (var text in new[] { "the sleepy owl and the old goat", "she finds a key and a drum", "in the forest by the river" })
{
    var p = engine.Predict(new Review { Text = text });
    Console.WriteLine($"  {text,-45} -> {p.PredictedText} ({p.Score.Max():P0})");
}

// 5. Generate text with the hybrid KV + Mamba-state cache (greedy).
var prompts = ml.Data.LoadFromEnumerable(new[] { new Prompt { Text = "The green fox" }, new Prompt { Text = "In the barn," } });
var generated = ml.Transforms.Jamba().Generate(outputColumnName: "Completion", inputColumnName: "Text", model: jamba,
    options: new JambaGenerationOptions { MaxNewTokens = 16, Temperature = 0f }).Fit(prompts).Transform(prompts);
Console.WriteLine();
Console.WriteLine("Generated:");
foreach (var (prompt, completion) in prompts.GetColumn<string>("Text").Zip(generated.GetColumn<string>("Completion")))
    Console.WriteLine($"  {prompt} | {completion.ReplaceLineEndings(" ")}");

// 6. Embed, cluster with k-means, and search by cosine similarity.
var corpus = ml.Data.LoadFromEnumerable(SampleData.Rows(30, seed: 3));
var embedder = ml.Transforms.Jamba().Embed("Features", "Text", jamba, new JambaEmbedOptions { Pooling = EmbeddingPooling.Mean, Normalize = true });
var clustering = embedder.Append(ml.Clustering.Trainers.KMeans("Features", numberOfClusters: 3)).Fit(corpus);
var clusters = clustering.Transform(corpus).GetColumn<uint>("PredictedLabel").ToArray();
var embedded = embedder.Fit(corpus).Transform(corpus);
var texts = embedded.GetColumn<string>("Text").ToArray();
var vectors = embedded.GetColumn<float[]>("Features").ToArray();
Console.WriteLine();
Console.WriteLine($"k-means over {vectors[0].Length}-dimensional embeddings: cluster sizes {string.Join(", ", clusters.GroupBy(c => c).OrderBy(g => g.Key).Select(g => g.Count()))}");
var query = vectors[0];
var nearest = vectors.Select((v, i) => (i, cos: v.Zip(query, (a, b) => a * b).Sum())).Where(x => x.i != 0).OrderByDescending(x => x.cos).Take(3);
Console.WriteLine($"Nearest to \"{texts[0]}\":");
foreach (var (i, cos) in nearest) Console.WriteLine($"  {cos:F3}  {texts[i]}");

// 7. Language-model quality on the test texts.
var lm = ml.Transforms.Jamba().EvaluateLanguageModel(test, model: jamba, textColumnName: "Text");
Console.WriteLine();
Console.WriteLine($"Language model on the test texts: {lm}");
Console.WriteLine($"Done in {clock.Elapsed.TotalSeconds:F0} s.");
Directory.Delete(work, true);

/// <summary>A row of the TSV.</summary>
public sealed class Review
{
    [LoadColumn(0)] public string Label { get; set; } = "";
    [LoadColumn(1)] public string Text { get; set; } = "";
}

/// <summary>What the classifier adds.</summary>
public sealed class TopicPrediction
{
    public string PredictedText { get; set; } = "";
    public float[] Score { get; set; } = Array.Empty<float>();
}

/// <summary>A prompt.</summary>
public sealed class Prompt
{
    public string Text { get; set; } = "";
}

/// <summary>An easy three-topic data set in the shipped model's words, generated so the sample needs no download.</summary>
internal static class SampleData
{
    private static readonly string[] Topics = { "animal", "thing", "place" };
    private static readonly string[][] Words =
    {
        new[] { "cat", "dog", "fox", "owl", "hen", "goat" },
        new[] { "apple", "stone", "book", "hat", "kite", "map" },
        new[] { "garden", "barn", "river", "hill", "forest", "lake" },
    };
    private static readonly string[] Filler = { "the", "a", "sees", "finds", "in", "has", "big", "happy" };

    public static IEnumerable<Review> Rows(int count, int seed)
    {
        var rng = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            int c = rng.Next(3);
            var words = Enumerable.Range(0, rng.Next(1, 3)).Select(_ => rng.Next(2) == 0 ? Filler[rng.Next(Filler.Length)] : Words[c][rng.Next(6)])
                .Append(Words[c][rng.Next(6)]);
            yield return new Review { Label = Topics[c], Text = string.Join(" ", words) };
        }
    }

    public static void WriteTsv(string path, int count, int seed) =>
        File.WriteAllLines(path, Rows(count, seed).Select(r => $"{r.Label}\t{r.Text}").Prepend("Label\tText"));
}
