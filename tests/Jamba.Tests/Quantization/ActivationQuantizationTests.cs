using Jamba.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Quantization;

/// <summary>
/// The tensor definition of int8 activations (<see cref="Quantizer.QuantizeActivations"/>), which the CPU kernels are
/// tested against, and <see cref="QuantizedLinear"/>'s use of it.
/// </summary>
[TestClass]
public sealed class ActivationQuantizationTests
{
    [TestMethod]
    public void BlocksRoundToTheirOwnScale()
    {
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 3, 96 }, generator: new Generator(1)) * 4;
        x[1, TensorIndex.Slice(32, 64)] = zeros(32);                                  // an all-zero block
        x[2, 0] = tensor(1000f);                                                      // one block dominated by an outlier
        var (r, s) = Quantizer.QuantizeActivations(x);
        Assert.AreEqual(ScalarType.Int8, r.dtype);
        CollectionAssert.AreEqual(new long[] { 3, 3 }, s.shape);
        var blocks = x.reshape(3, 3, 32);
        var expectedScale = blocks.abs().amax(new long[] { -1 }) / 127f;
        Assert.IsTrue((s - expectedScale).abs().max().item<float>() == 0, "s = max|x_block| / 127");
        var t = Quantizer.FakeQuantizeActivations(x).reshape(3, 3, 32);
        Assert.IsTrue((t - r.to_type(ScalarType.Float32).reshape(3, 3, 32) * s.unsqueeze(-1)).abs().max().item<float>() == 0, "fake quantization is r · s");
        // Rounding to nearest: every value within half a step of its block's grid, and the largest reaches ±127.
        var err = (blocks - t).abs() - s.unsqueeze(-1) / 2;
        Assert.IsTrue(err.max().item<float>() <= 1e-5f * 1000f, $"round to nearest: {err.max().item<float>()}");
        Assert.AreEqual(0f, s[1, 1].item<float>(), "a zero block's scale");
        Assert.AreEqual(0, r.reshape(3, 3, 32)[1, 1].abs().max().item<sbyte>(), "a zero block's values");
        Assert.AreEqual(127, r.reshape(3, 3, 32)[0, 0].abs().max().item<sbyte>(), "the block maximum maps to ±127");
        Assert.AreEqual(127, r[2, 0].item<sbyte>(), "the outlier is +127");
    }

    [TestMethod]
    public void TiesRoundAwayFromZero()
    {
        // With max 127 the scale is 1, so x / s is x itself: 2.5 → 3 and −2.5 → −3 (libtorch's round would give 2 and −2).
        var x = zeros(32);
        x[0] = tensor(127f); x[1] = tensor(2.5f); x[2] = tensor(-2.5f); x[3] = tensor(0.5f);
        var (r, _) = Quantizer.QuantizeActivations(x);
        CollectionAssert.AreEqual(new sbyte[] { 127, 3, -3, 1 }, r.data<sbyte>().ToArray().Take(4).ToArray());
    }

    [TestMethod]
    public void RowsNotTiledByTheBlockAreRefusedAndLayersSkipIt()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => Quantizer.QuantizeActivations(zeros(2, 40)));
        StringAssert.Contains(e.Message, "40");
        using var layer = new QuantizedLinear(40, 8, false, JambaQuantization.Int8) { Activations = ActivationQuantization.Int8 };
        Assert.IsFalse(layer.QuantizesActivations, "in_features 40 is not a multiple of 32");
        using var wide = new QuantizedLinear(64, 8, false, JambaQuantization.Int8) { Activations = ActivationQuantization.Int8 };
        Assert.IsTrue(wide.QuantizesActivations);
    }

    /// <summary>
    /// A layer with int8 activations multiplies the rounded input: its output differs from the float input's, by about
    /// the rounding (a 1/254 relative step per block: within 1% normwise here), and equals the float product of the
    /// fake-quantized input.
    /// </summary>
    [TestMethod]
    public void LayerWithInt8ActivationsMultipliesTheRoundedInput()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var g = new Generator(3);
        using var layer = new QuantizedLinear(96, 24, true, JambaQuantization.Q4, 32);
        layer.Quantize(randn(new long[] { 24, 96 }, generator: g));
        layer.bias!.copy_(randn(new long[] { 24 }, generator: g));
        var x = randn(new long[] { 20, 96 }, generator: g);
        var plain = layer.ForwardDequantized(x);
        layer.Activations = ActivationQuantization.Int8;
        var rounded = layer.ForwardDequantized(x);
        double rel = (rounded - plain).norm().item<float>() / plain.norm().item<float>();
        Assert.IsTrue(rel > 0 && rel < 0.01, $"int8 activations move the output by {rel}");
        layer.Activations = ActivationQuantization.None;
        var twin = layer.ForwardDequantized(Quantizer.FakeQuantizeActivations(x));
        Assert.IsTrue((twin - rounded).abs().max().item<float>() == 0, "the product of the fake-quantized input");
    }
}
