using Jamba.Inference;
using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Chat.Client;

[TestClass]
public sealed class HybridCacheSnapshotTests
{
    /// <summary>
    /// Prefill a prefix, snapshot, decode some tokens that are then abandoned, restore, prefill the rest: the logits
    /// equal those of one prefill of the whole sequence.
    /// </summary>
    [TestMethod]
    public void RestoreThenPrefillEqualsAFreshPrefill()
    {
        using var model = JambaModel.Create(TestConfigs.Tiny(c => c.VocabSize = 260), seed: 3);
        var lm = model.CausalLM!;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = randint(4, 260, new long[] { 1, 30 }, generator: new Generator(9));
        var prefix = ids.narrow(1, 0, 18);
        var rest = ids.narrow(1, 18, 12);

        using var fresh = new HybridCache(model.Config, 1, 64);
        var expected = lm.Forward(ids, null, fresh).Logits.narrow(1, 18, 12);

        using var cache = new HybridCache(model.Config, 1, 8);
        lm.Forward(prefix, null, cache);
        using var snapshot = cache.Snapshot();
        Assert.AreEqual(18, snapshot.SeqLen);
        foreach (long t in new long[] { 7, 8, 9, 10, 11 }) lm.Forward(tensor(new[] { t }, new long[] { 1, 1 }), null, cache);
        Assert.AreEqual(23, cache.SeqLen);
        cache.Restore(snapshot);
        Assert.AreEqual(18, cache.SeqLen);
        var actual = lm.Forward(rest, null, cache).Logits;
        Assert.IsTrue(actual.allclose(expected, rtol: 1e-4, atol: 1e-5), $"max |diff| {(actual - expected).abs().max().item<float>()}");
    }

    [TestMethod]
    public void RestoringPastTheStoredPositionsIsAnError()
    {
        using var model = JambaModel.Create(TestConfigs.Tiny(c => c.VocabSize = 260), seed: 3);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var cache = new HybridCache(model.Config, 1, 8);
        model.CausalLM!.Forward(tensor(new long[] { 5, 6, 7 }, new long[] { 1, 3 }), null, cache);
        using var snapshot = cache.Snapshot();
        using var other = new HybridCache(model.Config, 1, 8);
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => other.Restore(snapshot));
        StringAssert.Contains(e.Message, "snapshot of 3 positions into a cache of 0");
    }
}
