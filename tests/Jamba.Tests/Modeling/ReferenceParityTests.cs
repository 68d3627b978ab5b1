using Jamba.Inference;
using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Modeling;

/// <summary>
/// Parity with Hugging Face transformers v4.47.1 on the shared fixtures. Tolerances are the fixture README's:
/// relative error ≤ 1e-4 (max abs ≤ 1e-3) on float outputs at real positions, ≤ 1e-5 on losses, exact ids.
/// </summary>
[TestClass]
public sealed class ReferenceParityTests
{
    private const double Rel = 1e-4, Abs = 1e-3, LossRel = 1e-5;

    public static IEnumerable<object[]> Cases => new[] { new object[] { "hf-jamba-tiny" }, new object[] { "hf-jamba-tiny-padded" } };

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void ForwardMatchesLogitsHiddenStatesRouterLogitsAndLosses(string name)
    {
        using var c = new ReferenceCase(name);
        using var model = c.CausalLM();
        using var _ = no_grad();
        var labels = c.InputIds.masked_fill(c.AttentionMask.eq(0), -100);
        using var output = model.Forward(c.InputIds, c.AttentionMask, labels: labels, outputHiddenStates: true, outputRouterLogits: true);
        var real = c.AttentionMask.eq(1).unsqueeze(-1);

        AssertClose(output.Logits, c.Expected["logits"], real, "logits");
        Assert.AreEqual(c.Config.NumHiddenLayers + 1, output.HiddenStates!.Count);
        for (int i = 0; i < output.HiddenStates.Count; i++)
            AssertClose(output.HiddenStates[i], c.Expected[$"hidden_states.{i}"], real, $"hidden_states.{i}");

        var moeLayers = Enumerable.Range(0, c.Config.NumHiddenLayers).Where(c.Config.IsMoeLayer).ToList();
        Assert.AreEqual(moeLayers.Count, output.RouterLogits!.Count);
        var realRows = c.AttentionMask.flatten().eq(1).unsqueeze(-1);
        for (int i = 0; i < moeLayers.Count; i++)
            AssertClose(output.RouterLogits[i], c.Expected[$"router_logits.{moeLayers[i]}"], realRows, $"router_logits.{moeLayers[i]}");

        AssertLoss(output.LmLoss!, c.Expected["lm_loss"], "lm_loss");
        AssertLoss(output.AuxLoss!, c.Expected["aux_loss"], "aux_loss");
        AssertLoss(output.Loss!, c.Expected["loss_with_aux"], "loss_with_aux");
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void ClassifierMatchesLogitsAndPooledIndex(string name)
    {
        using var c = new ReferenceCase(name);
        using var model = c.Classifier();
        using var _ = no_grad();
        var (logits, index) = model.Forward(c.InputIds, c.AttentionMask);
        AssertClose(logits, c.Expected["cls_logits"], null, "cls_logits");
        CollectionAssert.AreEqual(c.Expected["cls_pooled_index"].data<long>().ToArray(), index.data<long>().ToArray());
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void CachedGreedyDecodingMatchesIdsAndStepLogits(string name)
    {
        using var c = new ReferenceCase(name);
        using var model = c.CausalLM();
        using var _ = no_grad();
        var expectedIds = c.Expected["greedy_ids"];
        int steps = (int)(expectedIds.shape[1] - c.InputIds.shape[1]);

        // Step logits through the cache by hand, as the reference records them.
        using var cache = new HybridCache(c.Config, c.InputIds.shape[0], capacity: 4);   // small, so the KV buffers must grow
        var stepLogits = new List<Tensor>();
        var logits = model.Forward(c.InputIds, c.AttentionMask, cache, logitsToKeep: 1).Logits.select(1, 0);
        for (int s = 0; s < steps; s++)
        {
            stepLogits.Add(logits);
            var next = logits.argmax(-1).unsqueeze(1);
            logits = model.Forward(next, null, cache).Logits.select(1, 0);
        }
        AssertClose(stack(stepLogits, 1), c.Expected["greedy_step_logits"], null, "greedy_step_logits");

        var generated = new TokenGenerator(model).Generate(c.InputIds, c.AttentionMask,
            new GenerationOptions { MaxNewTokens = steps, IgnoreStopTokens = true });
        var expectedRows = Enumerable.Range(0, (int)expectedIds.shape[0]).Select(b => expectedIds[b].data<long>().ToArray()).ToArray();
        for (int b = 0; b < expectedRows.Length; b++)
            CollectionAssert.AreEqual(expectedRows[b], generated[b], $"greedy ids of row {b}");
        Assert.IsTrue(c.Expected["greedy_ids_nocache"].eq(expectedIds).all().item<bool>(), "fixture sanity: cached and uncached reference ids agree");
    }

    private static void AssertClose(Tensor actual, Tensor expected, Tensor? keep, string what)
    {
        CollectionAssert.AreEqual(expected.shape, actual.shape, $"{what} shape");
        double rel = ReferenceCase.RelativeError(actual, expected, keep);
        double abs = ReferenceCase.MaxAbsError(actual, expected, keep);
        Assert.IsTrue(rel <= Rel && abs <= Abs, $"{what}: relative error {rel:E2} (max {Rel:E0}), max abs {abs:E2} (max {Abs:E0})");
    }

    private static void AssertLoss(Tensor actual, Tensor expected, string what)
    {
        double a = actual.item<float>(), e = expected.item<float>();
        Assert.IsTrue(Math.Abs(a - e) <= LossRel * Math.Abs(e), $"{what}: {a} vs reference {e}");
    }
}
