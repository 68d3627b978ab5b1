using Jamba.Kernels;
using TorchSharp;
using static Jamba.Tests.Kernels.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Kernels;

[TestClass]
public sealed class DecodeLinearTests
{
    // rows, in, out, bias: sizes off the vector width, one output, and a weight large enough to be split across threads.
    static readonly (int rows, int inF, int outF, bool bias)[] Shapes =
    {
        (1, 1, 1, false), (1, 37, 5, true), (2, 64, 3, false), (3, 33, 17, true), (4, 512, 300, true), (1, 1024, 2048, false),
    };

    [TestMethod]
    public void Float32MatchesLibtorchLinear()
    {
        int seed = 0;
        foreach (var s in Shapes)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var g = new Generator((ulong)seed++);
            var x = randn(new long[] { s.rows, 1, s.inF }, generator: g);
            var w = randn(new long[] { s.outF, s.inF }, generator: g);
            var b = s.bias ? randn(new long[] { s.outF }, generator: g) : null;
            Assert.IsTrue(DecodeLinear.Applies(x, w, b), $"{s}");
            Close(DecodeLinear.Forward(x, w, b), nn.functional.linear(x, w, b), 1e-6, $"{s}");
        }
    }

    [TestMethod]
    public void BFloat16MatchesLibtorchLinearWithinOneRounding()
    {
        int seed = 10;
        foreach (var s in Shapes)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var g = new Generator((ulong)seed++);
            var x = randn(new long[] { s.rows, s.inF }, generator: g).to_type(ScalarType.BFloat16);
            var w = randn(new long[] { s.outF, s.inF }, generator: g).to_type(ScalarType.BFloat16);
            var b = s.bias ? randn(new long[] { s.outF }, generator: g).to_type(ScalarType.BFloat16) : null;
            var y = DecodeLinear.Forward(x, w, b);
            Assert.AreEqual(ScalarType.BFloat16, y.dtype);
            // The exact product of the bf16 inputs, in float64: both must be within bf16 rounding (2^-8) of it.
            var exact = nn.functional.linear(x.to_type(ScalarType.Float64), w.to_type(ScalarType.Float64), b?.to_type(ScalarType.Float64));
            Assert.IsTrue(RelErr(y, exact) <= 1.0 / 128, $"{s}: {RelErr(y, exact):E2}");
            Assert.IsTrue(RelErr(y, nn.functional.linear(x, w, b)) <= 1.0 / 64, $"{s}");
        }
    }

    [TestMethod]
    public void ManyRowsGradientsAndOddLayoutsGoToLibtorch()
    {
        var w = randn(8, 16);
        Assert.IsFalse(DecodeLinear.Applies(randn(DecodeLinear.MaxRows + 1, 16), w, null), "more rows than a decode step");
        Assert.IsFalse(DecodeLinear.Applies(randn(1, 16, dtype: ScalarType.Float64), w.to_type(ScalarType.Float64), null), "float64");
        Assert.IsFalse(DecodeLinear.Applies(randn(1, 16), randn(16, 8).t(), null), "a transposed (non-contiguous) weight");
        // With gradients wanted the kernel steps aside, so backward still works.
        var wg = randn(8, 16).requires_grad_();
        var x = randn(1, 16);
        Assert.IsFalse(DecodeLinear.Applies(x, wg, null));
        DecodeLinear.Forward(x, wg).sum().backward();
        Close(wg.grad!, x.expand(8, 16), 0, "weight gradient");
    }
}
