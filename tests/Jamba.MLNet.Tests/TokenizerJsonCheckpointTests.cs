using Jamba.Inference;
using Jamba.Planning;
using Jamba.Tokenization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet.Tests;

/// <summary>
/// A release-style folder with <c>tokenizer.json</c> and <c>tokenizer_config.json</c> and no <c>tokenizer.model</c>
/// (Mistral's files, from the library tests' fixtures) works in every ML.NET transform.
/// </summary>
[TestClass]
public sealed class TokenizerJsonCheckpointTests
{
    private static readonly TextRow[] Rows =
    {
        new() { Text = "Hello world, this is a test." },
        new() { Text = "Ünïcödé, numbers 12345 and an emoji 🙂" },
    };

    [TestMethod]
    public void TransformsWorkOnAFolderWithOnlyTokenizerJson()
    {
        string dir = Path.Combine(Path.GetTempPath(), "jamba-tokenizer-json-" + Guid.NewGuid().ToString("N"));
        try
        {
            var config = Presets.Tiny();
            config.VocabSize = 32000;
            using (var created = JambaModel.Create(config, seed: 3)) created.Save(dir);
            foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
                File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "mistral", file), Path.Combine(dir, file));
            Assert.IsFalse(File.Exists(Path.Combine(dir, "tokenizer.model")));

            using var model = JambaModel.Load(dir);
            var tok = model.RequireTokenizer();
            Assert.IsInstanceOfType<HuggingFaceTokenizer>(tok);
            var ml = TestModels.Context();
            var data = ml.Data.LoadFromEnumerable(Rows);

            var tokenize = new JambaTokenizeOptions();
            var tokens = ml.Transforms.Jamba().Tokenize("Tokens", "Text", model, tokenize).Fit(data).Transform(data)
                .GetColumn<VBuffer<int>>("Tokens").Select(v => v.DenseValues().ToArray()).ToArray();
            for (int i = 0; i < Rows.Length; i++)
                CollectionAssert.AreEqual(TextEncoding.Encode(tok, Rows[i].Text, tokenize.MaxTokens, tokenize.Truncation, tokenize.AddBos), tokens[i]);

            var scores = ml.Transforms.Jamba().Classify("Text", model, new[] { "greeting", "other" }).Fit(data).Transform(data)
                .GetColumn<float[]>("Score").ToArray();
            foreach (var s in scores) Assert.AreEqual(1.0, s.Sum(), 1e-4);

            var metrics = ml.Transforms.Jamba().EvaluateLanguageModel(data, model: model, textColumnName: "Text");
            Assert.AreEqual(Rows.Sum(r => (long)tok.Encode(r.Text).Count), metrics.TokenCount);
            Assert.IsTrue(double.IsFinite(metrics.CrossEntropy), metrics.ToString());
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
