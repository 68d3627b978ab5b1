using Jamba.Planning;
using static TorchSharp.torch;

namespace Jamba.Tests.Planning;

[TestClass]
public sealed class MemoryPlanTests
{
    [TestMethod]
    public void WeightsScaleWithDtype()
    {
        var c = Presets.JambaV01();
        long p = ParameterCount.Of(c).Total;
        Assert.AreEqual(2 * p, MemoryPlan.WeightBytes(c, ScalarType.BFloat16));
        Assert.AreEqual(4 * p, MemoryPlan.WeightBytes(c, ScalarType.Float32));
    }

    [TestMethod]
    public void PlanTotalsItsParts()
    {
        var plan = MemoryPlan.For(Presets.JambaV01(), 2, 100_000, ScalarType.BFloat16);
        Assert.AreEqual(plan.Weights + plan.Kv + plan.MambaState + plan.Workspace, plan.Total);
        Assert.AreEqual(CacheMemory.KvBytes(Presets.JambaV01(), 2, 100_000, ScalarType.BFloat16), plan.Kv);
        Assert.IsTrue(plan.Workspace > 0);
    }

    [TestMethod]
    public void MaxContextIsTheBoundary()
    {
        var c = Presets.JambaV01();
        long budget = 140 * Units.GiB;
        long max = MemoryPlan.MaxContext(c, budget, 1, ScalarType.BFloat16);
        Assert.IsTrue(max > 0);
        Assert.IsTrue(MemoryPlan.For(c, 1, max, ScalarType.BFloat16).Total <= budget);
        Assert.IsTrue(MemoryPlan.For(c, 1, max + 1, ScalarType.BFloat16).Total > budget);
        // Weights alone (~96 GiB in bf16) exceed 80 GiB: nothing fits.
        Assert.AreEqual(0L, MemoryPlan.MaxContext(c, 80 * Units.GiB, 1, ScalarType.BFloat16));
    }

    [TestMethod]
    public void MaxContextIsMonotoneInMemoryAndBatch()
    {
        foreach (var c in new[] { Presets.JambaV01(), Presets.Mixtral8x7B(), Presets.Small() })
        {
            long weights = MemoryPlan.WeightBytes(c, ScalarType.BFloat16);
            long previous = -1;
            for (int extraGiB = 0; extraGiB <= 64; extraGiB += 4)
            {
                long max = MemoryPlan.MaxContext(c, weights + extraGiB * Units.GiB, 1, ScalarType.BFloat16);
                Assert.IsTrue(max >= previous, $"context shrank with more memory at +{extraGiB} GiB");
                previous = max;
            }
            long budget = weights + 40 * Units.GiB;
            previous = long.MaxValue;
            foreach (int batch in new[] { 1, 2, 3, 4, 8, 16, 64 })
            {
                long max = MemoryPlan.MaxContext(c, budget, batch, ScalarType.BFloat16);
                Assert.IsTrue(max <= previous, $"context grew with batch {batch}");
                previous = max;
            }
        }
    }

    [TestMethod]
    public void JambaFitsFarLongerContextThanMixtral()
    {
        // The paper's point: with 8x less KV per token Jamba holds a much longer context in the same spare memory.
        long spare = 32 * Units.GiB;
        var jamba = Presets.JambaV01();
        var mixtral = Presets.Mixtral8x7B();
        long j = MemoryPlan.MaxContext(jamba, MemoryPlan.WeightBytes(jamba, ScalarType.BFloat16) + spare, 1, ScalarType.BFloat16);
        long m = MemoryPlan.MaxContext(mixtral, MemoryPlan.WeightBytes(mixtral, ScalarType.BFloat16) + spare, 1, ScalarType.BFloat16);
        Assert.IsTrue(j > 4 * m, $"jamba {j}, mixtral {m}");
    }

    [TestMethod]
    public void PureMambaContextIsBoundedOnlyByTheLimit()
    {
        var c = Presets.PureMamba(Presets.Small());
        long budget = MemoryPlan.WeightBytes(c, ScalarType.Float32) + Units.GiB;
        Assert.AreEqual(1_000_000L, MemoryPlan.MaxContext(c, budget, 1, ScalarType.Float32, limit: 1_000_000));
    }

    [TestMethod]
    public void MaterializedScoresCostMore()
    {
        var c = Presets.JambaV01();
        long fused = MemoryPlan.WorkspaceBytes(c, 1, 262144, ScalarType.BFloat16);
        long math = MemoryPlan.WorkspaceBytes(c, 1, 262144, ScalarType.BFloat16, new WorkspaceOptions(MaterializedAttentionScores: true));
        // 2 x 32 heads x 512 x 262144 x 2 bytes = 16 GiB more.
        Assert.AreEqual(16 * Units.GiB, math - fused);
    }
}
