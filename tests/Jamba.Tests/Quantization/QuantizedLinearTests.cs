using Jamba.Engine.Cpu;
using Jamba.Modeling;
using Jamba.Ops;
using Jamba.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Tests.Quantization;

[TestClass]
public sealed class QuantizedLinearTests
{
    /// <summary>The state-dict keys are the linear's plus <c>weight_scale</c>, all buffers (nothing to train).</summary>
    [TestMethod]
    public void BuffersAreWeightScaleAndBias()
    {
        using var q = new QuantizedLinear(64, 10, hasBias: true, JambaQuantization.Q4, 32, dtype: ScalarType.BFloat16);
        Assert.AreEqual(0, q.parameters().Count());
        var buffers = q.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        CollectionAssert.AreEquivalent(new[] { "weight", "weight_scale", "bias" }, buffers.Keys.ToArray());
        Assert.AreEqual(ScalarType.Byte, buffers["weight"].dtype);
        CollectionAssert.AreEqual(new long[] { 10, 32 }, buffers["weight"].shape);
        CollectionAssert.AreEqual(new long[] { 10, 2 }, buffers["weight_scale"].shape);
        Assert.AreEqual(ScalarType.Float16, buffers["weight_scale"].dtype, "q4 scales are float16");
        Assert.AreEqual(ScalarType.BFloat16, buffers["bias"].dtype);
        Assert.AreEqual(10 * 32 + 10 * 2 * 2 + 10 * 2, q.StoredBytes);
    }

    /// <summary>
    /// Q4 needs in_features to be a multiple of the group size; otherwise (odd, or 48 with G = 32) the layer is
    /// stored as int8, which its weight's dtype records.
    /// </summary>
    [TestMethod]
    public void Q4FallsBackToInt8WhenGroupsDoNotTileTheRow()
    {
        foreach (var (inFeatures, g, expected) in new[] { (37L, 32, JambaQuantization.Int8), (48L, 32, JambaQuantization.Int8), (64L, 32, JambaQuantization.Q4), (96L, 64, JambaQuantization.Int8), (128L, 64, JambaQuantization.Q4) })
        {
            using var q = new QuantizedLinear(inFeatures, 5, false, JambaQuantization.Q4, g);
            Assert.AreEqual(expected, q.Scheme, $"in {inFeatures}, G {g}");
            Assert.AreEqual(Quantizer.WeightDType(expected), q.weight.dtype);
            q.Quantize(randn(5, inFeatures, generator: new Generator(2)));
            var x = randn(3, inFeatures, generator: new Generator(3));
            var deq = Dequantize.Reference(q.weight, q.weight_scale, ScalarType.Float32);
            Assert.IsTrue(q.forward(x).allclose(x.matmul(deq.t()), rtol: 1e-5, atol: 1e-6));
        }
    }

    /// <summary>forward(x) = x · dequantize(weight)ᵀ + bias, and FromLinear keeps the bias and quantizes the weight.</summary>
    [TestMethod]
    public void ForwardIsTheLinearOfTheDequantizedWeight()
    {
        using var linear = nn.Linear(64, 24, hasBias: true);
        using (no_grad()) linear.bias!.normal_(generator: new Generator(4));
        foreach (var scheme in new[] { JambaQuantization.Int8, JambaQuantization.Q4 })
        {
            using var q = QuantizedLinear.FromLinear(linear, scheme, 32);
            Assert.AreEqual(scheme, q.Scheme);
            var x = randn(2, 5, 64, generator: new Generator(5));
            var expected = nn.functional.linear(x, q.Dequantized(ScalarType.Float32), linear.bias);
            Assert.IsTrue(q.forward(x).allclose(expected, rtol: 1e-6, atol: 1e-6));
            // Close to the float layer: int8 keeps ~1% of the output's scale, 4-bit ~15%.
            double rel = (q.forward(x) - linear.forward(x)).norm().item<float>() / linear.forward(x).norm().item<float>();
            Assert.IsTrue(rel < (scheme == JambaQuantization.Int8 ? 0.01 : 0.15), $"{scheme}: relative error {rel}");
        }
    }

    /// <summary>A wrongly shaped float weight is refused naming both shapes.</summary>
    [TestMethod]
    public void QuantizeRefusesAWrongShape()
    {
        using var q = new QuantizedLinear(64, 8, false, JambaQuantization.Int8);
        var e = Assert.ThrowsExactly<ArgumentException>(() => q.Quantize(randn(8, 63)));
        StringAssert.Contains(e.Message, "[8, 64]");
        StringAssert.Contains(e.Message, "[8, 63]");
    }

    /// <summary>
    /// A config with a quantization_config builds every decoder linear quantized, and the LM head when it says so (and
    /// nothing else): the MoE router, the embeddings, norms, conv, A_log and D stay parameters in the model's dtype, and
    /// the network's bytes are exactly the quantized layout's.
    /// </summary>
    [TestMethod]
    public void QuantizedConfigBuildsQuantizedDecoderLinearsOnly()
    {
        foreach (var (scheme, head) in new[] { (JambaQuantization.Int8, false), (JambaQuantization.Q4, false), (JambaQuantization.Int8, true), (JambaQuantization.Q4, true) })
        {
            var config = TestConfigs.Tiny();
            QuantizationConfig.Set(config, QuantizationConfig.Create(scheme, 32, lmHead: head));
            using var lm = new JambaForCausalLM(config);
            var quantized = lm.named_modules().Where(m => m.module is QuantizedLinear).Select(m => m.name).ToList();
            var linears = lm.named_modules().Where(m => m.module is Linear or DenseLinear).Select(m => m.name).ToList();
            Assert.IsTrue(quantized.Count > 0);
            Assert.IsTrue(linears.All(n => n.EndsWith("router") || (n == "lm_head" && !head)), string.Join(", ", linears));
            Assert.AreEqual(head, quantized.Contains("lm_head"), $"{scheme}: the head is quantized exactly when the config says so");
            Assert.IsTrue(lm.named_parameters().All(p => !p.name.EndsWith("_proj.weight")), "no float projection weight exists");

            long expected = 0;
            foreach (var (name, shape) in Jamba.Checkpoints.CheckpointValidation.ExpectedTensors(TestConfigs.Tiny()))
            {
                long n = shape.Aggregate(1L, (a, b) => a * b);
                if (name.EndsWith("_proj.weight") || (head && name == "lm_head.weight"))
                {
                    var s = Quantizer.SchemeFor(shape[1], scheme, 32);
                    expected += s == JambaQuantization.Q4 ? n / 2 + 2 * (n / 32) : n + 4 * shape[0];
                }
                else expected += 4 * n;
            }
            long actual = lm.parameters().Sum(p => p.NumberOfElements * p.ElementSize) + lm.buffers().Sum(b => b.NumberOfElements * b.ElementSize);
            Assert.AreEqual(expected, actual, $"{scheme}, head {head}: parameter + buffer bytes");
            var scaleTypes = Jamba.Checkpoints.CheckpointValidation.QuantizedDTypes(config).ToDictionary(t => t.name, t => t.dtype);
            Assert.AreEqual(expected, Jamba.Checkpoints.CheckpointValidation.ExpectedTensors(config)
                .Sum(t => t.shape.Aggregate(1L, (a, b) => a * b) * (t.name.EndsWith("_scale") ? (scaleTypes[t.name] == "F16" ? 2 : 4) : QuantizationConfig.Of(config)!.Quantizes(t.name) ? 1 : 4)),
                $"{scheme}, head {head}: the expected tensors list the same bytes");
        }
    }

    /// <summary>
    /// A network quantized from a float one computes logits close to the float network's, and the CPU engine's fused
    /// decode step takes it. The
    /// tolerances are for this random, untrained 5-layer model with 32-wide rows, where errors compound freely: rounding
    /// its weights to bfloat16 moves the logits by 1.3% (normwise), int8 by 5%, 4-bit (one group per row) by 47%.
    /// </summary>
    [TestMethod]
    public void QuantizedNetworkIsCloseToTheFloatNetwork()
    {
        var config = TestConfigs.Tiny();
        using var f32 = new JambaForCausalLM(config);
        JambaInit.Apply(f32, config, seed: 7);
        f32.eval();
        var ids = randint(3, config.VocabSize, new long[] { 2, 11 }, generator: new Generator(8));
        using var _ = no_grad();
        var reference = f32.Forward(ids).Logits;
        foreach (var (scheme, tolerance) in new[] { (JambaQuantization.Int8, 0.08), (JambaQuantization.Q4, 0.7) })
        {
            var qconfig = config.Clone();
            QuantizationConfig.Set(qconfig, QuantizationConfig.Create(scheme, 32));
            using var q = new JambaForCausalLM(qconfig);
            CopyQuantizing(f32, q);
            q.eval();
            var logits = q.Forward(ids).Logits;
            double rel = (logits - reference).norm().item<float>() / reference.norm().item<float>();
            Assert.IsTrue(rel < tolerance, $"{scheme}: normwise relative logits error {rel}");
            Assert.IsTrue(rel > 0, $"{scheme}: the weights were actually quantized");

            using var cache = new HybridCache(qconfig, 1);
            q.Forward(ids.narrow(0, 0, 1), null, cache).Dispose();
            // The fused decode step takes quantized models (Engine/QuantizedDecodeTests compares it with the Modeling forward).
            Assert.IsTrue(CpuDecodeStep.Applies(q, cache, 1), "the fused decode step takes quantized models");
        }
    }

    /// <summary>Copies a float network into a quantized one of the same config: projections quantized, the rest copied.</summary>
    internal static void CopyQuantizing(nn.Module source, nn.Module target)
    {
        using var _ = no_grad();
        var modules = source.named_modules().ToDictionary(m => m.name, m => m.module);
        foreach (var (name, m) in target.named_modules())
            if (m is QuantizedLinear q)
            {
                var linear = (DenseLinear)modules[name];
                q.Quantize(linear.weight!);
                if (linear.bias is not null) q.bias!.copy_(linear.bias);
            }
        var parameters = source.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in target.named_parameters()) p.copy_(parameters[name]);
    }
}
