using Jamba.Engine.Cpu;
using Jamba.Inference;
using Jamba.Modeling;
using Jamba.Ops;
using Jamba.Quantization;
using TorchSharp;
using static Jamba.Tests.Engine.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Engine;

/// <summary>
/// The CPU engine's decode step on int8 and q4 models against the Modeling forward (which dequantizes every
/// projection and multiplies with libtorch), from the same prefilled cache, over greedy steps. The tiny config's
/// rows mix the schemes: under q4 (group 32) its 32- and 64-wide inputs are q4, its 48- and 4-wide ones int8; under
/// group 64 only the 64-wide ones (Mamba's x_proj and out_proj) are q4.
/// Tolerances (normwise relative, on the logits): float32 1e-5 — the engine applies an int8 row's scale to the sum
/// where the Modeling forward multiplies dequantized weights, so the two differ by rounding only (about 1e-6 here);
/// bfloat16 1e-1 — as for unquantized bfloat16 models (<see cref="CpuDecodeStepTests"/>), the Modeling forward rounds
/// each Mamba intermediate to bfloat16 where the engine keeps float32, and here it also rounds the dequantized weights
/// to bfloat16 where the engine uses q · s exactly: 1–6% of the logits on this random model. The strict checks are
/// float32 and the bit-equality across thread counts.
/// </summary>
[TestClass]
public sealed class QuantizedDecodeTests
{
    static double Tolerance(ScalarType dtype) => dtype == ScalarType.Float32 ? 1e-5 : 1e-1;

    static JambaForCausalLM Model(JambaConfig config, JambaQuantization scheme, int group, ScalarType dtype, int seed,
        ActivationQuantization activations = ActivationQuantization.None)
    {
        var q = config.Clone();
        QuantizationConfig.Set(q, QuantizationConfig.Create(scheme, group));
        var model = new JambaForCausalLM(q, dtype: dtype);
        JambaInit.Apply(model, q, seed);
        model.eval();
        QuantizedLinear.SetActivations(model, activations);
        Assert.IsTrue(model.named_modules().Any(m => m.module is QuantizedLinear), "the model is quantized");
        return model;
    }

    /// <summary>
    /// Greedy steps from a prompt: each step's logits within tolerance of the Modeling forward's, the greedy ids
    /// identical (the next token of both is the Modeling forward's argmax), and every step taken by the engine itself.
    /// </summary>
    static void Compare(JambaConfig config, JambaQuantization scheme, int group, ScalarType dtype, int batch, int steps, string what, bool greedy,
        ActivationQuantization activations = ActivationQuantization.None, double? tolerance = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var model = Model(config, scheme, group, dtype, seed: 3, activations);
        var prompt = randint(3, config.VocabSize, new long[] { batch, 5 }, generator: new Generator(7));
        using var engineCache = new HybridCache(config, batch, 4, dtype: dtype);
        using var twinCache = new HybridCache(config, batch, 4, dtype: dtype);
        var engine = model.Forward(prompt, null, engineCache, logitsToKeep: 1).Logits.select(1, 0);
        var twin = model.Forward(prompt, null, twinCache, logitsToKeep: 1).Logits.select(1, 0);
        var g = new Generator(11);
        for (int step = 0; step < steps; step++)
        {
            var next = greedy ? twin.argmax(-1) : randint(3, config.VocabSize, new long[] { batch }, generator: g);
            if (greedy && step > 0)
                CollectionAssert.AreEqual(next.data<long>().ToArray(), engine.argmax(-1).data<long>().ToArray(), $"{what}: greedy ids before step {step}");
            Assert.IsTrue(CpuDecodeStep.Applies(model, engineCache, batch), $"{what}: the engine takes step {step}");
            var fused = CpuDecodeStep.Run(model, next.data<long>().ToArray(), engineCache);
            Assert.IsNotNull(fused, $"{what}: the engine ran step {step}");
            engine = fused.select(1, 0);
            twin = model.Forward(next.unsqueeze(1), null, twinCache, logitsToKeep: 1).Logits.select(1, 0);
            Close(engine, twin, tolerance ?? Tolerance(dtype), $"{what}: logits after step {step}");
        }
    }

    [TestMethod]
    public void Float32DecodeMatchesTheModelingForward()
    {
        foreach (var (scheme, group) in new[] { (JambaQuantization.Int8, 32), (JambaQuantization.Q4, 32), (JambaQuantization.Q4, 64) })
        {
            Compare(TestConfigs.Tiny(), scheme, group, ScalarType.Float32, batch: 1, steps: 10, $"{scheme} g{group} f32", greedy: true);
            Compare(TestConfigs.Tiny(), scheme, group, ScalarType.Float32, batch: 3, steps: 10, $"{scheme} g{group} f32 batch 3", greedy: true);
        }
        // Attention and Mamba projections with biases, and a dense (one-expert) MLP.
        Compare(TestConfigs.Tiny(c => { c.MambaProjBias = true; c.NumExperts = 1; c.NumExpertsPerTok = 1; }), JambaQuantization.Q4, 32,
            ScalarType.Float32, batch: 2, steps: 6, "q4 f32 proj bias, dense", greedy: true);
    }

    [TestMethod]
    public void BFloat16DecodeMatchesTheModelingForward()
    {
        foreach (var scheme in new[] { JambaQuantization.Int8, JambaQuantization.Q4 })
        {
            Compare(TestConfigs.Tiny(), scheme, 32, ScalarType.BFloat16, batch: 1, steps: 10, $"{scheme} bf16", greedy: false);
            // Several rows on the dense variant: with experts, a row whose router logits are near a tie now and then picks
            // another expert in the two forwards (seen as single steps at 20–60% that fall back the step after).
            Compare(TestConfigs.Tiny(c => { c.NumExperts = 1; c.NumExpertsPerTok = 1; }), scheme, 32, ScalarType.BFloat16, batch: 4, steps: 12, $"{scheme} bf16 batch 4 dense", greedy: false);
        }
    }

    /// <summary>
    /// With int8 activations (every 32-wide input quantized, in the engine by the integer kernels, in the Modeling forward
    /// by <see cref="Quantizer.FakeQuantizeActivations"/>): float32 logits within 1e-3 normwise — the two compute each
    /// input in another order, and an input that lands within rounding of a .5 step of its block rounds to the
    /// neighbouring int8 value in one of them, moving a product by s_x · |w|; bfloat16 within the unquantized-activation
    /// tolerance. Group 64 takes the tiny config's 64-wide inputs only; the others stay int8 weights.
    /// </summary>
    [TestMethod]
    public void Int8ActivationDecodeMatchesTheModelingForward()
    {
        var wide = TestConfigs.Tiny(c => { c.HiddenSize = 64; c.IntermediateSize = 96; c.MambaDtRankValue = 32; });
        foreach (var (scheme, group) in new[] { (JambaQuantization.Int8, 32), (JambaQuantization.Q4, 32), (JambaQuantization.Q4, 64) })
            foreach (var config in new[] { TestConfigs.Tiny(), wide })
            {
                string what = $"{scheme} g{group} hidden {config.HiddenSize} int8 activations";
                Compare(config, scheme, group, ScalarType.Float32, batch: 1, steps: 10, $"{what} f32", greedy: true, ActivationQuantization.Int8, 1e-3);
                Compare(config, scheme, group, ScalarType.Float32, batch: 3, steps: 6, $"{what} f32 batch 3", greedy: true, ActivationQuantization.Int8, 1e-3);
            }
        Compare(TestConfigs.Tiny(c => { c.NumExperts = 1; c.NumExpertsPerTok = 1; c.HiddenSize = 64; c.IntermediateSize = 96; }), JambaQuantization.Q4, 32,
            ScalarType.BFloat16, batch: 2, steps: 8, "q4 bf16 dense int8 activations", greedy: false, ActivationQuantization.Int8);
    }

    /// <summary>
    /// Cached decoding with int8 activations against a full forward of the whole sequence so far (no cache), at every
    /// step: the engine's logits within 2e-2 normwise (float32). Looser than the test above, where both sides read the
    /// same cache: here the full forward recomputes every position (libtorch's scan and matmuls, in another order), and
    /// an input that lands within rounding of a half step of its block's int8 grid can round the other way, moving
    /// that activation by a whole step (1/127 of its block's largest value); with the LM head quantized too, a few such
    /// flips reach 1% of the logits. A wrong scale, block or offset moves them by tens of percent.
    /// </summary>
    [TestMethod]
    public void Int8ActivationCachedDecodingMatchesAFullForward()
    {
        foreach (var scheme in new[] { JambaQuantization.Int8, JambaQuantization.Q4 })
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var config = TestConfigs.Tiny(c => { c.HiddenSize = 64; c.IntermediateSize = 96; });
            var model = Model(config, scheme, 32, ScalarType.Float32, seed: 6, ActivationQuantization.Int8);
            var ids = randint(3, config.VocabSize, new long[] { 2, 12 }, generator: new Generator(5));
            using var cache = new HybridCache(config, 2, 4);
            model.Forward(ids.narrow(1, 0, 5), null, cache, logitsToKeep: 1).Dispose();
            for (int t = 5; t < 12; t++)
            {
                var step = CpuDecodeStep.Run(model, ids.select(1, t).data<long>().ToArray(), cache);
                Assert.IsNotNull(step, $"{scheme}: the engine ran position {t}");
                var full = model.Forward(ids.narrow(1, 0, t + 1), null, null, logitsToKeep: 1).Logits.select(1, 0);
                Close(step.select(1, 0), full, 2e-2, $"{scheme}: logits at position {t} against a full forward");
            }
        }
    }

    /// <summary>Token generation through the engine gives the Modeling forward's greedy ids (float32).</summary>
    [TestMethod]
    public void GreedyGenerationEqualsTheModelingForward()
    {
        foreach (var scheme in new[] { JambaQuantization.Int8, JambaQuantization.Q4 })
        {
            using var scope = NewDisposeScope();
            var config = TestConfigs.Tiny();
            var model = Model(config, scheme, 32, ScalarType.Float32, seed: 4);
            var prompt = randint(3, config.VocabSize, new long[] { 2, 7 }, generator: new Generator(9));
            var options = new GenerationOptions { MaxNewTokens = 12, IgnoreStopTokens = true };
            var fused = new TokenGenerator(model, JambaEngine.Cpu).Generate(prompt, null, options);
            var twin = new TokenGenerator(model, JambaEngine.Reference).Generate(prompt, null, options);
            for (int r = 0; r < fused.Length; r++) CollectionAssert.AreEqual(twin[r], fused[r], $"{scheme}: row {r}");
        }
    }

    [TestMethod]
    public void StepsGiveTheSameBitsOnOneThreadAndOnSeveral()
    {
        // Large enough that every product and MLP splits its work across threads.
        var config = TestConfigs.Tiny(c => { c.HiddenSize = 256; c.IntermediateSize = 512; c.MambaDState = 16; c.VocabSize = 300; });
        int all = torch.get_num_threads();
        if (Math.Min(all, Environment.ProcessorCount) < 2) Assert.Inconclusive("needs at least two threads");
        foreach (var scheme in new[] { JambaQuantization.Int8, JambaQuantization.Q4 })
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var model = Model(config, scheme, 32, dtype, seed: 5);
                var prompt = randint(3, config.VocabSize, new long[] { 2, 20 }, generator: new Generator(8));
                using var one = new HybridCache(config, 2, 32, dtype: dtype);
                using var several = new HybridCache(config, 2, 32, dtype: dtype);
                model.Forward(prompt, null, one, logitsToKeep: 1).Dispose();
                model.Forward(prompt, null, several, logitsToKeep: 1).Dispose();
                for (int step = 0; step < 3; step++)
                {
                    var tokens = new long[] { 3 + 37 * step, 5 + 11 * step };
                    Tensor? single;
                    torch.set_num_threads(1);
                    try { single = CpuDecodeStep.Run(model, tokens, one); }
                    finally { torch.set_num_threads(all); }
                    var parallel = CpuDecodeStep.Run(model, tokens, several);
                    Assert.IsNotNull(single, $"{scheme} {dtype}: the fused step ran");
                    Close(parallel!, single, 0, $"{scheme} {dtype}: logits at step {step}, {all} threads against 1");
                }
            }
    }

    /// <summary><see cref="Dequantize.Forward"/> (the CPU kernel) equals its tensor twin bit for bit, in float32 and bfloat16.</summary>
    [TestMethod]
    public void DequantizeForwardEqualsReference()
    {
        using var scope = NewDisposeScope();
        foreach (var (inF, scheme, group) in new[] { (96L, JambaQuantization.Int8, 32), (100L, JambaQuantization.Int8, 32), (256L, JambaQuantization.Q4, 32), (256L, JambaQuantization.Q4, 64), (60L, JambaQuantization.Q4, 6) })
        {
            using var q = new QuantizedLinear(inF, 300, false, scheme, group);
            q.Quantize(randn(300, inF, generator: new Generator(3)));
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                var fast = Dequantize.Forward(q.weight, q.weight_scale, dtype);
                var twin = Dequantize.Reference(q.weight, q.weight_scale, dtype);
                Assert.AreEqual(dtype, fast.dtype);
                Assert.IsTrue(fast.to_type(ScalarType.Float32).eq(twin.to_type(ScalarType.Float32)).all().item<bool>(), $"in {inF}, {scheme}, group {group}, {dtype}");
            }
        }
    }
}
