using Jamba.Ops;
using Jamba.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Quantization;

[TestClass]
public sealed class QuantizerTests
{
    /// <summary>
    /// Every element of an int8 row dequantizes within half a step of the original: |w − q·s| ≤ s/2, with s the row's
    /// max|w| / 127 (a hair of float32 rounding allowed), and the row's largest element is exact up to rounding.
    /// </summary>
    [TestMethod]
    public void Int8ErrorIsAtMostHalfAStep()
    {
        var w = randn(37, 50, generator: new Generator(1)) * linspace(0.01, 3, 37).unsqueeze(1);
        var (q, s) = Quantizer.QuantizeInt8(w);
        Assert.AreEqual(ScalarType.Int8, q.dtype);
        CollectionAssert.AreEqual(new long[] { 37 }, s.shape);
        var expectedScale = w.abs().amax(new long[] { 1 }) / 127;
        Assert.IsTrue(s.allclose(expectedScale, rtol: 1e-6, atol: 0));
        var deq = Dequantize.Reference(q, s, ScalarType.Float32);
        var bound = s.unsqueeze(1) / 2 * (1 + 1e-5) + 1e-12;
        Assert.IsTrue((w - deq).abs().le(bound).all().item<bool>(), $"worst {((w - deq).abs() / s.unsqueeze(1)).max().item<float>()} steps");
        Assert.IsTrue(q.abs().max().item<sbyte>() == 127, "the largest element of each row maps to ±127");
    }

    /// <summary>
    /// The same bound for 4-bit groups, where s = max|w_group| / 7 per group of G inputs rounded to float16 (the stored
    /// dtype; the bound holds for the rounded s, which is what divides), for G = 32 and 64.
    /// </summary>
    [TestMethod]
    public void Q4ErrorIsAtMostHalfAStepPerGroup()
    {
        foreach (int g in new[] { 32, 64 })
        {
            var w = randn(9, 192, generator: new Generator((ulong)g)) * (rand(9, 192, generator: new Generator(3)) * 4);
            var (q, s) = Quantizer.QuantizeQ4(w, g);
            Assert.AreEqual(ScalarType.Byte, q.dtype);
            CollectionAssert.AreEqual(new long[] { 9, 96 }, q.shape);
            CollectionAssert.AreEqual(new long[] { 9, 192 / g }, s.shape);
            Assert.AreEqual(ScalarType.Float16, s.dtype);
            var expectedScale = (w.view(9, 192 / g, g).abs().amax(new long[] { 2 }) / 7).to_type(ScalarType.Float16);
            Assert.IsTrue(s.equal(expectedScale).all().item<bool>(), $"G={g}: scales");
            var deq = Dequantize.Reference(q, s, ScalarType.Float32);
            var s32 = s.to_type(ScalarType.Float32).repeat_interleave(g, 1);
            var bound = s32 / 2 * (1 + 1e-5) + 1e-12;
            Assert.IsTrue((w - deq).abs().le(bound).all().item<bool>(), $"G={g}: worst {((w - deq).abs() / s32).max().item<float>()} steps");
        }
    }

    /// <summary>
    /// The byte layout of a group: byte j holds element j in its low nibble and element j + G/2 in its high nibble,
    /// each as q + 8. A row of integers in [−7, 7] whose max |w| is 7 has s = 1 and q = w, so every nibble is known.
    /// </summary>
    [TestMethod]
    public void Q4NibbleLayoutIsLowFirstHalfHighSecondHalf()
    {
        const int g = 32;
        var values = Enumerable.Range(0, 2 * g).Select(i => (float)((i * 5 % 15) - 7)).ToArray();   // two groups
        var w = tensor(values).view(1, 2 * g);
        var (q, s) = Quantizer.QuantizeQ4(w, g);
        CollectionAssert.AreEqual(new[] { 1f, 1f }, s.to_type(ScalarType.Float32).data<float>().ToArray());
        var bytes = q.data<byte>().ToArray();
        Assert.AreEqual(g, bytes.Length);
        for (int group = 0; group < 2; group++)
            for (int j = 0; j < g / 2; j++)
            {
                byte b = bytes[group * g / 2 + j];
                Assert.AreEqual(values[group * g + j] + 8, b & 15, $"group {group} byte {j} low nibble");
                Assert.AreEqual(values[group * g + j + g / 2] + 8, b >> 4, $"group {group} byte {j} high nibble");
            }
        CollectionAssert.AreEqual(values, Dequantize.Reference(q, s, ScalarType.Float32).data<float>().ToArray());
    }

    /// <summary>Rounding is half away from zero: 0.5 and 1.5 steps go to 1 and 2, −0.5 to −1 (libtorch's round gives 0, 2, 0).</summary>
    [TestMethod]
    public void TiesRoundAwayFromZero()
    {
        var w = tensor(new[] { 127f, 0.5f, 1.5f, -0.5f, -2.5f, 0f }).view(1, 6);
        var (q, s) = Quantizer.QuantizeInt8(w);
        Assert.AreEqual(1f, s.item<float>());
        CollectionAssert.AreEqual(new sbyte[] { 127, 1, 2, -1, -3, 0 }, q.data<sbyte>().ToArray());
    }

    /// <summary>An all-zero row (int8) or group (4-bit) gets scale 0 and q 0, and dequantizes to zeros, never NaN.</summary>
    [TestMethod]
    public void ZeroRowsAndGroupsStayZero()
    {
        var w = randn(3, 64, generator: new Generator(5));
        w[1].zero_();
        w[2].narrow(0, 32, 32).zero_();
        var (q8, s8) = Quantizer.QuantizeInt8(w);
        Assert.AreEqual(0f, s8[1].item<float>());
        Assert.IsTrue(q8[1].eq(0).all().item<bool>());
        var (q4, s4) = Quantizer.QuantizeQ4(w, 32);
        Assert.AreEqual(0f, s4[1, 0].to_type(ScalarType.Float32).item<float>());
        Assert.AreEqual(0f, s4[2, 1].to_type(ScalarType.Float32).item<float>());
        Assert.IsTrue(q4[1].eq(8 | (8 << 4)).all().item<bool>(), "a zero group's nibbles are all 8 (q = 0)");
        foreach (var deq in new[] { Dequantize.Reference(q8, s8, ScalarType.Float32), Dequantize.Reference(q4, s4, ScalarType.Float32) })
        {
            Assert.IsTrue(deq.isfinite().all().item<bool>());
            Assert.IsTrue(deq[1].eq(0).all().item<bool>());
        }
        Assert.IsTrue(Dequantize.Reference(q4, s4, ScalarType.Float32)[2].narrow(0, 32, 32).eq(0).all().item<bool>());
    }

    /// <summary>Dequantize returns the requested dtype, the float32 values rounded once.</summary>
    [TestMethod]
    public void DequantizeCastsToTheRequestedDType()
    {
        var w = randn(4, 64, generator: new Generator(6));
        var (q, s) = Quantizer.QuantizeQ4(w, 64);
        var f32 = Dequantize.Reference(q, s, ScalarType.Float32);
        var bf16 = Dequantize.Forward(q, s, ScalarType.BFloat16);
        Assert.AreEqual(ScalarType.BFloat16, bf16.dtype);
        Assert.IsTrue(bf16.eq(f32.to_type(ScalarType.BFloat16)).all().item<bool>());
    }

    /// <summary>A scale that does not fit its weight is refused with both shapes in the message.</summary>
    [TestMethod]
    public void DequantizeRefusesMismatchedScales()
    {
        var (q, s) = Quantizer.QuantizeQ4(randn(4, 64), 32);
        var e = Assert.ThrowsExactly<ArgumentException>(() => Dequantize.Reference(q, s.narrow(0, 0, 3), ScalarType.Float32));
        StringAssert.Contains(e.Message, "[3, 2]");
        var (q8, _) = Quantizer.QuantizeInt8(randn(4, 64));
        e = Assert.ThrowsExactly<ArgumentException>(() => Dequantize.Reference(q8, ones(5), ScalarType.Float32));
        StringAssert.Contains(e.Message, "weight_scale [4]");
    }
}
