using Jamba.Inference;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Modeling;

/// <summary>
/// Parity on the generated reference cases (Fixtures/generated, see PROVENANCE.md): other layer plans, tied
/// embeddings, one KV head, projection biases, "auto" dt_rank, 300-token padded rows, a pure-attention and a
/// single-Mamba-layer model, a 5-label classifier. Loaded through <see cref="JambaModel.Load"/>, the real path.
/// </summary>
[TestClass]
public sealed class GeneratedCaseParityTests
{
    public static IEnumerable<object[]> Cases =>
        Directory.GetDirectories(ReferenceCase.FixturePath("generated")).Select(d => new object[] { Path.GetFileName(d) }).OrderBy(c => (string)c[0]);

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void LogitsLossesAndGreedyIdsMatchTheReference(string name)
    {
        using var c = new ReferenceCase(Path.Combine("generated", name));
        using var model = JambaModel.Load(c.Dir);
        using var scope = NewDisposeScope();
        using var _ = no_grad();

        if (model.Classifier is { } classifier)
        {
            var (logits, index) = classifier.Forward(c.InputIds, c.AttentionMask);
            Assert.IsTrue(ReferenceCase.RelativeError(logits, c.Expected["cls_logits"]) <= 1e-4);
            CollectionAssert.AreEqual(c.Expected["cls_pooled_index"].data<long>().ToArray(), index.data<long>().ToArray());
            return;
        }

        var labels = c.InputIds.masked_fill(c.AttentionMask.eq(0), -100);
        var output = model.CausalLM!.Forward(c.InputIds, c.AttentionMask, labels: labels, outputRouterLogits: true);
        double rel = ReferenceCase.RelativeError(output.Logits, c.Expected["logits"], c.AttentionMask.eq(1).unsqueeze(-1));
        Assert.IsTrue(rel <= 1e-4, $"logits relative error {rel:E2}");
        if (c.Expected.TryGetValue("lm_loss", out var lm) && c.InputIds.shape[1] > 1)
            Assert.AreEqual(lm.item<float>(), output.LmLoss!.item<float>(), 1e-5 * Math.Abs(lm.item<float>()));
        if (c.Expected.TryGetValue("aux_loss", out var aux) && output.AuxLoss is not null)
            Assert.AreEqual(aux.item<float>(), output.AuxLoss.item<float>(), 1e-5 * Math.Abs(aux.item<float>()));

        var expectedIds = c.Expected["greedy_ids"];
        int steps = (int)(expectedIds.shape[1] - c.InputIds.shape[1]);
        var generated = new TokenGenerator(model.CausalLM).Generate(c.InputIds, c.AttentionMask, new GenerationOptions { MaxNewTokens = steps });
        for (int b = 0; b < generated.Length; b++)
            CollectionAssert.AreEqual(expectedIds[b].data<long>().ToArray(), generated[b], $"greedy ids of row {b}");
    }
}
