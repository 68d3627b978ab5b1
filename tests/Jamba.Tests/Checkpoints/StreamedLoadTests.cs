using Jamba.Quantization;
using Jamba.Checkpoints;
using Jamba.Modeling;
using TorchSharp;
using static Jamba.Tests.Checkpoints.CkptTestUtil;
using static TorchSharp.torch;

namespace Jamba.Tests.Checkpoints;

/// <summary>
/// Loading streams each stored tensor into its parameter (converted chunk by chunk), initialising draws chunk by
/// chunk, saving writes chunk by chunk; each must give exactly what the whole-tensor path gives.
/// </summary>
[TestClass]
public sealed class StreamedLoadTests
{
    private static readonly string TinyDir = Fixture("hf-jamba-tiny");

    private static void AssertParametersEqual(nn.Module expected, nn.Module actual, string what)
    {
        var e = expected.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in actual.named_parameters())
        {
            Assert.AreEqual(e[name].dtype, p.dtype, $"{what}: {name} dtype");
            AssertSameTensor(e[name], p, $"{what}: {name}");
        }
    }

    /// <summary>The network as the old path built it: the whole state dict in memory, then copied in.</summary>
    private static nn.Module ReferenceLoad(string dir, ScalarType dtype)
    {
        var config = JambaConfig.Load(Path.Combine(dir, "config.json"));
        var sd = CheckpointFolder.LoadStateDict(dir, dtype, CPU);
        try
        {
            var net = JambaModel.CreateNetwork(config, CPU, dtype);
            CheckpointFolder.LoadInto(net, sd);
            return net;
        }
        finally { DisposeAll(sd.Values); }
    }

    [TestMethod]
    [DataRow("f32", null)]
    [DataRow("bf16", null)]
    [DataRow("f32", 3000L)]    // chunks of 1000 bytes: the direct read goes through many narrow views
    [DataRow("bf16", 3000L)]   // and the converting path through a small staging buffer
    public void Load_StreamsEveryTensor_SameAsWholeStateDict(string dtype, long? spanLimit)
    {
        var t = JambaModelOptions.ParseDType(dtype);
        using var reference = ReferenceLoad(TinyDir, t);
        SafeTensors.SpanLimitOverride = spanLimit;
        try
        {
            using var model = JambaModel.Load(TinyDir, new JambaModelOptions { DType = dtype });
            AssertParametersEqual(reference, model.Network, $"{dtype} span {spanLimit}");
        }
        finally { SafeTensors.SpanLimitOverride = null; }
    }

    [TestMethod]
    public void Load_ShardedBf16Checkpoint_IntoF32_ConvertsExactly()
    {
        using var tmp = new TempDir();
        using var source = JambaModel.Load(TinyDir);
        source.Save(tmp["bf16"], ScalarType.BFloat16, maxShardBytes: 300_000);
        Assert.IsTrue(File.Exists(Path.Combine(tmp["bf16"], CheckpointFolder.IndexFile)), "sharded");
        Assert.IsTrue(CheckpointReader.Open(tmp["bf16"]).Files.Count > 1);

        SafeTensors.SpanLimitOverride = 999;
        try
        {
            using var loaded = JambaModel.Load(tmp["bf16"]);
            var want = source.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in loaded.Network.named_parameters())
            {
                using var rounded = want[name].to(ScalarType.BFloat16).to(ScalarType.Float32);
                AssertSameTensor(rounded, p, name);
            }
        }
        finally { SafeTensors.SpanLimitOverride = null; }
    }

    [TestMethod]
    public void Save_ChunkedConversion_WritesTheSameBytes()
    {
        using var tmp = new TempDir();
        using var model = JambaModel.Load(TinyDir);
        model.Save(tmp["whole"], ScalarType.BFloat16);
        SafeTensors.SpanLimitOverride = 3000;
        try { model.Save(tmp["chunked"], ScalarType.BFloat16); }
        finally { SafeTensors.SpanLimitOverride = null; }
        CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(tmp["whole"], "model.safetensors")), File.ReadAllBytes(Path.Combine(tmp["chunked"], "model.safetensors")));
    }

    [TestMethod]
    public void Init_InChunks_DrawsTheSameValuesAsWholeTensors()
    {
        var config = TestConfigs.Tiny(c => { c.VocabSize = 101; c.HiddenSize = 36; });   // 101 × 36 = 3636 elements: a tail that is not a multiple of 16
        using var whole = JambaModel.CreateNetwork(config, CPU, ScalarType.Float32);
        JambaInit.Apply(whole, config, 7);
        using var chunked = JambaModel.CreateNetwork(config, CPU, ScalarType.Float32);
        JambaInit.ChunkOverride = 48;
        try { JambaInit.Apply(chunked, config, 7); }
        finally { JambaInit.ChunkOverride = null; }
        AssertParametersEqual(whole, chunked, "chunked init");
        using var pad = whole.named_parameters().Single(p => p.name == "model.embed_tokens.weight").parameter[0];
        Assert.AreEqual(0.0, pad.abs().sum().item<float>(), "padding row is zero");
    }

    /// <summary>
    /// A quantized network's init draws each linear (the LM head too) a block of rows at a time, each block a whole
    /// number of draw chunks: its stored weights are exactly those of drawing every weight at once.
    /// </summary>
    [TestMethod]
    public void QuantizedInit_InRowBlocks_DrawsTheSameValuesAsWholeWeights()
    {
        var config = TestConfigs.Tiny(c => { c.VocabSize = 101; c.HiddenSize = 64; });
        QuantizationConfig.Set(config, QuantizationConfig.Create(JambaQuantization.Int8, lmHead: true));
        using var whole = JambaModel.CreateNetwork(config, CPU, ScalarType.Float32);
        JambaInit.Apply(whole, config, 7);
        using var blocked = JambaModel.CreateNetwork(config, CPU, ScalarType.Float32);
        JambaInit.ChunkOverride = 128;   // 2 rows of 64 per block: the 101-row head is drawn in 51 blocks
        try { JambaInit.Apply(blocked, config, 7); }
        finally { JambaInit.ChunkOverride = null; }
        var want = whole.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        foreach (var (name, b) in blocked.named_buffers())
            AssertSameTensor(want[name], b, name);
        AssertParametersEqual(whole, blocked, "blocked quantized init");
        Assert.IsTrue(want.ContainsKey("lm_head.weight_scale"), "the head is quantized too");
    }

    [TestMethod]
    public void CreateBf16_IsTheF32InitRounded()
    {
        var config = TestConfigs.Tiny();
        using var f32 = JambaModel.Create(config, seed: 5);
        using var bf16 = JambaModel.Create(config, new JambaModelOptions { DType = "bf16" }, seed: 5);
        var want = f32.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in bf16.Network.named_parameters())
        {
            Assert.AreEqual(ScalarType.BFloat16, p.dtype, name);
            using var rounded = want[name].to(ScalarType.BFloat16);
            AssertSameTensor(rounded, p, name);
        }
    }
}
