using Jamba.Inference;
using Jamba.Modeling;
using static TorchSharp.torch;

namespace Jamba.Tests.Inference;

/// <summary>The batched helpers behind the ML.NET layer: padding must never change a row's result.</summary>
[TestClass]
public sealed class BatchedScoringTests
{
    private static JambaForCausalLM Model()
    {
        var config = TestConfigs.Tiny();
        var model = new JambaForCausalLM(config);
        JambaInit.Apply(model, config, 3);
        model.eval();
        return model;
    }

    private static readonly int[][] Rows = { new[] { 1, 5, 9, 11, 40 }, new[] { 1, 7 }, new[] { 1, 60, 61, 62 } };

    [TestMethod]
    public void TruncationKeepsStartOrEndAndBos()
    {
        var tok = Jamba.Tokenization.ByteTokenizer.Instance;
        CollectionAssert.AreEqual(new[] { 1, 'a' + 4, 'b' + 4 }, TextEncoding.Encode(tok, "abcd", 3, TruncationPolicy.KeepStart, true));
        CollectionAssert.AreEqual(new[] { 1, 'c' + 4, 'd' + 4 }, TextEncoding.Encode(tok, "abcd", 3, TruncationPolicy.KeepEnd, true));
        CollectionAssert.AreEqual(new[] { 1 }, TextEncoding.Encode(tok, null, 3, TruncationPolicy.KeepEnd, true));
        Assert.AreEqual(0, TextEncoding.Encode(tok, "", 0, TruncationPolicy.KeepStart, false).Length);
        Assert.AreEqual(4, TextEncoding.Encode(tok, "abcd", 0, TruncationPolicy.KeepStart, false).Length);
    }

    [TestMethod]
    [DataRow(EmbeddingPooling.Mean)]
    [DataRow(EmbeddingPooling.LastToken)]
    public void EmbeddingOfAPaddedBatchEqualsOneByOne(EmbeddingPooling pooling)
    {
        using var model = Model();
        var batched = TextEmbedding.Embed(model.model, Rows, pooling);
        for (int i = 0; i < Rows.Length; i++)
        {
            var single = TextEmbedding.Embed(model.model, new[] { Rows[i] }, pooling)[0];
            for (int j = 0; j < single.Length; j++) Assert.AreEqual(single[j], batched[i][j], 1e-4, $"row {i} dim {j}");
        }
        // Mean pooling by hand for the unpadded first row.
        if (pooling == EmbeddingPooling.Mean)
        {
            using var _ = no_grad();
            using var h = model.model.Forward(tensor(Rows[0].Select(x => (long)x).ToArray(), new long[] { 1, 5 })).LastHiddenState;
            var mean = h.mean(new long[] { 1 }).data<float>().ToArray();
            for (int j = 0; j < mean.Length; j++) Assert.AreEqual(mean[j], batched[0][j], 1e-5);
        }
        Assert.IsTrue(TextEmbedding.Embed(model.model, new[] { Array.Empty<int>() }, pooling)[0].All(v => v == 0));
        var unit = TextEmbedding.Embed(model.model, Rows, pooling, normalize: true);
        foreach (var v in unit) Assert.AreEqual(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 1e-4);
    }

    [TestMethod]
    public void LabelScoresAreSumsOfTokenLogProbabilities()
    {
        using var model = Model();
        var prompts = new IReadOnlyList<int>[] { Rows[0], Rows[1] };
        var choices = new IReadOnlyList<IReadOnlyList<int>>[]
        {
            new IReadOnlyList<int>[] { new[] { 20, 21 }, new[] { 30 } },
            new IReadOnlyList<int>[] { new[] { 22 }, new[] { 23, 24, 25 }, Array.Empty<int>() },
        };
        var scores = LabelScoring.LogLikelihoods(model, prompts, choices);
        for (int r = 0; r < prompts.Length; r++)
            for (int c = 0; c < choices[r].Count; c++)
            {
                double expected = 0;
                if (choices[r][c].Count > 0)
                {
                    using var _ = no_grad();
                    var seq = prompts[r].Concat(choices[r][c]).Select(x => (long)x).ToArray();
                    using var output = model.Forward(tensor(seq, new long[] { 1, seq.Length }));
                    var logp = nn.functional.log_softmax(output.Logits[0], -1);
                    for (int k = prompts[r].Count; k < seq.Length; k++) expected += logp[k - 1, seq[k]].item<float>();
                }
                Assert.AreEqual(expected, scores[r][c], 1e-4, $"row {r} choice {c}");
            }
        var p = LabelScoring.Softmax(scores[1]);
        Assert.AreEqual(1.0, p.Sum(), 1e-6);
    }

    [TestMethod]
    public void SequenceLossMatchesTheModelsOwnLoss()
    {
        using var model = Model();
        var losses = LanguageModelScoring.Score(model, Rows);
        for (int i = 0; i < Rows.Length; i++)
        {
            using var _ = no_grad();
            var ids = tensor(Rows[i].Select(x => (long)x).ToArray(), new long[] { 1, Rows[i].Length });
            using var output = model.Forward(ids, labels: ids);
            Assert.AreEqual(Rows[i].Length - 1, losses[i].TokenCount);
            Assert.AreEqual(output.LmLoss!.item<float>(), losses[i].NegativeLogLikelihood / losses[i].TokenCount, 1e-5);
        }
        Assert.AreEqual(0, LanguageModelScoring.Score(model, new[] { new[] { 1 } })[0].TokenCount);
    }
}
