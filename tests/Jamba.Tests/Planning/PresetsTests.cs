using Jamba.Planning;

namespace Jamba.Tests.Planning;

[TestClass]
public sealed class PresetsTests
{
    [TestMethod]
    public void FromNameKnowsEveryPreset()
    {
        Assert.AreEqual(65536, Presets.FromName("jamba-v0.1").VocabSize);
        Assert.AreEqual(11008, Presets.FromName("Llama-2-7B").IntermediateSize);
        Assert.AreEqual(8, Presets.FromName("mistral-7b").NumKeyValueHeads);
        Assert.AreEqual(8, Presets.FromName("mixtral-8x7b").NumExperts);
        Assert.AreEqual(8000, Presets.FromName("small").VocabSize);
        foreach (var name in Presets.Names)
        {
            Presets.FromName(name).Validate();
            Presets.FromName(name + Presets.PureAttentionSuffix).Validate();
            Presets.FromName(name + Presets.PureMambaSuffix).Validate();
        }
        var e = Assert.ThrowsExactly<ArgumentException>(() => Presets.FromName("gpt-5"));
        StringAssert.Contains(e.Message, "jamba-v0.1");
    }

    [TestMethod]
    public void JambaV01MatchesTheReferenceDefaults()
    {
        var preset = Presets.JambaV01();
        var defaults = new JambaConfig();
        Assert.AreEqual(defaults.ToJson(), preset.ToJson().Replace("\"mamba_dt_rank\": 256", "\"mamba_dt_rank\": \"auto\""));
        Assert.AreEqual(256, preset.MambaDtRank);
        Assert.AreEqual("MMMMAMMMMMMMAMMMMMMMAMMMMMMMAMMM / -e-e-e-e-e-e-e-e-e-e-e-e-e-e-e-e", preset.LayerMap());
    }

    [TestMethod]
    public void PureAttentionPresetsHaveNoMamba()
    {
        foreach (var c in new[] { Presets.Llama2_7B(), Presets.Mistral7B(), Presets.Mixtral8x7B() })
            Assert.AreEqual(32, CacheMemory.AttentionLayers(c));
        Assert.IsTrue(Enumerable.Range(0, 32).All(Presets.Mixtral8x7B().IsMoeLayer));
        Assert.IsFalse(Enumerable.Range(0, 32).Any(Presets.Mistral7B().IsMoeLayer));
    }

    [TestMethod]
    public void TinyIsAboutOneMillion()
    {
        long total = ParameterCount.Of(Presets.Tiny()).Total;
        Assert.AreEqual(1_057_896L, total);
        Assert.AreEqual(762_984L, ParameterCount.Of(Presets.Tiny()).Active);
    }

    [TestMethod]
    [DataRow("small")]
    [DataRow("tiny")]
    [DataRow("jamba-v0.1")]
    public void PureVariantsKeepActiveParameters(string name)
    {
        var original = Presets.FromName(name);
        long target = ParameterCount.Of(original).Active;
        foreach (var variant in new[] { Presets.PureAttention(original), Presets.PureMamba(original) })
        {
            var p = ParameterCount.Of(variant);
            // Off by at most half an intermediate unit: 1.5 H (dense + k MoE layers).
            long halfUnit = 0;
            for (int i = 0; i < variant.NumHiddenLayers; i++)
                halfUnit += 3L * variant.HiddenSize * (variant.IsMoeLayer(i) ? variant.NumExpertsPerTok : 1);
            Assert.IsTrue(Math.Abs(p.Active - target) * 2 <= halfUnit, $"{name}: {p.Active} vs {target}");
            Assert.IsTrue(Math.Abs(p.Active - target) < target / 1000, $"{name}: {p.Active} vs {target}");
        }
        Assert.AreEqual(original.NumHiddenLayers, CacheMemory.AttentionLayers(Presets.PureAttention(original)));
        Assert.AreEqual(0, CacheMemory.AttentionLayers(Presets.PureMamba(original)));
        Assert.AreEqual(0L, CacheMemory.KvBytesPerToken(Presets.PureMamba(original), TorchSharp.torch.ScalarType.BFloat16));
    }
}
