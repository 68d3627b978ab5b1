using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace Jamba.MLNet.Tests;

[TestClass]
public sealed class MemoryTests
{
    private static IEnumerable<TextRow> Endless(int count)
    {
        for (int i = 0; i < count; i++) yield return new TextRow { Text = $"row {i} of a long stream of short texts" };
    }

    [TestMethod]
    [Timeout(600_000)]
    [TestCategory("EndToEnd")]
    public void ManyBatchesLeakNoTensorsAndKeepMemoryFlat()
    {
        var ml = TestModels.Context();
        // LoadFromEnumerable over a generator: the rows never exist together, so only the transform could hold them.
        var transformer = ml.Transforms.Jamba().Embed("Features", "Text", TestModels.Tiny, new JambaEmbedOptions { BatchSize = 32, MaxTokens = 16 })
            .Fit(ml.Data.LoadFromEnumerable(Endless(1)));

        long Consume(int rows)
        {
            var view = transformer.Transform(ml.Data.LoadFromEnumerable(Endless(rows)));
            using var cursor = view.GetRowCursor(new[] { view.Schema["Features"] });
            var getter = cursor.GetGetter<VBuffer<float>>(view.Schema["Features"]);
            VBuffer<float> v = default;
            long n = 0;
            while (cursor.MoveNext()) { getter(ref v); n++; }
            return n;
        }

        Consume(320);   // warm-up: allocator pools, JIT
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var process = Process.GetCurrentProcess();
        process.Refresh();
        long rssBefore = process.WorkingSet64;
        var clock = Stopwatch.StartNew();
        long rows = Consume(1600);   // 50 batches of 32
        clock.Stop();
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
        process.Refresh();
        long growth = process.WorkingSet64 - rssBefore;
        long liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Console.WriteLine($"{rows} rows in {clock.Elapsed.TotalSeconds:F1}s ({rows / clock.Elapsed.TotalSeconds:F0} rows/s); working set growth {growth / 1048576.0:F1} MiB; live tensors {liveBefore} -> {liveAfter}");
        Assert.AreEqual(1600, rows);
        Assert.AreEqual(liveBefore, liveAfter, "every tensor created per batch is disposed");
        Assert.IsTrue(growth < 200L * 1024 * 1024, $"working set grew {growth / 1048576.0:F1} MiB over 50 batches");
    }
}
