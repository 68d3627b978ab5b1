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
    public void UnpaddedChunkBiasEqualsTheGeneralPath(long queryLength, long past)
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            using var fast = CausalMask.Build(null, queryLength, past, dtype, CPU, out bool causal);
            using var allReal = ones(1, past + queryLength);
            using var general = CausalMask.Build(allReal, queryLength, past, dtype, CPU, out _);
            Assert.IsFalse(causal);
            CollectionAssert.AreEqual(general!.shape, fast!.shape);
            Assert.IsTrue(fast.to_type(ScalarType.Float32).eq(general.to_type(ScalarType.Float32)).all().item<bool>(), $"{dtype}");
        }
    }
}
