using Jamba.Inference;
using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Modeling;

/// <summary>Decoding through the hybrid cache must reproduce the full, stateless forward.</summary>
[TestClass]
public sealed class HybridCacheTests
{
    private const double Tol = 1e-5;

    private static JambaForCausalLM Model(JambaConfig config, int seed = 7)
    {
        var model = new JambaForCausalLM(config);
        JambaInit.Apply(model, config, seed);
        model.eval();
        return model;
    }

    [TestMethod]
    [DataRow(1, 4, 1)]    // a single prompt token, cache starting too small
    [DataRow(2, 9, 3)]
    [DataRow(3, 17, 64)]
    public void TokenByTokenDecodingEqualsFullForward(int batch, int length, int capacity)
    {
        var config = TestConfigs.Tiny();
        using var model = Model(config);
        using var _ = no_grad();
        var ids = randint(3, config.VocabSize, new long[] { batch, length }, generator: new Generator(1));
        var full = model.Forward(ids).Logits;

        using var cache = new HybridCache(config, batch, capacity);
        var steps = new List<Tensor>();
        for (int t = 0; t < length; t++)
            steps.Add(model.Forward(ids.narrow(1, t, 1), null, cache).Logits);
        var cached = cat(steps.ToArray(), 1);
        Assert.IsTrue(ReferenceCase.RelativeError(cached, full) < Tol, $"relative error {ReferenceCase.RelativeError(cached, full):E2}");
        Assert.AreEqual(length, cache.SeqLen);
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(5)]
    [DataRow(16)]
    public void ChunkedPrefillEqualsOnePass(int chunk)
    {
        var config = TestConfigs.Tiny();
        using var model = Model(config);
        using var _ = no_grad();
        var ids = randint(3, config.VocabSize, new long[] { 2, 21 }, generator: new Generator(2));
        var mask = ones(2, 21, dtype: ScalarType.Int64);
        mask[1, TensorIndex.Slice(0, 6)] = zeros(6, dtype: ScalarType.Int64);   // left padding on row 1
        var full = model.Forward(ids, mask).Logits;

        using var cache = new HybridCache(config, 2, 8);
        var parts = new List<Tensor>();
        for (long s = 0; s < 21; s += chunk)
        {
            long n = Math.Min(chunk, 21 - s);
            parts.Add(model.Forward(ids.narrow(1, s, n), mask.narrow(1, s, n), cache).Logits);
        }
        var real = mask.eq(1).unsqueeze(-1);
        double err = ReferenceCase.RelativeError(cat(parts.ToArray(), 1), full, real);
        Assert.IsTrue(err < Tol, $"relative error {err:E2}");
    }

    [TestMethod]
    public void LeftPaddedRowEqualsTheSameTokensAlone()
    {
        var config = TestConfigs.Tiny(c => c.NumKeyValueHeads = 1);
        using var model = Model(config, seed: 3);
        using var _ = no_grad();
        var tokens = randint(3, config.VocabSize, new long[] { 1, 10 }, generator: new Generator(3));
        var alone = model.Forward(tokens).Logits;
        var padded = cat(new[] { zeros(1, 5, dtype: ScalarType.Int64), tokens }, 1);
        var mask = cat(new[] { zeros(1, 5, dtype: ScalarType.Int64), ones(1, 10, dtype: ScalarType.Int64) }, 1);
        var logits = model.Forward(padded, mask).Logits.narrow(1, 5, 10);
        Assert.IsTrue(ReferenceCase.RelativeError(logits, alone) < Tol);
        Assert.IsFalse(logits.isnan().any().item<bool>());

        // And the same through the generator: padded and unpadded prompts continue identically.
        var options = new GenerationOptions { MaxNewTokens = 6, IgnoreStopTokens = true };
        var generator = new TokenGenerator(model);
        var a = generator.Generate(tokens, null, options)[0].Skip(10);
        var b = generator.Generate(padded, mask, options)[0].Skip(15);
        CollectionAssert.AreEqual(a.ToArray(), b.ToArray());
    }

    [TestMethod]
    public void KvBuffersGrowByDoublingAndCountOnlyAttentionLayers()
    {
        var config = TestConfigs.Tiny();
        using var model = Model(config);
        using var _ = no_grad();
        using var cache = new HybridCache(config, 1, capacity: 2);
        model.Forward(randint(3, 90, new long[] { 1, 5 }), null, cache).Dispose();
        int attentionLayers = Enumerable.Range(0, config.NumHiddenLayers).Count(i => config.LayerKindAt(i) == LayerKind.Attention);
        var kv = cache.Kv(config.AttnLayerOffset);
        Assert.AreEqual(5, kv.Length);
        Assert.AreEqual(5, kv.Capacity);               // max(needed, 2 × 2)
        model.Forward(randint(3, 90, new long[] { 1, 1 }), null, cache).Dispose();
        Assert.AreEqual(10, kv.Capacity);              // doubled, not grown by one
        long perToken = 2L * config.NumKeyValueHeads * config.HeadDim * sizeof(float) * attentionLayers;
        Assert.AreEqual(6 * perToken, cache.KvBytesUsed);
        int mambaLayers = config.NumHiddenLayers - attentionLayers;
        Assert.AreEqual(mambaLayers * (long)config.MambaDInner * (config.MambaDConv + config.MambaDState) * sizeof(float), cache.MambaStateBytes);
    }
}
