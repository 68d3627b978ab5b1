using System.Text.Json.Nodes;
using Jamba.Checkpoints;
using Jamba.Planning;
using TorchSharp;
using static Jamba.Tests.Checkpoints.CkptTestUtil;
using static TorchSharp.torch;

namespace Jamba.Tests.Checkpoints;

/// <summary>The config is checked against the checkpoint's headers, and the memory against the machine, before allocation.</summary>
[TestClass]
public sealed class CheckpointValidationTests
{
    private static readonly string TinyDir = Fixture("hf-jamba-tiny");

    /// <summary>A copy of the tiny reference checkpoint (config + weights) with config.json keys changed.</summary>
    private static string CopyTiny(TempDir tmp, Action<JsonObject>? editConfig = null)
    {
        string dir = tmp["ckpt"];
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(TinyDir, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(TinyDir, "config.json")))!.AsObject();
        editConfig?.Invoke(json);
        File.WriteAllText(Path.Combine(dir, "config.json"), json.ToJsonString());
        return dir;
    }

    /// <summary>Rewrites the copy's weights through <paramref name="edit"/> (name → tensor).</summary>
    private static void EditWeights(string dir, Action<Dictionary<string, Tensor>> edit)
    {
        string path = Path.Combine(dir, "model.safetensors");
        var sd = SafeTensors.Load(path);
        try
        {
            edit(sd);
            SafeTensors.Save(path, sd);
        }
        finally { DisposeAll(sd.Values); }
    }

    private static CheckpointException ValidationError(string dir)
    {
        var config = JambaConfig.Load(Path.Combine(dir, "config.json"));
        var reader = CheckpointReader.Open(dir);
        return Assert.ThrowsExactly<CheckpointException>(() => CheckpointValidation.Check(config, reader.Shapes(), dir));
    }

    private static IEnumerable<JambaConfig> Variants()
    {
        yield return TestConfigs.Tiny();
        yield return TestConfigs.Tiny(c => { c.TieWordEmbeddings = true; c.MambaProjBias = true; c.MambaConvBias = false; c.NumHiddenLayers = 7; });
        yield return TestConfigs.Tiny(c => { c.NumExperts = 1; c.NumExpertsPerTok = 1; c.AttnLayerPeriod = 3; c.AttnLayerOffset = 2; });
        yield return TestConfigs.Tiny(c => { c.Architectures = new List<string> { "JambaForSequenceClassification" }; c.NumLabels = 3; });
    }

    [TestMethod]
    public void ExpectedTensors_AreTheNetworksParameters_NameAndShape()
    {
        foreach (var config in Variants())
        {
            using var net = JambaModel.CreateNetwork(config, CPU, ScalarType.Float32);
            var actual = net.named_parameters().ToDictionary(p => p.name, p => string.Join(",", p.parameter.shape));
            var expected = CheckpointValidation.ExpectedTensors(config).ToDictionary(p => p.name, p => string.Join(",", p.shape));
            CollectionAssert.AreEquivalent(actual.Keys.ToList(), expected.Keys.ToList(), string.Join(" ", expected.Keys.Except(actual.Keys).Concat(actual.Keys.Except(expected.Keys))));
            foreach (var (name, shape) in actual) Assert.AreEqual(shape, expected[name], name);
            Assert.AreEqual(net.parameters().Sum(p => p.numel()), ParameterCount.TotalOf(config), "closed-form count");
            Assert.AreEqual(ParameterCount.Of(config).Total, ParameterCount.TotalOf(config));
        }
    }

    [TestMethod]
    public void BillionLayerConfig_FailsInValidation_NamingNumHiddenLayers()
    {
        using var tmp = new TempDir();
        string dir = CopyTiny(tmp, c => c["num_hidden_layers"] = 1_000_000_000);

        var e = ValidationError(dir);
        Assert.AreEqual("num_hidden_layers", e.ConfigKey);
        StringAssert.Contains(e.Message, "num_hidden_layers = 1000000000");
        StringAssert.Contains(e.Message, "8 layers (model.layers.0 to model.layers.7)");
        StringAssert.Contains(e.Message, "nothing was allocated");

        // JambaModel.Load fails with the validation's error (only the validation sets ConfigKey).
        var load = Assert.ThrowsExactly<CheckpointException>(() => JambaModel.Load(dir));
        Assert.AreEqual("num_hidden_layers", load.ConfigKey);
        Assert.AreEqual(e.Message, load.Message);
    }

    [TestMethod]
    public void WrongHiddenSize_NamesTheKeyAndTheEmbeddingShape()
    {
        using var tmp = new TempDir();
        string dir = CopyTiny(tmp, c => c["hidden_size"] = 128);
        var e = ValidationError(dir);
        Assert.AreEqual("hidden_size", e.ConfigKey);
        StringAssert.Contains(e.Message, "hidden_size = 128");
        StringAssert.Contains(e.Message, "model.embed_tokens.weight is [512, 64]");
    }

    [TestMethod]
    public void WrongExpertCount_NamesNumExperts()
    {
        using var tmp = new TempDir();
        string dir = CopyTiny(tmp, c => c["num_experts"] = 8);
        var e = ValidationError(dir);
        Assert.AreEqual("num_experts", e.ConfigKey);
        StringAssert.Contains(e.Message, "num_experts = 8");
        StringAssert.Contains(e.Message, "layer 1 of the checkpoint has 4 experts");
    }

    [TestMethod]
    public void ExpertsOnTheWrongLayers_NamesTheExpertPlan()
    {
        using var tmp = new TempDir();
        string dir = CopyTiny(tmp, c => c["expert_layer_offset"] = 0);
        var e = ValidationError(dir);
        Assert.AreEqual("expert_layer_period", e.ConfigKey);
        StringAssert.Contains(e.Message, "layer 0 should be a mixture of 4 experts, but the checkpoint stores a plain MLP there");
    }

    [TestMethod]
    public void WrongIntermediateSize_NamesEveryTensorWithBothShapes()
    {
        using var tmp = new TempDir();
        string dir = CopyTiny(tmp, c => c["intermediate_size"] = 96);
        var e = ValidationError(dir);
        Assert.IsNull(e.ConfigKey);
        Assert.AreEqual(3 * (4 * 4 + 4), e.ShapeMismatches.Count, "3 projections of 4 MLPs and 4 MoE layers of 4 experts");
        CollectionAssert.Contains(e.ShapeMismatches.ToList(), "model.layers.0.feed_forward.gate_proj.weight: config [96, 64], checkpoint [128, 64]");
    }

    [TestMethod]
    public void MissingTensor_IsNamed()
    {
        using var tmp = new TempDir();
        string dir = CopyTiny(tmp);
        EditWeights(dir, sd => { sd.Remove("model.layers.3.mamba.A_log", out var t); t!.Dispose(); });
        var e = ValidationError(dir);
        CollectionAssert.AreEqual(new[] { "model.layers.3.mamba.A_log" }, e.MissingKeys.ToArray());
        StringAssert.Contains(e.Message, "1 missing key (model.layers.3.mamba.A_log)");
        Assert.AreEqual(e.Message, Assert.ThrowsExactly<CheckpointException>(() => JambaModel.Load(dir)).Message);
    }

    [TestMethod]
    public void ExtraTensor_IsNamed()
    {
        using var tmp = new TempDir();
        string dir = CopyTiny(tmp);
        EditWeights(dir, sd => sd["model.layers.2.self_attn.q_norm.weight"] = ones(64));
        var e = ValidationError(dir);
        CollectionAssert.AreEqual(new[] { "model.layers.2.self_attn.q_norm.weight" }, e.UnexpectedKeys.ToArray());
        StringAssert.Contains(e.Message, "1 unexpected key (model.layers.2.self_attn.q_norm.weight)");
    }

    [TestMethod]
    public void LayerKindDisagreement_NamesTheAttentionPlan()
    {
        using var tmp = new TempDir();
        string dir = CopyTiny(tmp, c => c["attn_layer_offset"] = 3);
        var e = ValidationError(dir);
        Assert.AreEqual("attn_layer_period", e.ConfigKey);
        StringAssert.Contains(e.Message, "layer 2 is a Mamba layer, but the checkpoint stores model.layers.2.self_attn.*");
    }

    [TestMethod]
    public void ParametersOverAvailableMemory_FailBeforeAllocating_WithTheFigures()
    {
        using var tmp = new TempDir();
        string dir = CopyTiny(tmp);
        HostMemory.AvailableOverride = 1_000_000;
        try
        {
            var e = Assert.ThrowsExactly<InsufficientMemoryException>(() => JambaModel.Load(dir));
            StringAssert.Contains(e.Message, "767,440 parameters need 3.07 MB in Float32 but only 1 MB of memory is available");
        }
        finally { HostMemory.AvailableOverride = null; }
    }

    [TestMethod]
    public void AbsurdConfig_CreateFailsAtOnce_OnTheMemoryCheck()
    {
        HostMemory.AvailableOverride = 8_000_000_000;
        try
        {
            var config = TestConfigs.Tiny(c => c.NumHiddenLayers = 1_000_000_000);
            var e = Assert.ThrowsExactly<InsufficientMemoryException>(() => JambaModel.Create(config));
            StringAssert.Contains(e.Message, "num_hidden_layers = 1000000000");
            StringAssert.Contains(e.Message, "nothing was allocated");
        }
        finally { HostMemory.AvailableOverride = null; }
    }
}
