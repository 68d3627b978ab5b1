using Jamba.Engine.Cpu.Kernels;
using Jamba.Modeling;
using TorchSharp;
using static Jamba.Tests.Engine.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Engine;

[TestClass]
public sealed class RmsNormCpuTests
{
    /// <summary>The engine's RMSNorm kernel equals the Modeling layer, <see cref="RmsNorm"/>, in float32 and bfloat16.</summary>
    [TestMethod]
    public unsafe void KernelMatchesTheModelingNorm()
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            foreach (var (rows, size) in new[] { (1, 1), (1, 37), (3, 64), (4, 512) })
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var norm = new RmsNorm(size, 1e-6, dtype: dtype);
                norm.weight.copy_(randn(size) * 0.5 + 1);
                var x = (randn(rows, 1, size) * 3).to_type(dtype);
                var reference = norm.forward(x);
                // The kernel reads and writes float32 rows (a bfloat16 model's widened to float32, exactly).
                var x32 = x.to_type(ScalarType.Float32).contiguous();
                var y32 = empty_like(x32);
                if (dtype == ScalarType.Float32)
                    RmsNormCpu.ForwardF32(CpuKernelSupport.Ptr(x32), CpuKernelSupport.Ptr(norm.weight), CpuKernelSupport.Ptr(y32), rows, size, 1e-6f);
                else
                    RmsNormCpu.ForwardBF16Widened(CpuKernelSupport.Ptr(x32), CpuKernelSupport.Ptr16(norm.weight), CpuKernelSupport.Ptr(y32), rows, size, 1e-6f);
                // float32: rsqrt vs 1/sqrt and the summation order; bfloat16: at most one rounding step apart.
                Close(y32.to_type(dtype), reference, dtype == ScalarType.Float32 ? 1e-6 : 1.0 / 128, $"{dtype} [{rows}, {size}]");
            }
    }
}
