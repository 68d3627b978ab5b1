using System.Text.Json.Nodes;

namespace Jamba.Tests.Config;

/// <summary>The converters and null rules of config.json, one reference quirk at a time.</summary>
[TestClass]
public sealed class JambaConfigJsonTests
{
    private static JsonObject Written(JambaConfig c) => JsonNode.Parse(c.ToJson())!.AsObject();

    [TestMethod]
    [DataRow("2", new[] { 2 }, "2")]
    [DataRow("[2, 7]", new[] { 2, 7 }, "[2,7]")]
    [DataRow("[]", new int[0], "[]")]
    [DataRow("null", new int[0], "[]")]
    public void EosTokenIdIsOneIdOrAList(string json, int[] ids, string written)
    {
        var c = JambaConfig.FromJson($$"""{"eos_token_id": {{json}}}""");
        CollectionAssert.AreEqual(ids, c.EosTokenIds);
        Assert.AreEqual(written, Written(c)["eos_token_id"]!.ToJsonString());
    }

    [TestMethod]
    [DataRow("""[2, "x"]""", "[2,\"x\"]")]
    [DataRow("\"2\"", "\"2\"")]
    public void EosTokenIdThatIsNotIdsIsNamed(string json, string value)
    {
        var e = Assert.ThrowsExactly<JambaConfigException>(() => JambaConfig.FromJson($$"""{"eos_token_id": {{json}}}"""));
        Assert.AreEqual("eos_token_id", e.Field);
        StringAssert.Contains(e.Message, value);
    }

    [TestMethod]
    public void DtRankIsAnIntegerOrAuto()
    {
        var explicitRank = JambaConfig.FromJson("""{"mamba_dt_rank": 12}""");
        Assert.AreEqual(12, explicitRank.MambaDtRankValue);
        Assert.AreEqual(12, (int)Written(explicitRank)["mamba_dt_rank"]!);
        var nullRank = JambaConfig.FromJson("""{"hidden_size": 64, "num_attention_heads": 8, "mamba_dt_rank": null}""");
        Assert.IsNull(nullRank.MambaDtRankValue);
        Assert.AreEqual(4, nullRank.MambaDtRank);
        Assert.AreEqual("auto", (string)Written(nullRank)["mamba_dt_rank"]!);
        var e = Assert.ThrowsExactly<JambaConfigException>(() => JambaConfig.FromJson("""{"mamba_dt_rank": "big"}"""));
        Assert.AreEqual("invalid config field 'mamba_dt_rank' = \"big\": must be an integer", e.Message);
    }

    [TestMethod]
    public void IntegralFloatsReadAsIntegersAndNullSizesAreErrors()
    {
        Assert.AreEqual(128, JambaConfig.FromJson("""{"hidden_size": 128.0}""").HiddenSize);
        var e = Assert.ThrowsExactly<JambaConfigException>(() => JambaConfig.FromJson("""{"hidden_size": null}"""));
        Assert.AreEqual("invalid config field 'hidden_size' = null: must be an integer", e.Message);
    }

    [TestMethod]
    public void NullFloatsFlagsAndStringsReadAsTheDefault()
    {
        var c = JambaConfig.FromJson("""{"rms_norm_eps": null, "use_cache": null, "hidden_act": null, "architectures": null, "model_type": null}""");
        var defaults = new JambaConfig();
        Assert.AreEqual(defaults.RmsNormEps, c.RmsNormEps);
        Assert.AreEqual(defaults.UseCache, c.UseCache);
        Assert.AreEqual("silu", c.HiddenAct);
        CollectionAssert.AreEqual(defaults.Architectures, c.Architectures);
    }

    [TestMethod]
    [DataRow("""{"use_cache": 1}""", "use_cache", "1", "must be true or false")]
    [DataRow("""{"rms_norm_eps": "small"}""", "rms_norm_eps", "\"small\"", "must be a number")]
    [DataRow("""{"hidden_act": 3}""", "hidden_act", "3", "must be a string")]
    [DataRow("""{"architectures": ["JambaForCausalLM", 1]}""", "architectures", "1", "must be a list of strings")]
    [DataRow("""{"id2label": {"zero": "a"}}""", "id2label", "{\"zero\":\"a\"}", "must map integer ids to label strings")]
    [DataRow("""{"pad_token_id": 1.5}""", "pad_token_id", "1.5", "must be an integer")]
    public void WrongKindsNameFieldValueAndProblem(string json, string field, string value, string problem)
    {
        var e = Assert.ThrowsExactly<JambaConfigException>(() => JambaConfig.FromJson(json));
        Assert.AreEqual($"invalid config field '{field}' = {value}: {problem}", e.Message);
        Assert.AreEqual(field, e.Field);
    }

    [TestMethod]
    public void NullableFieldsGiveNullTheirMeaning()
    {
        var c = JambaConfig.FromJson("""{"pad_token_id": null, "sliding_window": null, "num_logits_to_keep": null, "num_attention_heads": 16, "hidden_size": 64, "num_key_value_heads": null}""");
        Assert.IsNull(c.PadTokenId);
        Assert.IsNull(c.SlidingWindow);
        Assert.AreEqual(0, c.NumLogitsToKeep);
        Assert.AreEqual(16, c.NumKeyValueHeads);
        var back = Written(c);
        Assert.IsTrue(back.ContainsKey("pad_token_id") && back["pad_token_id"] is null, "a null id is written as null");
        Assert.AreEqual(16, (int)back["num_key_value_heads"]!);
    }

    [TestMethod]
    public void LabelsAreWrittenBothWaysAndTheirCountIsDerived()
    {
        var c = JambaConfig.FromJson("""{"architectures": ["JambaForSequenceClassification"], "id2label": {"1": "pos", "0": "neg", "2": "mixed"}}""");
        Assert.AreEqual(3, c.NumLabels);
        var back = Written(c);
        Assert.AreEqual("""{"0":"neg","1":"pos","2":"mixed"}""", back["id2label"]!.ToJsonString());
        Assert.AreEqual("""{"neg":0,"pos":1,"mixed":2}""", back["label2id"]!.ToJsonString());
        Assert.IsFalse(back.ContainsKey("num_labels"), "the reference derives num_labels from id2label");

        var unnamed = new JambaConfig { Architectures = ["JambaForSequenceClassification"], NumLabels = 2 };
        Assert.AreEqual("""{"0":"LABEL_0","1":"LABEL_1"}""", Written(unnamed)["id2label"]!.ToJsonString());
        Assert.IsFalse(Written(new JambaConfig()).ContainsKey("id2label"), "a causal LM without labels writes none");
        Assert.AreEqual(5, JambaConfig.FromJson("""{"num_labels": 5, "id2label": {"0": "a"}}""").NumLabels);
    }

    [TestMethod]
    public void WrittenKeysAreSortedAndUnknownOnesKept()
    {
        var c = JambaConfig.FromJson("""{"zz_custom": {"a": [1, 2]}, "torch_dtype": "bfloat16", "hidden_size": 64, "num_attention_heads": 8}""");
        Assert.AreEqual("bfloat16", c.ExtraFields["torch_dtype"]!.GetValue<string>());
        var keys = Written(c).Select(p => p.Key).ToList();
        CollectionAssert.AreEqual(keys.OrderBy(k => k, StringComparer.Ordinal).ToList(), keys);
        Assert.AreEqual("zz_custom", keys[^1]);
        Assert.AreEqual("jamba", (string)Written(c)["model_type"]!);
        foreach (var computed in new[] { "mamba_d_inner", "head_dim", "is_sequence_classifier", "mamba_inner_layer_norms", "num_labels" })
            Assert.IsFalse(keys.Contains(computed), computed);
    }
}
