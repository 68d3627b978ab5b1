using System.Text.Json.Nodes;
using Jamba.Checkpoints;
using Jamba.Engine.Cpu;
using Jamba.Modeling;
using Jamba.Quantization;
using Jamba.Tests.Checkpoints;
using TorchSharp;
using static Jamba.Tests.Checkpoints.CkptTestUtil;
using static Jamba.Tests.Engine.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Quantization;

/// <summary>
/// The quantized LM head: its <c>quantization_config</c> key and format version, checkpoints with and without it, and
/// the few-row kernel path of <see cref="QuantizedLinear.forward"/> against its tensor twin.
/// </summary>
[TestClass]
public sealed class QuantizedHeadTests
{
    private static readonly string TinyDir = Fixture("hf-jamba-tiny");

    private static JsonObject Stored(JambaConfig config) => (JsonObject)config.ExtraFields[QuantizationConfig.ConfigKey]!;

    [TestMethod]
    public void HeadKeyWritesVersionTwoAndReadsBack()
    {
        var config = TestConfigs.Tiny();
        QuantizationConfig.Set(config, QuantizationConfig.Create(JambaQuantization.Int8, lmHead: true));
        Assert.AreEqual(2, (int)Stored(config)["format_version"]!);
        Assert.IsTrue((bool)Stored(config)["lm_head"]!);
        Assert.AreEqual(QuantizationConfig.Create(JambaQuantization.Int8, lmHead: true), QuantizationConfig.Of(config));

        // q4 is version 3 (float16 scales), with or without the head.
        QuantizationConfig.Set(config, QuantizationConfig.Create(JambaQuantization.Q4, 64, lmHead: true));
        Assert.AreEqual(3, (int)Stored(config)["format_version"]!);
        Assert.AreEqual(QuantizationConfig.Create(JambaQuantization.Q4, 64, lmHead: true), QuantizationConfig.Of(config));
        QuantizationConfig.Set(config, QuantizationConfig.Create(JambaQuantization.Q4, lmHead: false));
        Assert.AreEqual(3, (int)Stored(config)["format_version"]!);

        // Without the head the file stays version 1, what every earlier reader of the format takes.
        QuantizationConfig.Set(config, QuantizationConfig.Create(JambaQuantization.Int8, lmHead: false));
        Assert.AreEqual(1, (int)Stored(config)["format_version"]!);
        Assert.IsNull(Stored(config)["lm_head"]);
        Assert.IsFalse(QuantizationConfig.Of(config)!.LmHead);
    }

    [TestMethod]
    public void HeadKeyErrorsNameTheField()
    {
        var config = TestConfigs.Tiny();
        QuantizationConfig.Set(config, QuantizationConfig.Create(JambaQuantization.Int8, lmHead: true));
        Stored(config)["format_version"] = 1;
        var e = Assert.ThrowsExactly<JambaConfigException>(() => QuantizationConfig.Of(config));
        StringAssert.Contains(e.Message, "quantization_config.lm_head");
        StringAssert.Contains(e.Message, "format_version 2");

        Stored(config)["format_version"] = 2;
        Stored(config)["lm_head"] = "yes";
        e = Assert.ThrowsExactly<JambaConfigException>(() => QuantizationConfig.Of(config));
        StringAssert.Contains(e.Message, "quantization_config.lm_head");

        Stored(config)["lm_head"] = true;
        Stored(config)["format_version"] = 4;
        e = Assert.ThrowsExactly<JambaConfigException>(() => QuantizationConfig.Of(config));
        StringAssert.Contains(e.Message, "quantization_config.format_version");
    }

    /// <summary>
    /// A checkpoint quantized with its head stores <c>lm_head.weight</c> quantized with its scale and loads as stored;
    /// one quantized without it (the version-1 layout) keeps a float head, loads as stored, and is accepted by a load
    /// that asks for its scheme without saying anything about the head.
    /// </summary>
    [TestMethod]
    public void CheckpointsWithAndWithoutTheHeadLoadAsStored()
    {
        foreach (bool head in new[] { true, false })
        {
            using var tmp = new TempDir();
            using (var q = JambaModel.Load(TinyDir, new JambaModelOptions { Quantization = JambaQuantization.Int8, QuantizeLmHead = head }))
                q.Save(tmp.Path);
            var tensors = SafeTensors.Load(tmp["model.safetensors"]);
            Assert.AreEqual(head ? ScalarType.Int8 : ScalarType.Float32, tensors["lm_head.weight"].dtype, $"head {head}: stored head dtype");
            Assert.AreEqual(head, tensors.ContainsKey("lm_head.weight_scale"), $"head {head}: head scale stored");
            DisposeAll(tensors.Values);

            using var loaded = JambaModel.Load(tmp.Path);
            Assert.AreEqual(head, loaded.Quantization!.LmHead);
            Assert.AreEqual(head, loaded.CausalLM!.lm_head is QuantizedLinear, $"head {head}: the loaded head's type");
            using var again = JambaModel.Load(tmp.Path, new JambaModelOptions { Quantization = JambaQuantization.Int8 });
            Assert.AreEqual(head, again.Quantization!.LmHead, $"head {head}: --quantize int8 takes the stored head choice");
            var e = Assert.ThrowsExactly<CheckpointException>(() => JambaModel.Load(tmp.Path, new JambaModelOptions { Quantization = JambaQuantization.Int8, QuantizeLmHead = !head }));
            StringAssert.Contains(e.Message, "disagrees");
        }
    }

    /// <summary>
    /// A quantized head is close to the float head it came from (int8 per row: within 1% normwise on the fixture's
    /// logits), and a full-precision head's model is left as it was.
    /// </summary>
    [TestMethod]
    public void QuantizedHeadLogitsAreCloseToTheFloatHead()
    {
        using var _ = no_grad();
        using var ids = tensor(new long[] { 1, 17, 230, 5, 99 }).unsqueeze(0);
        using var withHead = JambaModel.Load(TinyDir, new JambaModelOptions { Quantization = JambaQuantization.Int8, QuantizeLmHead = true });
        using var withoutHead = JambaModel.Load(TinyDir, new JambaModelOptions { Quantization = JambaQuantization.Int8, QuantizeLmHead = false });
        var a = withHead.CausalLM!.Forward(ids).Logits;
        var b = withoutHead.CausalLM!.Forward(ids).Logits;
        double rel = (a - b).norm().item<float>() / b.norm().item<float>();
        Assert.IsTrue(rel > 0 && rel < 0.01, $"int8 head vs float head: normwise relative {rel}");
    }

    /// <summary>
    /// <see cref="QuantizedLinear.forward"/> on a few CPU rows runs <see cref="DecodeLinear.TryForward"/> (the decode
    /// kernels), which must agree with <see cref="QuantizedLinear.ForwardDequantized"/>, the tensor path: float32 within
    /// 1e-5 normwise (the sums run in another order), bfloat16 within 1e-2 (both round the product to bfloat16, and a
    /// different last bit before rounding can move an output by one bfloat16 step, 0.4%). With int8 activations the
    /// integer kernels run, against the tensor path's product of the fake-quantized input: the same tolerances (the
    /// rounded inputs are the same; only the order of the float sums differs). Beyond
    /// <see cref="CpuDecodeStep.MaxRows"/> rows, and with gradients wanted, the tensor path runs.
    /// </summary>
    [TestMethod]
    public void FewRowKernelPathMatchesTheTensorPath()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var g = new Generator(5);
        foreach (var (scheme, group, inF) in new[] { (JambaQuantization.Int8, 32, 96), (JambaQuantization.Q4, 32, 96), (JambaQuantization.Q4, 64, 128), (JambaQuantization.Int8, 32, 40) })
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                foreach (bool bias in new[] { false, true })
                foreach (var activations in new[] { ActivationQuantization.None, ActivationQuantization.Int8 })
                {
                    var layer = new QuantizedLinear(inF, 37, bias, scheme, group, dtype: dtype) { Activations = activations };
                    layer.Quantize(randn(new long[] { 37, inF }, generator: g));
                    if (bias) layer.bias!.copy_(randn(new long[] { 37 }, generator: g));
                    foreach (int rows in new[] { 1, 3, CpuDecodeStep.MaxRows })
                    {
                        var x = randn(new long[] { rows, inF }, generator: g).to_type(dtype);
                        string what = $"{scheme} g{group} in {inF} {dtype} bias {bias} {activations} activations rows {rows}";
                        var fast = DecodeLinear.TryForward(x, layer);
                        Assert.IsNotNull(fast, $"{what}: the kernel path applies");
                        Close(fast, layer.ForwardDequantized(x), dtype == ScalarType.Float32 ? 1e-5 : 1e-2, what);
                        Close(layer.forward(x), layer.ForwardDequantized(x), dtype == ScalarType.Float32 ? 1e-5 : 1e-2, what + " (forward)");
                    }
                    Assert.IsNull(DecodeLinear.TryForward(randn(new long[] { CpuDecodeStep.MaxRows + 1, inF }), layer), "too many rows for the decode kernels");
                }
    }
}
