using Jamba.Engine.Cpu;
using Jamba.Inference;
using Jamba.Modeling;
using TorchSharp;
using static Jamba.Tests.Engine.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Engine;

/// <summary>
/// The CPU engine against the Modeling forward (the reference it must equal) on every causal-LM parity fixture:
/// greedy ids identical, and float32 logits within a normwise relative error of <see cref="LogitsTolerance"/> at the
/// prompt and after every decode step. The engine's products sum in another order than libtorch's, so the two are
/// not bit-equal; they are far closer than either is to the transformers reference (1e-4).
/// </summary>
[TestClass]
public sealed class EngineParityTests
{
    /// <summary>Largest max|engine − reference| / max|reference| allowed on a step's logits.</summary>
    private const double LogitsTolerance = 1e-5;

    private const int Steps = 10;

    public static IEnumerable<object[]> Cases =>
        new[] { "hf-jamba-tiny", "hf-jamba-tiny-padded" }
            .Concat(Directory.GetDirectories(ReferenceCase.FixturePath("generated")).Select(d => Path.Combine("generated", Path.GetFileName(d))).OrderBy(n => n))
            .Where(n => !JambaConfig.Load(ReferenceCase.FixturePath(n, "config.json")).IsSequenceClassifier)
            .Select(n => new object[] { n });

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void CpuEngineMatchesTheModelingForward(string name)
    {
        using var c = new ReferenceCase(name);
        using var model = c.CausalLM();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long rows = c.InputIds.size(0);
        using var engineCache = new HybridCache(c.Config, rows, 4);      // small, so the KV buffers grow during the steps
        using var referenceCache = new HybridCache(c.Config, rows, 4);
        var engine = InferenceStep.LastLogits(model, JambaEngine.Cpu, c.InputIds, c.AttentionMask, engineCache);
        var reference = InferenceStep.LastLogits(model, JambaEngine.Reference, c.InputIds, c.AttentionMask, referenceCache);
        Close(engine, reference, LogitsTolerance, $"{name}: prompt logits");
        for (int step = 0; step < Steps; step++)
        {
            var next = reference.argmax(-1);
            CollectionAssert.AreEqual(next.data<long>().ToArray(), engine.argmax(-1).data<long>().ToArray(), $"{name}: greedy ids before step {step}");
            // The fused step itself, so a step that fell back to the Modeling forward cannot pass for one the engine ran.
            Assert.IsTrue(CpuDecodeStep.Applies(model, engineCache, rows), $"{name}: the engine takes step {step}");
            var fused = CpuDecodeStep.Run(model, next.data<long>().ToArray(), engineCache);
            Assert.IsNotNull(fused, $"{name}: the engine ran step {step}");
            engine = fused.select(1, 0);
            reference = InferenceStep.LastLogits(model, JambaEngine.Reference, next.unsqueeze(1), null, referenceCache);
            Close(engine, reference, LogitsTolerance, $"{name}: logits after step {step}");
        }

        var options = new GenerationOptions { MaxNewTokens = Steps, IgnoreStopTokens = true };
        var byEngine = new TokenGenerator(model, JambaEngine.Cpu).Generate(c.InputIds, c.AttentionMask, options);
        var byReference = new TokenGenerator(model, JambaEngine.Reference).Generate(c.InputIds, c.AttentionMask, options);
        for (int r = 0; r < rows; r++) CollectionAssert.AreEqual(byReference[r], byEngine[r], $"{name}: generated ids of row {r}");
    }
}
