using Jamba.Inference;
using Jamba.Modeling;
using TorchSharp;
using static Jamba.Tests.Kernels.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Inference;

[TestClass]
public sealed class FusedDecodeStepTests
{
    /// <summary>
    /// Decode steps of the fused whole-model step against the layer-by-layer tensor path from the same prefilled
    /// cache: logits and every cache entry after each step. At batch 1 both run the same kernels in the same order,
    /// so they must agree to the bit in float32 and in bfloat16.
    /// </summary>
    [TestMethod]
    public void BatchOneEqualsTheTensorPathToTheBit()
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            foreach (var (name, change) in Variants)
                Compare(TestConfigs.Tiny(change), dtype, batch: 1, steps: 12, tolerance: 0, $"{name} {dtype}");
    }

    /// <summary>
    /// Several rows: the tensor path's MoE groups the rows per expert (another summation order), so the two agree
    /// within float32 rounding, and bfloat16 within a rounding of its own.
    /// </summary>
    [TestMethod]
    public void SeveralRowsMatchTheTensorPath()
    {
        Compare(TestConfigs.Tiny(), ScalarType.Float32, batch: 3, steps: 8, tolerance: 1e-5, "batch 3 f32");
        Compare(TestConfigs.Tiny(), ScalarType.BFloat16, batch: 4, steps: 6, tolerance: 3e-2, "batch 4 bf16");
        // Batched generation's default batch (8), ragged, and the most rows a step takes.
        Compare(TestConfigs.Tiny(), ScalarType.Float32, batch: 8, steps: 4, tolerance: 1e-5, "ragged batch 8 f32", padding: new[] { 0, 1, 2, 3, 4, 0, 2, 1 });
        Compare(TestConfigs.Tiny(), ScalarType.BFloat16, batch: FusedDecodeStep.MaxRows, steps: 3, tolerance: 3e-2, $"batch {FusedDecodeStep.MaxRows} bf16");
    }

    /// <summary>
    /// Left-padded prompts: attention masks the padded positions with the same bias as the tensor path, so one padded
    /// row still agrees to the bit, and ragged rows within the several-rows tolerance.
    /// </summary>
    [TestMethod]
    public void LeftPaddedPromptsMatchTheTensorPath()
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            Compare(TestConfigs.Tiny(), dtype, batch: 1, steps: 8, tolerance: 0, $"one padded row {dtype}", padding: new[] { 2 });
        Compare(TestConfigs.Tiny(), ScalarType.Float32, batch: 3, steps: 8, tolerance: 1e-5, "ragged batch 3 f32", padding: new[] { 0, 3, 1 });
        Compare(TestConfigs.Tiny(), ScalarType.BFloat16, batch: 2, steps: 6, tolerance: 3e-2, "ragged batch 2 bf16", padding: new[] { 4, 0 });
    }

    [TestMethod]
    public void GreedyGenerationOfRaggedPromptsIsUnchanged()
    {
        using var scope = NewDisposeScope();
        var config = TestConfigs.Tiny();
        var model = Model(config, ScalarType.Float32, seed: 6);
        var prompts = new[] { new[] { 5, 9, 11 }, new[] { 7, 8, 12, 13, 20, 21 } };
        var (ids, mask) = TokenGenerator.LeftPad(prompts, config.PadTokenId ?? 0);
        var options = new GenerationOptions { MaxNewTokens = 16, IgnoreStopTokens = true };
        var fused = new TokenGenerator(model).Generate(ids, mask, options);
        model.FusedDecodeStep = false;
        var twin = new TokenGenerator(model).Generate(ids, mask, options);
        model.FusedDecodeStep = true;
        for (int r = 0; r < fused.Length; r++) CollectionAssert.AreEqual(twin[r], fused[r], $"row {r}");
    }

    [TestMethod]
    public void GreedyGenerationIsUnchanged()
    {
        using var scope = NewDisposeScope();
        var config = TestConfigs.Tiny();
        var model = Model(config, ScalarType.Float32, seed: 4);
        var prompt = randint(3, config.VocabSize, new long[] { 2, 7 }, generator: new Generator(9));
        var options = new GenerationOptions { MaxNewTokens = 20, IgnoreStopTokens = true };
        var fused = new TokenGenerator(model).Generate(prompt, null, options);
        model.FusedDecodeStep = false;
        var twin = new TokenGenerator(model).Generate(prompt, null, options);
        for (int r = 0; r < fused.Length; r++) CollectionAssert.AreEqual(twin[r], fused[r], $"row {r}");
    }

    [TestMethod]
    public void NewParametersOrDtypeAfterAStepAreSeenByTheNextStep()
    {
        // A step reuses the previous step's pointers (recorded with its cache) while the modules hold the same tensors:
        // a parameter replaced between two steps on the same cache must be read afresh, never through a stale pointer.
        using var scope = NewDisposeScope();
        var config = TestConfigs.Tiny();
        var model = Model(config, ScalarType.Float32, seed: 5);
        using var _ = no_grad();
        using var fusedCache = Prefilled(model, config, 1, out var _);
        using var twinCache = Prefilled(model, config, 1, out var _);
        var g = new Generator(2);
        void Step(string what)
        {
            using var stepScope = NewDisposeScope();
            var next = randint(3, config.VocabSize, new long[] { 1, 1 }, generator: g);
            model.FusedDecodeStep = true;
            var fused = model.Forward(next, null, fusedCache, logitsToKeep: 1).Logits;
            model.FusedDecodeStep = false;
            var twin = model.Forward(next, null, twinCache, logitsToKeep: 1).Logits;
            model.FusedDecodeStep = true;
            Close(fused, twin, 0, what);
        }
        Step("first step");
        Step("second step (pointers reused)");
        var mixer = model.model.layers[0].mamba!;
        mixer.in_proj.weight = new TorchSharp.Modules.Parameter(randn(mixer.in_proj.weight!.shape, generator: new Generator(8)));
        Step("after in_proj got a new weight tensor");
        var moe = (SparseMoeBlock)model.model.layers[1].feed_forward;
        moe.experts[0].down_proj.weight = new TorchSharp.Modules.Parameter(zeros_like(moe.experts[0].down_proj.weight!));
        Step("after an expert got a new weight tensor");
        model.model.embed_tokens.weight = new TorchSharp.Modules.Parameter(randn(config.VocabSize, config.HiddenSize, generator: new Generator(9)));
        Step("after the embedding got a new weight tensor");
        // Cast: the caches no longer fit the model (another dtype), which is a clear error, never a stale read.
        model.to(ScalarType.BFloat16);
        Assert.ThrowsExactly<ArgumentException>(() => model.Forward(randint(3, config.VocabSize, new long[] { 1, 1 }), null, fusedCache, logitsToKeep: 1));
        using var bf16Fused = Prefilled(model, config, 1, out var _);
        using var bf16Twin = Prefilled(model, config, 1, out var _);
        using (var stepScope = NewDisposeScope())
        {
            var next = randint(3, config.VocabSize, new long[] { 1, 1 }, generator: g);
            var fused = model.Forward(next, null, bf16Fused, logitsToKeep: 1).Logits;
            model.FusedDecodeStep = false;
            Close(fused, model.Forward(next, null, bf16Twin, logitsToKeep: 1).Logits, 0, "after the model was cast to bf16");
            model.FusedDecodeStep = true;
        }
    }

    [TestMethod]
    public void GradientsTrainingAndLargeBatchesTakeTheTensorPath()
    {
        using var scope = NewDisposeScope();
        var config = TestConfigs.Tiny();
        var model = Model(config, ScalarType.Float32, seed: 1);
        using var cache = Prefilled(model, config, 2, out _);
        using (no_grad())
        {
            Assert.IsTrue(FusedDecodeStep.Applies(model, cache, 2));
            Assert.IsFalse(FusedDecodeStep.Applies(model, cache, 3), "rows differ from the cache's batch");
            model.train();
            Assert.IsFalse(FusedDecodeStep.Applies(model, cache, 2), "training mode");
            model.eval();
        }
        Assert.IsFalse(FusedDecodeStep.Applies(model, cache, 2), "gradients enabled");
        using var fresh = new HybridCache(config, 1, 8);
        using (no_grad()) Assert.IsFalse(FusedDecodeStep.Applies(model, fresh, 1), "Mamba states never written");
        using var big = new HybridCache(config, FusedDecodeStep.MaxRows + 1, 8);
        using (no_grad()) Assert.IsFalse(FusedDecodeStep.Applies(model, big, FusedDecodeStep.MaxRows + 1), "more rows than a step takes");
        // A left-padded prompt marks the cache as padded; the step then masks the padded keys itself.
        using var padded = new HybridCache(config, 2, 16);
        using (no_grad())
        {
            var ids = randint(3, config.VocabSize, new long[] { 2, 4 });
            var mask = tensor(new long[] { 0, 1, 1, 1, 1, 1, 1, 1 }, new long[] { 2, 4 });
            model.Forward(ids, mask, padded, logitsToKeep: 1).Dispose();
            Assert.IsTrue(padded.HasPadding);
            Assert.IsTrue(FusedDecodeStep.Applies(model, padded, 2), "padded cache");
        }
    }

    [TestMethod]
    public void CacheOfAnotherDtypeOrBatchIsAClearError()
    {
        using var scope = NewDisposeScope();
        var config = TestConfigs.Tiny();
        var model = Model(config, ScalarType.BFloat16, seed: 2);
        using var f32Cache = new HybridCache(config, 1, 8);
        using var _ = no_grad();
        var ids = randint(3, config.VocabSize, new long[] { 1, 3 });
        var e = Assert.ThrowsExactly<ArgumentException>(() => model.Forward(ids, null, f32Cache));
        StringAssert.Contains(e.Message, "Float32");
        using var wide = new HybridCache(config, 2, 8, dtype: ScalarType.BFloat16);
        e = Assert.ThrowsExactly<ArgumentException>(() => model.Forward(ids, null, wide));
        StringAssert.Contains(e.Message, "2 rows");
    }

    [TestMethod]
    public void TokenOutsideTheVocabularyIsAClearErrorAndLeavesTheCacheAlone()
    {
        using var scope = NewDisposeScope();
        var config = TestConfigs.Tiny();
        var model = Model(config, ScalarType.Float32, seed: 2);
        using var cache = Prefilled(model, config, 1, out var _);
        long seqLen = cache.SeqLen, kvLength = cache.Kv(config.AttnLayerOffset).Length;
        using var noGrad = no_grad();
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.Forward(tensor(new long[] { config.VocabSize }).view(1, 1), null, cache, logitsToKeep: 1));
        StringAssert.Contains(e.Message, $"{config.VocabSize}");
        Assert.AreEqual(seqLen, cache.SeqLen);
        Assert.AreEqual(kvLength, cache.Kv(config.AttnLayerOffset).Length);
    }

    // Configurations the step must handle: the test default (GQA, MoE on odd layers, inner norms, conv bias), no inner
    // norms with in/out projection biases, no conv bias with tied embeddings, plain multi-head attention, one expert.
    [TestMethod]
    public void ANewCacheSeesParametersChangedInPlace()
    {
        // A = −exp(A_log) is computed once per cache: a generation started after A_log changed in place must use the
        // new values, exactly as the tensor path does.
        var config = TestConfigs.Tiny();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var model = Model(config, ScalarType.Float32, seed: 4);
        var next = new long[] { 7 };
        using (var before = Prefilled(model, config, 1, out var _0)) Assert.IsNotNull(FusedDecodeStep.Run(model, next, before));
        foreach (var layer in model.model.layers)
            layer.mamba?.A_log.add_(0.25);
        using var fusedCache = Prefilled(model, config, 1, out var prompt);
        using var twinCache = new HybridCache(config, 1, 4);
        model.Forward(prompt, null, twinCache, logitsToKeep: 1).Dispose();
        var fused = FusedDecodeStep.Run(model, next, fusedCache)!;
        model.FusedDecodeStep = false;
        try { Close(fused, model.Forward(tensor(next, new long[] { 1, 1 }), null, twinCache, logitsToKeep: 1).Logits, 0, "logits after A_log changed"); }
        finally { model.FusedDecodeStep = true; }
    }

    [TestMethod]
    public void StepsGiveTheSameBitsOnOneThreadAndOnSeveral()
    {
        // Large enough that every product, MLP and the Mamba step split their work across threads, with a cache long
        // enough for attention to be cut into several runs: the logits and states must not depend on the thread count.
        var config = TestConfigs.Tiny(c => { c.HiddenSize = 256; c.IntermediateSize = 512; c.MambaDState = 16; c.VocabSize = 300; });
        int all = torch.get_num_threads();
        if (Math.Min(all, Environment.ProcessorCount) < 2) Assert.Inconclusive("needs at least two threads");
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var model = Model(config, dtype, seed: 5);
            var prompt = randint(3, config.VocabSize, new long[] { 1, 150 }, generator: new Generator(8));
            using var one = new HybridCache(config, 1, 160, dtype: dtype);
            using var several = new HybridCache(config, 1, 160, dtype: dtype);
            model.Forward(prompt, null, one, logitsToKeep: 1).Dispose();
            model.Forward(prompt, null, several, logitsToKeep: 1).Dispose();
            for (int step = 0; step < 4; step++)
            {
                var token = new long[] { 3 + 37 * step };
                Tensor? single;
                torch.set_num_threads(1);
                try { single = FusedDecodeStep.Run(model, token, one); }
                finally { torch.set_num_threads(all); }
                var parallel = FusedDecodeStep.Run(model, token, several);
                Assert.IsNotNull(single, $"{dtype}: the fused step ran");
                Close(parallel!, single, 0, $"{dtype}: logits at step {step}, {all} threads against 1");
                for (int l = 0; l < config.NumHiddenLayers; l++)
                    if (config.LayerKindAt(l) == LayerKind.Mamba)
                        Close(several.Mamba(l).Ssm, one.Mamba(l).Ssm, 0, $"{dtype}: SSM state of layer {l} at step {step}");
            }
        }
    }

    static readonly (string name, Action<JambaConfig>? change)[] Variants =
    {
        ("default", null),
        ("no inner norms, proj bias", c => { c.MambaInnerLayerNorms = false; c.MambaProjBias = true; }),
        ("no conv bias, tied", c => { c.MambaConvBias = false; c.TieWordEmbeddings = true; }),
        ("multi-head, dense", c => { c.NumKeyValueHeads = c.NumAttentionHeads; c.NumExperts = 1; c.NumExpertsPerTok = 1; }),
    };

    /// <param name="padding">Per row, how many of the prompt's first positions are padding (null: none).</param>
    static void Compare(JambaConfig config, ScalarType dtype, int batch, int steps, double tolerance, string what, int[]? padding = null)
    {
        using var scope = NewDisposeScope();
        var model = Model(config, dtype, seed: 3);
        using var fusedCache = Prefilled(model, config, batch, out var prompt, padding, out var mask);
        using var twinCache = new HybridCache(config, batch, 4, dtype: dtype);
        using var _ = no_grad();
        model.Forward(prompt, mask, twinCache, logitsToKeep: 1).Dispose();
        Assert.AreEqual(padding?.Any(p => p > 0) ?? false, fusedCache.HasPadding, what);
        var g = new Generator(11);
        for (int step = 0; step < steps; step++)
        {
            using var stepScope = NewDisposeScope();
            var next = randint(3, config.VocabSize, new long[] { batch, 1 }, generator: g);
            Assert.IsTrue(FusedDecodeStep.Applies(model, fusedCache, batch), what);
            // Called directly, so a step that declined (returned null) cannot pass for one that ran.
            var fused = FusedDecodeStep.Run(model, next.data<long>().ToArray(), fusedCache);
            Assert.IsNotNull(fused, $"{what}: the fused step ran at step {step}");
            model.FusedDecodeStep = false;
            var twin = model.Forward(next, null, twinCache, logitsToKeep: 1).Logits;
            Close(fused, twin, tolerance, $"{what}: logits at step {step}");
            Assert.AreEqual(twinCache.SeqLen, fusedCache.SeqLen, what);
            for (int l = 0; l < config.NumHiddenLayers; l++)
            {
                if (config.LayerKindAt(l) == LayerKind.Attention)
                {
                    var (fk, fv) = (fusedCache.Kv(l).Storage.keys.narrow(2, 0, fusedCache.Kv(l).Length), fusedCache.Kv(l).Storage.values.narrow(2, 0, fusedCache.Kv(l).Length));
                    var (tk, tv) = (twinCache.Kv(l).Storage.keys.narrow(2, 0, twinCache.Kv(l).Length), twinCache.Kv(l).Storage.values.narrow(2, 0, twinCache.Kv(l).Length));
                    Close(fk, tk, tolerance, $"{what}: keys of layer {l} at step {step}");
                    Close(fv, tv, tolerance, $"{what}: values of layer {l} at step {step}");
                }
                else
                {
                    Close(fusedCache.Mamba(l).Conv, twinCache.Mamba(l).Conv, tolerance, $"{what}: conv state of layer {l} at step {step}");
                    Close(fusedCache.Mamba(l).Ssm, twinCache.Mamba(l).Ssm, tolerance == 0 ? 0 : 10 * tolerance, $"{what}: SSM state of layer {l} at step {step}");
                }
            }
        }
        model.FusedDecodeStep = true;
    }

    static JambaForCausalLM Model(JambaConfig config, ScalarType dtype, int seed)
    {
        var model = new JambaForCausalLM(config);
        JambaInit.Apply(model, config, seed);
        model.to(dtype);
        model.eval();
        return model;
    }

    static HybridCache Prefilled(JambaForCausalLM model, JambaConfig config, int batch, out Tensor prompt) =>
        Prefilled(model, config, batch, out prompt, null, out _);

    static HybridCache Prefilled(JambaForCausalLM model, JambaConfig config, int batch, out Tensor prompt, int[]? padding, out Tensor? mask)
    {
        // A small capacity, so the KV buffers grow (by doubling) during the steps.
        var cache = new HybridCache(config, batch, 4, dtype: model.HeadWeight.dtype);
        prompt = randint(3, config.VocabSize, new long[] { batch, 5 }, generator: new Generator(7));
        mask = null;
        if (padding is not null)
        {
            var m = new long[batch * 5];
            for (int r = 0; r < batch; r++)
                for (int t = 0; t < 5; t++) m[r * 5 + t] = t < padding[r] ? 0 : 1;
            mask = tensor(m, new long[] { batch, 5 });
            prompt = prompt.masked_fill(mask.eq(0), config.PadTokenId ?? 0);
        }
        using var _ = no_grad();
        model.Forward(prompt, mask, cache, logitsToKeep: 1).Dispose();
        return cache;
    }
}
