using System.Text.Json.Nodes;

namespace Jamba.Tests.Config;

[TestClass]
public sealed class JambaConfigTests
{
    [TestMethod]
    public void ReadsTheReferenceFixtureConfig()
    {
        var c = JambaConfig.Load(ReferenceCase.FixturePath("hf-jamba-tiny", "config.json"));
        Assert.AreEqual(512, c.VocabSize);
        Assert.AreEqual(64, c.HiddenSize);
        Assert.AreEqual(2, c.NumKeyValueHeads);
        Assert.AreEqual(8, c.MambaDtRank);
        Assert.AreEqual(1e-6, c.RmsNormEps);
        Assert.AreEqual("MMAMMMAM / -e-e-e-e", c.LayerMap());
        Assert.IsFalse(c.TieWordEmbeddings);
    }

    [TestMethod]
    public void RoundTripKeepsEveryFieldIncludingUnknownOnes()
    {
        var json = File.ReadAllText(ReferenceCase.FixturePath("hf-jamba-tiny", "config.json"));
        var o = JsonNode.Parse(json)!.AsObject();
        o["my_custom_field"] = new JsonObject { ["nested"] = new JsonArray(1, 2, 3) };
        o["eos_token_id"] = new JsonArray(2, 5);
        var c = JambaConfig.FromJson(o.ToJsonString());
        CollectionAssert.AreEqual(new[] { 2, 5 }, c.EosTokenIds);
        var back = JsonNode.Parse(c.ToJson())!.AsObject();
        foreach (var (key, value) in o)
            Assert.IsTrue(JsonNode.DeepEquals(value, back[key]), $"field {key}: {value?.ToJsonString()} became {back[key]?.ToJsonString()}");
        Assert.AreEqual(o.Count, back.Count);
    }

    [TestMethod]
    public void DtRankAutoIsCeilingOfHiddenOver16AndRoundTripsAsAuto()
    {
        var c = JambaConfig.FromJson("""{"hidden_size": 40, "num_attention_heads": 4, "num_key_value_heads": 2, "mamba_dt_rank": "auto"}""");
        Assert.AreEqual(3, c.MambaDtRank);
        Assert.AreEqual("auto", (string)JsonNode.Parse(c.ToJson())!["mamba_dt_rank"]!);
    }

    [TestMethod]
    public void NullKeyValueHeadsMeansOnePerAttentionHead()
    {
        var c = JambaConfig.FromJson("""{"hidden_size": 64, "num_attention_heads": 8, "num_key_value_heads": null}""");
        Assert.AreEqual(8, c.NumKeyValueHeads);
    }

    [TestMethod]
    [DataRow("""{"attn_layer_period": 4, "attn_layer_offset": 4}""", "attn_layer_offset", "4")]
    [DataRow("""{"expert_layer_period": 2, "expert_layer_offset": 2}""", "expert_layer_offset", "2")]
    [DataRow("""{"hidden_size": 100, "num_attention_heads": 32}""", "num_attention_heads", "32")]
    [DataRow("""{"num_attention_heads": 32, "num_key_value_heads": 5}""", "num_key_value_heads", "5")]
    [DataRow("""{"num_experts": 4, "num_experts_per_tok": 5}""", "num_experts_per_tok", "5")]
    [DataRow("""{"vocab_size": 0}""", "vocab_size", "0")]
    [DataRow("""{"hidden_size": "big"}""", "hidden_size", "\"big\"")]
    [DataRow("""{"mamba_dt_rank": 2.5}""", "mamba_dt_rank", "2.5")]
    [DataRow("""{"rms_norm_eps": -1}""", "rms_norm_eps", "-1")]
    [DataRow("""{"model_type": "llama"}""", "model_type", "llama")]
    public void InvalidValuesNameTheFieldAndTheValue(string json, string field, string value)
    {
        var e = Assert.ThrowsExactly<JambaConfigException>(() => JambaConfig.FromJson(json));
        StringAssert.Contains(e.Message, $"'{field}'");
        StringAssert.Contains(e.Message, value);
    }

    [TestMethod]
    public void NotJsonIsAClearError()
    {
        var e = Assert.ThrowsExactly<JambaConfigException>(() => JambaConfig.FromJson("{ not json"));
        StringAssert.Contains(e.Message, "not valid JSON");
    }

    [TestMethod]
    public void JambaV01LayerPlanHasAttentionEveryEighthLayerAndMoeEveryOther()
    {
        var c = new JambaConfig();   // the reference defaults are Jamba-v0.1's
        Assert.AreEqual(32, c.NumHiddenLayers);
        var attention = Enumerable.Range(0, 32).Where(i => c.LayerKindAt(i) == LayerKind.Attention).ToArray();
        CollectionAssert.AreEqual(new[] { 4, 12, 20, 28 }, attention);
        Assert.AreEqual(16, Enumerable.Range(0, 32).Count(c.IsMoeLayer));
        Assert.AreEqual(256, c.MambaDtRank);
    }
}
