using Jamba.Inference;
using Jamba.Lab.Experiments.Precision;
using Jamba.Quantization;
using Jamba.Tests.Cli;
using TorchSharp;

namespace Jamba.Tests.Quantization;

[TestClass]
public sealed class PrecisionComparisonTests
{
    private static readonly string[] Texts =
    {
        "The blue cat has a kite. In the lake, the cat finds Dan.",
        "6 + 37 = 43.",
        "Lena calls a sleepy hen in the field. Finn gives a book to the happy cat.",
        "Ada has one fox.",
    };

    /// <summary>A small random checkpoint with the built-in byte tokenizer, saved to a fresh folder.</summary>
    private static string SmallCheckpoint()
    {
        string dir = Path.Combine(CliRunner.TempDir(), "model");
        using var model = JambaModel.Create(TestConfigs.Tiny(c => { c.VocabSize = 300; c.HiddenSize = 64; c.NumAttentionHeads = 4; }), seed: 11);
        model.Save(dir);
        return dir;
    }

    /// <summary>
    /// ScoreWithPredictions (what the comparison scores with) gives Score's losses, row by row, on a left-padded batch,
    /// and top-1 has one id per predicted token, the left-padded row's equal to its own forward's.
    /// </summary>
    [TestMethod]
    public void ScoreWithPredictionsMatchesScore()
    {
        using var model = JambaModel.Create(TestConfigs.Tiny(c => c.VocabSize = 300), seed: 2);
        var rows = Texts.Select(t => (IReadOnlyList<int>)TextEncoding.Encode(model.RequireTokenizer(), t, 1024, TruncationPolicy.KeepStart, true)).ToList();
        var expected = LanguageModelScoring.Score(model.CausalLM!, rows);
        var actual = LanguageModelScoring.ScoreWithPredictions(model.CausalLM!, rows);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.AreEqual(expected[i].TokenCount, actual[i].Loss.TokenCount);
            Assert.AreEqual(expected[i].NegativeLogLikelihood, actual[i].Loss.NegativeLogLikelihood, 1e-9 * Math.Abs(expected[i].NegativeLogLikelihood));
            Assert.AreEqual(rows[i].Count - 1, actual[i].Top1.Length);
        }
        // The last row's prediction after its first token, computed alone, is its first top-1 id.
        using var _ = torch.no_grad();
        using var ids = torch.tensor(rows[3].Take(2).Select(x => (long)x).ToArray()).unsqueeze(0);
        int alone = (int)model.CausalLM!.Forward(ids).Logits[0, 0].argmax().item<long>();
        Assert.AreEqual(alone, actual[3].Top1[0]);
    }

    /// <summary>
    /// The reference agrees with itself everywhere; the quantized precisions hold fewer bytes, and their perplexity and
    /// agreement are finite and in range.
    /// </summary>
    [TestMethod]
    public void ComparesPrecisionsOfOneCheckpoint()
    {
        string dir = SmallCheckpoint();
        var results = PrecisionComparison.Run(dir, Texts, new[]
        {
            ("f32", new JambaModelOptions()),
            ("f32 again", new JambaModelOptions()),
            ("int8", new JambaModelOptions { Quantization = JambaQuantization.Int8 }),
            ("q4", new JambaModelOptions { Quantization = JambaQuantization.Q4 }),
        }, batchSize: 3);
        Assert.AreEqual(4, results.Count);
        Assert.AreEqual(1.0, results[1].Top1Agreement);
        Assert.AreEqual(results[0].CrossEntropy, results[1].CrossEntropy);
        Assert.IsTrue(results[2].WeightBytes < results[0].WeightBytes && results[3].WeightBytes < results[2].WeightBytes);
        foreach (var r in results.Skip(2))
        {
            Assert.IsTrue(double.IsFinite(r.Perplexity) && r.Perplexity > 1, $"{r.Precision}: {r.Perplexity}");
            Assert.IsTrue(r.Top1Agreement is > 0 and <= 1, $"{r.Precision}: {r.Top1Agreement}");
            Assert.AreNotEqual(results[0].CrossEntropy, r.CrossEntropy, r.Precision);
        }

        string data = Path.Combine(CliRunner.TempDir(), "texts.txt");
        File.WriteAllText(data, string.Join("\n\n", Texts));
        var cli = CliRunner.Run("eval", "--model", dir, "--data", data, "--precisions", "f32,int8,q4", "--max-texts", "3", "--threads", "1");
        Assert.AreEqual(0, cli.ExitCode, cli.Stderr);
        StringAssert.Contains(cli.Stdout, "3 texts");
        foreach (var p in new[] { "f32 ", "int8 ", "q4 (G=32)" }) StringAssert.Contains(cli.Stdout, p);
        CliRunner.AssertCleanFailure(CliRunner.Run("eval", "--model", dir, "--data", data, "--precisions", "f32,q3"), "unknown precision 'q3'", exitCode: 2);
    }
}
