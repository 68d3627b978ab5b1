using Jamba.Engine.Cpu;
using Jamba.Inference;
using Jamba.Modeling;
using TorchSharp;
using static Jamba.Tests.Engine.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Engine;

[TestClass]
public sealed class CpuDecodeStepTests
{
    /// <summary>
    /// Decode steps of the fused whole-model step against the Modeling forward from the same prefilled cache: logits
    /// and every cache entry after each step. The products sum in another order than libtorch's, so in float32 the two
    /// agree within rounding. In bfloat16 the Modeling forward rounds every intermediate of the Mamba step to bfloat16
    /// where the engine keeps float32 from in_proj to out_proj, and on this small random model those roundings add up
    /// to several percent of the logits' range, and grow from step to step: see <see cref="Tolerance"/>.
    /// </summary>
    [TestMethod]
    public void BatchOneMatchesTheModelingForward()
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            foreach (var (name, change) in Variants)
                Compare(TestConfigs.Tiny(change), dtype, batch: 1, steps: 12, tolerance: Tolerance(dtype), $"{name} {dtype}");
    }

    /// <summary>
    /// Normwise relative error allowed between the engine and the Modeling forward in <paramref name="dtype"/>. In
    /// bfloat16 the logits' error in the first steps over the four variants and prompt seeds 7–14 averaged about 2%,
    /// whether the prefill's projections went through libtorch's product or <see cref="Jamba.Ops.BFloat16Linear"/>
    /// (which round the same sums to neighbouring bfloat16 values now and then); the largest was 6% with the first and
    /// 10% with the second (the default variant's first step, seed 7): this random model amplifies any difference.
    /// </summary>
    static double Tolerance(ScalarType dtype) => dtype == ScalarType.Float32 ? 1e-5 : 0.15;

    /// <summary>
    /// Several rows, where the Modeling MoE also groups the rows per expert: the same tolerances as one row.
    /// </summary>
    [TestMethod]
    public void SeveralRowsMatchTheModelingForward()
    {
        Compare(TestConfigs.Tiny(), ScalarType.Float32, batch: 3, steps: 8, tolerance: 1e-5, "batch 3 f32");
        Compare(TestConfigs.Tiny(), ScalarType.BFloat16, batch: 4, steps: 6, tolerance: Tolerance(ScalarType.BFloat16), "batch 4 bf16");
        // Batched generation's default batch (8), ragged, and the most rows a step takes.
        Compare(TestConfigs.Tiny(), ScalarType.Float32, batch: 8, steps: 4, tolerance: 1e-5, "ragged batch 8 f32", padding: new[] { 0, 1, 2, 3, 4, 0, 2, 1 });
        Compare(TestConfigs.Tiny(), ScalarType.BFloat16, batch: CpuDecodeStep.MaxRows, steps: 1, tolerance: Tolerance(ScalarType.BFloat16), $"batch {CpuDecodeStep.MaxRows} bf16");
    }

    /// <summary>
    /// Left-padded prompts: attention masks the padded positions with the same bias as the Modeling forward.
    /// </summary>
    [TestMethod]
    public void LeftPaddedPromptsMatchTheModelingForward()
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            Compare(TestConfigs.Tiny(), dtype, batch: 1, steps: 8, tolerance: Tolerance(dtype), $"one padded row {dtype}", padding: new[] { 2 });
        Compare(TestConfigs.Tiny(), ScalarType.Float32, batch: 3, steps: 8, tolerance: 1e-5, "ragged batch 3 f32", padding: new[] { 0, 3, 1 });
        // Prompt seed 8, not 7: with 7 the padded row's first step meets a top-2 router near-tie (logits 0.451 and 0.445
        // for the second and third expert), where the engine's float32 router logits and the Modeling forward's bfloat16
        // ones legitimately pick different experts, a discrete jump no tolerance on rounding covers.
        Compare(TestConfigs.Tiny(), ScalarType.BFloat16, batch: 2, steps: 6, tolerance: Tolerance(ScalarType.BFloat16), "ragged batch 2 bf16", padding: new[] { 4, 0 }, promptSeed: 8);
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
        var fused = new TokenGenerator(model, JambaEngine.Cpu).Generate(ids, mask, options);
        var twin = new TokenGenerator(model, JambaEngine.Reference).Generate(ids, mask, options);
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
        var fused = new TokenGenerator(model, JambaEngine.Cpu).Generate(prompt, null, options);
        var twin = new TokenGenerator(model, JambaEngine.Reference).Generate(prompt, null, options);
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
            var fused = CpuDecodeStep.Run(model, next.data<long>().ToArray(), fusedCache);
            Assert.IsNotNull(fused, $"{what}: the fused step ran");
            var twin = model.Forward(next, null, twinCache, logitsToKeep: 1).Logits;
            Close(fused, twin, Tolerance(ScalarType.Float32), what);
        }
        Step("first step");
        Step("second step (pointers reused)");
        var mixer = model.model.layers[0].mamba!;
        ((DenseLinear)mixer.in_proj).weight = new TorchSharp.Modules.Parameter(randn(((DenseLinear)mixer.in_proj).weight!.shape, generator: new Generator(8)));
        Step("after in_proj got a new weight tensor");
        var moe = (SparseMoeBlock)model.model.layers[1].feed_forward;
        ((DenseLinear)moe.experts[0].down_proj).weight = new TorchSharp.Modules.Parameter(zeros_like(((DenseLinear)moe.experts[0].down_proj).weight!));
        Step("after an expert got a new weight tensor");
        model.model.embed_tokens.weight = new TorchSharp.Modules.Parameter(randn(config.VocabSize, config.HiddenSize, generator: new Generator(9)));
        Step("after the embedding got a new weight tensor");
        // Cast: the caches no longer fit the model (another dtype), which is a clear error, never a stale read.
        model.to(ScalarType.BFloat16);
        Assert.ThrowsExactly<ArgumentException>(() => InferenceStep.LastLogits(model, JambaEngine.Cpu, randint(3, config.VocabSize, new long[] { 1, 1 }), null, fusedCache));
        using var bf16Fused = Prefilled(model, config, 1, out var _);
        using var bf16Twin = Prefilled(model, config, 1, out var _);
        using (var stepScope = NewDisposeScope())
        {
            var next = randint(3, config.VocabSize, new long[] { 1, 1 }, generator: g);
            var fused = CpuDecodeStep.Run(model, next.data<long>().ToArray(), bf16Fused);
            Assert.IsNotNull(fused, "the fused step ran after the cast");
            Close(fused, model.Forward(next, null, bf16Twin, logitsToKeep: 1).Logits, Tolerance(ScalarType.BFloat16), "after the model was cast to bf16");
        }
    }

    [TestMethod]
    public void GradientsTrainingAndLargeBatchesTakeTheModelingForward()
    {
        using var scope = NewDisposeScope();
        var config = TestConfigs.Tiny();
        var model = Model(config, ScalarType.Float32, seed: 1);
        using var cache = Prefilled(model, config, 2, out _);
        using (no_grad())
        {
            Assert.IsTrue(CpuDecodeStep.Applies(model, cache, 2));
            Assert.IsFalse(CpuDecodeStep.Applies(model, cache, 3), "rows differ from the cache's batch");
            model.train();
            Assert.IsFalse(CpuDecodeStep.Applies(model, cache, 2), "training mode");
            model.eval();
        }
        Assert.IsFalse(CpuDecodeStep.Applies(model, cache, 2), "gradients enabled");
        using var fresh = new HybridCache(config, 1, 8);
        using (no_grad()) Assert.IsFalse(CpuDecodeStep.Applies(model, fresh, 1), "Mamba states never written");
        using var big = new HybridCache(config, CpuDecodeStep.MaxRows + 1, 8);
        using (no_grad()) Assert.IsFalse(CpuDecodeStep.Applies(model, big, CpuDecodeStep.MaxRows + 1), "more rows than a step takes");
        // A left-padded prompt marks the cache as padded; the step then masks the padded keys itself.
        using var padded = new HybridCache(config, 2, 16);
        using (no_grad())
        {
            var ids = randint(3, config.VocabSize, new long[] { 2, 4 });
            var mask = tensor(new long[] { 0, 1, 1, 1, 1, 1, 1, 1 }, new long[] { 2, 4 });
            model.Forward(ids, mask, padded, logitsToKeep: 1).Dispose();
            Assert.IsTrue(padded.HasPadding);
            Assert.IsTrue(CpuDecodeStep.Applies(model, padded, 2), "padded cache");
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
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => InferenceStep.LastLogits(model, JambaEngine.Cpu, tensor(new long[] { config.VocabSize }).view(1, 1), null, cache));
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
        // new values, exactly as the Modeling forward does.
        var config = TestConfigs.Tiny();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var model = Model(config, ScalarType.Float32, seed: 4);
        var next = new long[] { 7 };
        using (var before = Prefilled(model, config, 1, out var _0)) Assert.IsNotNull(CpuDecodeStep.Run(model, next, before));
        foreach (var layer in model.model.layers)
            layer.mamba?.A_log.add_(0.25);
        using var fusedCache = Prefilled(model, config, 1, out var prompt);
        using var twinCache = new HybridCache(config, 1, 4);
        model.Forward(prompt, null, twinCache, logitsToKeep: 1).Dispose();
        var fused = CpuDecodeStep.Run(model, next, fusedCache)!;
        Close(fused, model.Forward(tensor(next, new long[] { 1, 1 }), null, twinCache, logitsToKeep: 1).Logits, Tolerance(ScalarType.Float32), "logits after A_log changed");
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
                try { single = CpuDecodeStep.Run(model, token, one); }
                finally { torch.set_num_threads(all); }
                var parallel = CpuDecodeStep.Run(model, token, several);
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
    /// <summary>Steps the engine and the Modeling forward side by side from the same prefilled cache.</summary>
    static void Compare(JambaConfig config, ScalarType dtype, int batch, int steps, double tolerance, string what, int[]? padding = null, int promptSeed = 7)
    {
        using var scope = NewDisposeScope();
        var model = Model(config, dtype, seed: 3);
        using var fusedCache = Prefilled(model, config, batch, out var prompt, padding, out var mask, promptSeed);
        using var twinCache = new HybridCache(config, batch, 4, dtype: dtype);
        using var _ = no_grad();
        model.Forward(prompt, mask, twinCache, logitsToKeep: 1).Dispose();
        Assert.AreEqual(padding?.Any(p => p > 0) ?? false, fusedCache.HasPadding, what);
        var g = new Generator(11);
        void Near(Tensor engine, Tensor twin, double tol, string part) => Close(engine, twin, tol, $"{what}: {part}");
        for (int step = 0; step < steps; step++)
        {
            using var stepScope = NewDisposeScope();
            var next = randint(3, config.VocabSize, new long[] { batch, 1 }, generator: g);
            Assert.IsTrue(CpuDecodeStep.Applies(model, fusedCache, batch), what);
            // Called directly, so a step that declined (returned null) cannot pass for one that ran.
            var fused = CpuDecodeStep.Run(model, next.data<long>().ToArray(), fusedCache);
            Assert.IsNotNull(fused, $"{what}: the fused step ran at step {step}");
            var twin = model.Forward(next, null, twinCache, logitsToKeep: 1).Logits;
            Near(fused, twin, tolerance, $"logits at step {step}");
            Assert.AreEqual(twinCache.SeqLen, fusedCache.SeqLen, what);
            for (int l = 0; l < config.NumHiddenLayers; l++)
            {
                if (config.LayerKindAt(l) == LayerKind.Attention)
                {
                    var (fk, fv) = (fusedCache.Kv(l).Storage.keys.narrow(2, 0, fusedCache.Kv(l).Length), fusedCache.Kv(l).Storage.values.narrow(2, 0, fusedCache.Kv(l).Length));
                    var (tk, tv) = (twinCache.Kv(l).Storage.keys.narrow(2, 0, twinCache.Kv(l).Length), twinCache.Kv(l).Storage.values.narrow(2, 0, twinCache.Kv(l).Length));
                    Near(fk, tk, tolerance, $"keys of layer {l} at step {step}");
                    Near(fv, tv, tolerance, $"values of layer {l} at step {step}");
                }
                else
                {
                    Near(fusedCache.Mamba(l).Conv, twinCache.Mamba(l).Conv, tolerance, $"conv state of layer {l} at step {step}");
                    Near(fusedCache.Mamba(l).Ssm, twinCache.Mamba(l).Ssm, 10 * tolerance, $"SSM state of layer {l} at step {step}");
                }
            }
        }
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

    static HybridCache Prefilled(JambaForCausalLM model, JambaConfig config, int batch, out Tensor prompt, int[]? padding, out Tensor? mask, int promptSeed = 7)
    {
        // A small capacity, so the KV buffers grow (by doubling) during the steps.
        var cache = new HybridCache(config, batch, 4, dtype: model.DType);
        prompt = randint(3, config.VocabSize, new long[] { batch, 5 }, generator: new Generator((ulong)promptSeed));
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
