using Jamba.Modeling;
using Jamba.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Ops;

/// <summary>
/// <see cref="BFloat16Linear"/>, the CPU product of several bfloat16 rows, against its twin (the float32 product of the
/// widened tensors, rounded to bfloat16 once): the sums differ only in their order, so at most one bfloat16 step apart,
/// and that rarely. <see cref="DenseLinear"/> takes it for inference and libtorch's linear where a gradient is asked for.
/// </summary>
[TestClass]
public sealed class BFloat16LinearTests
{
    [TestMethod]
    public void GemmAgreesWithTheWidenedProductToOneRounding()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (rows, inF, outF, bias) in new[] { (2, 64, 96, false), (5, 64, 256, true), (17, 300, 7, true), (150, 96, 64, false) })
        {
            var x = randn(new long[] { 1, rows, inF }, generator: new Generator((ulong)rows)).to_type(ScalarType.BFloat16);
            var w = (randn(new long[] { outF, inF }, generator: new Generator(2)) * 0.1).to_type(ScalarType.BFloat16);
            var b = bias ? randn(new long[] { outF }, generator: new Generator(3)).to_type(ScalarType.BFloat16) : null;
            var y = BFloat16Linear.Gemm(x, w, b);
            var twin = BFloat16Linear.Reference(x, w, b);
            CollectionAssert.AreEqual(new long[] { 1, rows, outF }, y.shape);
            Assert.AreEqual(ScalarType.BFloat16, y.dtype);
            // One bfloat16 step of the larger magnitude, where the two sums round to neighbours.
            var step = twin.to_type(ScalarType.Float32).abs().clamp_min(1e-30) * (1.0 / 128);
            var diff = (y.to_type(ScalarType.Float32) - twin.to_type(ScalarType.Float32)).abs();
            Assert.IsTrue(diff.le(step * 1.01).all().item<bool>(), $"rows {rows}: more than one rounding apart");
            Assert.IsTrue(diff.gt(0).to_type(ScalarType.Float32).mean().item<float>() < 0.01f, $"rows {rows}: too many values differ");
        }
    }

    [TestMethod]
    public void OneRowGradientsAndOtherDTypesTakeLibtorch()
    {
        if (!BFloat16Linear.LibtorchIsGeneric) Assert.Inconclusive("libtorch's own bfloat16 matmul is fast on this CPU: the GEMM is never chosen");
        using var scope = NewDisposeScope();
        var w = randn(8, 16).to_type(ScalarType.BFloat16);
        Assert.IsFalse(BFloat16Linear.Applies(randn(1, 16).to_type(ScalarType.BFloat16), w, null), "one row is decode");
        Assert.IsFalse(BFloat16Linear.Applies(randn(4, 16), randn(8, 16), null), "float32");
        var trainable = w.clone().requires_grad_();
        Assert.IsFalse(BFloat16Linear.Applies(randn(4, 16).to_type(ScalarType.BFloat16), trainable, null), "a gradient is asked for");
        using (no_grad()) Assert.IsTrue(BFloat16Linear.Applies(randn(4, 16).to_type(ScalarType.BFloat16), trainable, null), "not under no_grad");
    }

    [TestMethod]
    public void DenseLinearKeepsTheReferenceNamesAndTrains()
    {
        using var scope = NewDisposeScope();
        var linear = new DenseLinear(16, 8, hasBias: true, dtype: ScalarType.BFloat16);
        CollectionAssert.AreEqual(new[] { "weight", "bias" }, linear.named_parameters().Select(p => p.name).ToArray());
        var x = randn(3, 16).to_type(ScalarType.BFloat16);
        using (no_grad())
        {
            var fast = linear.forward(x);
            var twin = BFloat16Linear.Reference(x, linear.weight, linear.bias);
            Assert.IsTrue((fast.to_type(ScalarType.Float32) - twin.to_type(ScalarType.Float32)).abs().max().item<float>()
                <= twin.to_type(ScalarType.Float32).abs().max().item<float>() / 64, "the inference path");
        }
        linear.forward(x).to_type(ScalarType.Float32).sum().backward();
        Assert.IsNotNull(linear.weight.grad, "training goes through libtorch's linear, with gradients");
        var replaced = new TorchSharp.Modules.Parameter(zeros(8, 16, dtype: ScalarType.BFloat16));
        linear.weight = replaced;
        Assert.AreSame(replaced, linear.named_parameters().First(p => p.name == "weight").parameter, "an assigned weight is registered");
    }
}
