using Jamba.Engine.Cpu;
using Jamba.Engine.Cpu.Kernels;
using Jamba.Modeling;
using TorchSharp;
using static Jamba.Tests.Engine.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Engine;

[TestClass]
public sealed class DecodeMlpTests
{
    /// <summary>
    /// The fused SwiGLU of a few rows equals the Modeling MLP, <see cref="JambaMlp"/>. The last shape's blocks hold more
    /// intermediate units than one pass of the kernel's gate/up scratch.
    /// </summary>
    [TestMethod]
    public void FusedSwiGluMatchesTensorPath()
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            foreach (var (rows, hidden, inter) in new[] { (1, 8, 12), (3, 33, 50), (4, 512, 1024), (2, 16, 3000) })
            {
                using var scope = NewDisposeScope();
                var config = TestConfigs.Tiny(c => { c.HiddenSize = hidden; c.IntermediateSize = inter; c.NumAttentionHeads = 1; c.NumKeyValueHeads = 1; });
                var mlp = new JambaMlp(config);
                using (no_grad()) foreach (var p in mlp.parameters()) p.normal_(0, 0.2);
                mlp.to(dtype);
                var x = randn(rows, 1, hidden).to_type(dtype);
                var tensorPath = mlp.forward(x);
                Tensor fused;
                using (no_grad())
                {
                    Assert.IsTrue(DecodeMlp.Applies(x, ((DenseLinear)mlp.gate_proj).weight!, ((DenseLinear)mlp.up_proj).weight!, ((DenseLinear)mlp.down_proj).weight!));
                    fused = DecodeMlp.Forward(x, ((DenseLinear)mlp.gate_proj).weight!, ((DenseLinear)mlp.up_proj).weight!, ((DenseLinear)mlp.down_proj).weight!);
                }
                // bfloat16: the kernel keeps the hidden activations in float32, the Modeling MLP rounds them.
                Close(fused, tensorPath.detach(), dtype == ScalarType.Float32 ? 1e-5 : 3e-2, $"{dtype} rows {rows}, {hidden}x{inter}");
            }
    }
}
