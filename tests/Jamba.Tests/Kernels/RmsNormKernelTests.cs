using Jamba.Modeling;
using TorchSharp;
using static Jamba.Tests.Kernels.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Kernels;

[TestClass]
public sealed class RmsNormKernelTests
{
    /// <summary>The decode-step kernel (few rows, no gradients) equals the tensor-operation path (with gradients on).</summary>
    [TestMethod]
    public void DecodeKernelMatchesTensorPath()
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            foreach (var (rows, size) in new[] { (1, 1), (1, 37), (3, 64), (4, 512) })
            {
                using var scope = NewDisposeScope();
                var norm = new RmsNorm(size, 1e-6, dtype: dtype);
                using (no_grad()) norm.weight.copy_(randn(size) * 0.5 + 1);
                var x = (randn(rows, 1, size) * 3).to_type(dtype);
                var tensorPath = norm.forward(x);                          // weight requires grad: the tensor path
                Assert.IsTrue(tensorPath.requires_grad, "the tensor path records the graph");
                Tensor kernel;
                using (no_grad()) kernel = norm.forward(x);
                Assert.IsFalse(kernel.requires_grad);
                // float32: rsqrt vs 1/sqrt and the summation order; bfloat16: at most one rounding step apart.
                Close(kernel, tensorPath.detach(), dtype == ScalarType.Float32 ? 1e-6 : 1.0 / 128, $"{dtype} [{rows}, {size}]");
            }
    }
}
