using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Modeling;

[TestClass]
public sealed class CausalMaskTests
{
    /// <summary>The in-place bias of an unpadded chunk after cached positions equals the general boolean construction.</summary>
    [TestMethod]
    [DataRow(3L, 5L)]
    [DataRow(7L, 1L)]
    [DataRow(2L, 31L)]
    [DataRow(16L, 16L)]
    public void UnpaddedChunkSlicesEqualTheGeneralPath(long queryLength, long past)
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            // Nothing padded: no bias from Build, only the flag; attention builds slices with AfterPast.
            Assert.IsNull(CausalMask.Build(null, queryLength, past, dtype, CPU, out bool causal));
            Assert.IsTrue(causal);
            using var allReal = ones(1, past + queryLength);
            using var general = CausalMask.Build(allReal, queryLength, past, dtype, CPU, out _);
            foreach (long rows in new[] { 1L, 3L, queryLength })
                for (long start = 0; start < queryLength; start += rows)
                {
                    long n = Math.Min(rows, queryLength - start);
                    using var slice = CausalMask.AfterPast(start, n, past + queryLength, past, dtype, CPU);
                    using var expected = general!.narrow(2, start, n);
                    CollectionAssert.AreEqual(expected.shape, slice.shape);
                    Assert.IsTrue(slice.to_type(ScalarType.Float32).eq(expected.to_type(ScalarType.Float32)).all().item<bool>(), $"{dtype} rows {rows} start {start}");
                }
        }
    }

    [TestMethod]
    public void OneNewTokenNeedsNoMask()
    {
        Assert.IsNull(CausalMask.Build(null, 1, 9, ScalarType.Float32, CPU, out bool causal));
        Assert.IsFalse(causal);
    }
}
