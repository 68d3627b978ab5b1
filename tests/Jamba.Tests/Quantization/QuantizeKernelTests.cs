using Jamba.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Quantization;

/// <summary>
/// <see cref="Quantizer.Quantize"/>'s CPU kernel (QuantizeCpu) against its twins, the tensor operations of
/// <see cref="Quantizer.QuantizeInt8"/> and <see cref="Quantizer.QuantizeQ4"/>: the same bits, for float32 and
/// bfloat16 weights, rows of zeros, ties, and one or two threads.
/// </summary>
[TestClass]
public sealed class QuantizeKernelTests
{
    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    static Tensor Weights(long rows, long cols, ulong seed)
    {
        var w = randn(rows, cols, generator: new Generator(seed)) * rand(rows, 1, generator: new Generator(seed + 1)) * 3;
        w[1].zero_();                                                    // an all-zero row: s = 0, q = 0
        w[2, 0] = tensor(0.5f);                                          // ties in units of the row's step
        w[2, 1] = tensor(-127f);
        w[2, 2] = tensor(-2.5f);
        return w;
    }

    [TestMethod]
    public void Int8KernelEqualsTensorTwin()
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        foreach (int threads in new[] { 1, 2 })
        foreach (long cols in new long[] { 7, 64, 300, 20000 })
        {
            int before = get_num_threads();
            set_num_threads(threads);
            try
            {
                var w = Weights(33, cols, (ulong)cols).to_type(dtype);
                var (q, s) = Quantizer.Quantize(w, JambaQuantization.Int8, 32);
                var (qr, sr) = Quantizer.QuantizeInt8(w);
                Assert.IsTrue(Same(s, sr), $"{dtype} in={cols} threads={threads}: scales differ");
                Assert.IsTrue(Same(q, qr), $"{dtype} in={cols} threads={threads}: {q.ne(qr).sum().item<long>()} values differ");
            }
            finally { set_num_threads(before); }
        }
    }

    [TestMethod]
    public void Q4KernelEqualsTensorTwin()
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        foreach (int g in new[] { 32, 64, 16, 48, 6 })
        foreach (long cols in new long[] { 2 * g, 6 * g, 313 * g })
        {
            var w = Weights(17, cols, (ulong)(cols + g)).to_type(dtype);
            var (q, s) = Quantizer.Quantize(w, JambaQuantization.Q4, g);
            var (qr, sr) = Quantizer.QuantizeQ4(w, g);
            Assert.IsTrue(Same(s, sr), $"{dtype} G={g} in={cols}: scales differ");
            Assert.IsTrue(Same(q, qr), $"{dtype} G={g} in={cols}: {q.ne(qr).sum().item<long>()} bytes differ");
        }
    }

    /// <summary>
    /// QuantizeInto, how a loader fills a layer a block of rows at a time: written in place into row blocks of the stored
    /// tensors (the kernel), or through the twin and a copy (float16 weights), it gives what one Quantize call gives.
    /// </summary>
    [TestMethod]
    public void QuantizeIntoRowBlocksEqualsQuantize()
    {
        foreach (var scheme in new[] { JambaQuantization.Int8, JambaQuantization.Q4 })
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            var w = Weights(21, 128, 9).to_type(dtype);
            var (want, wantScale) = Quantizer.Quantize(w, scheme, 32);
            var q = full(want.shape, 0x55, want.dtype);
            var s = zeros(wantScale.shape, wantScale.dtype);
            foreach (var (start, n) in new[] { (0L, 8L), (8L, 8L), (16L, 5L) })
                Quantizer.QuantizeInto(w.narrow(0, start, n), scheme, 32, q.narrow(0, start, n), s.narrow(0, start, n));
            Assert.IsTrue(Same(q, want) && Same(s, wantScale), $"{scheme} {dtype}");
        }
    }

    [TestMethod]
    public void NonContiguousOrOtherDTypeTakesTheTwin()
    {
        var w = Weights(8, 64, 5);
        var (q, s) = Quantizer.Quantize(w.t().contiguous().t(), JambaQuantization.Int8, 32);   // not contiguous
        var (qr, sr) = Quantizer.QuantizeInt8(w);
        Assert.IsTrue(Same(q, qr) && Same(s, sr));
        var (q16, _) = Quantizer.Quantize(w.to_type(ScalarType.Float16), JambaQuantization.Q4, 32);
        Assert.IsTrue(Same(q16, Quantizer.QuantizeQ4(w.to_type(ScalarType.Float16), 32).weight));
    }
}
