using Jamba.Engine.Cpu;
using Jamba.Engine.Cpu.Kernels;

namespace Jamba.Tests.Engine;

[TestClass]
public sealed class SpinPoolTests
{
    /// <summary>Every item of every job runs exactly once, also with jobs posted back to back from several threads.</summary>
    [TestMethod]
    public void EveryItemRunsOnceUnderConcurrentCallers()
    {
        var pool = SpinPool.Shared;
        Parallel.For(0, 3, caller =>
        {
            for (int job = 0; job < 2000; job++)
            {
                int count = 1 + (job + caller) % 7;
                var hits = new int[count];
                pool.For(count, 4, i => Interlocked.Increment(ref hits[i]));
                for (int i = 0; i < count; i++)
                    Assert.AreEqual(1, hits[i], $"caller {caller}, job {job}, item {i}");
            }
        });
    }

    [TestMethod]
    public void AFailingItemSurfacesOnTheCaller()
    {
        var e = Assert.ThrowsExactly<AggregateException>(() => SpinPool.Shared.For(4, 2, i => { if (i == 2) throw new InvalidOperationException("item 2"); }));
        Assert.AreEqual("item 2", e.InnerException!.Message);
        int ran = 0;
        SpinPool.Shared.For(4, 2, _ => Interlocked.Increment(ref ran));
        Assert.AreEqual(4, ran, "the pool still works after a failure");
    }
}
