using Jamba.Engine.Cpu.Kernels;
using Jamba.Ops;
using Jamba.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Engine;

/// <summary>
/// The blocked prefill GEMM (<see cref="GemmCpu"/>, through <see cref="QuantizedMatmul.Gemm"/>) against its tensor twin
/// (<see cref="QuantizedMatmul.Reference"/>: the weight dequantized, then libtorch's linear). Both multiply the same
/// float32 weights, so they differ by the order of the sums only: each output within 1e-5 · Σ|w x| (+ |b| rounding)
/// of the twin's, where a wrong index, nibble or scale moves it by a whole term. Register-tile tails (1 … 13 rows,
/// outputs not a multiple of 16), input tails (37 inputs: not a multiple of 8) and input blocks (2048 inputs: eight of
/// them) are covered; thread count and batch size must not change a result's bits.
/// </summary>
[TestClass]
public sealed class GemmCpuTests
{
    /// <summary>A quantized weight of a random float one: (stored weight, scale) for int8 (group 0) or q4 of <paramref name="group"/>.</summary>
    static (Tensor weight, Tensor scale) RandomWeight(long outF, long inF, int group, int seed)
    {
        var w = randn(new[] { outF, inF }, generator: new Generator((ulong)seed)) * 0.05;
        return Quantizer.Quantize(w, group == 0 ? JambaQuantization.Int8 : JambaQuantization.Q4, group == 0 ? 32 : group);
    }

    static void AssertClose(Tensor actual, Tensor expected, Tensor x, Tensor weight, Tensor scale, Tensor? bias, double relative, string what)
    {
        // Σ|w x| + |b| per output: the scale of the rounding a float32 sum in any order can make.
        var magnitude = nn.functional.linear(x.abs(), Dequantize.Reference(weight, scale, ScalarType.Float32).abs(), bias?.abs());
        var excess = (actual - expected).abs() - magnitude * relative - 1e-30;
        float worst = excess.max().item<float>();
        Assert.IsTrue(worst <= 0, $"{what}: an output is {worst} beyond the tolerance");
        Assert.IsFalse(actual.isnan().any().item<bool>(), $"{what}: NaN");
    }

    [TestMethod]
    public void MatchesTheTensorTwinAtEveryTail()
    {
        using var _ = NewDisposeScope();
        int seed = 1;
        foreach (int group in new[] { 0, 32, 64 })
            foreach (long inF in new long[] { 32, 37, 64, 96, 2048 })
            {
                if (group > 0 && inF % group != 0) continue;
                foreach (long outF in new long[] { 16, 40, 70 })
                {
                    using var scope = NewDisposeScope();
                    var (weight, scale) = RandomWeight(outF, inF, group, seed++);
                    var bias = randn(new[] { outF }, generator: new Generator((ulong)seed++));
                    foreach (int rows in Enumerable.Range(1, 13))
                    {
                        if (inF == 2048 && rows % 4 != 1) continue;   // the big rows at a few batch sizes: the tails are the small ones'
                        var x = randn(new[] { (long)rows, inF }, generator: new Generator((ulong)seed++));
                        foreach (var b in new[] { bias, null })
                        {
                            string what = $"{(group == 0 ? "int8" : $"q4 G{group}")} rows {rows} in {inF} out {outF} bias {b is not null}";
                            var expected = QuantizedMatmul.Reference(x, weight, scale, b);
                            var one = QuantizedMatmul.Gemm(x, weight, scale, b, threads: 1);
                            AssertClose(one, expected, x, weight, scale, b, 1e-5, what);
                            var two = QuantizedMatmul.Gemm(x, weight, scale, b, threads: 2);
                            Assert.IsTrue(one.equal(two).all().item<bool>(), $"{what}: threads 1 and 2 give different bits");
                        }
                    }
                }
            }
    }

    /// <summary>
    /// A row's result does not depend on the batch it is in: the first rows of a 13-row product equal the product of
    /// those rows alone, bit for bit (a prefill chunk's split never changes a token's values).
    /// </summary>
    [TestMethod]
    public void BatchSizeDoesNotChangeARowsBits()
    {
        using var _ = NewDisposeScope();
        foreach (int group in new[] { 0, 32 })
        {
            var (weight, scale) = RandomWeight(300, 2048, group, 40 + group);
            var x = randn(new long[] { 157, 2048 }, generator: new Generator(41));
            var all = QuantizedMatmul.Gemm(x, weight, scale, null, threads: 2);
            foreach (long rows in new long[] { 1, 5, 6, 7, 150 })
                Assert.IsTrue(QuantizedMatmul.Gemm(x.narrow(0, 0, rows), weight, scale, null, threads: 2).equal(all.narrow(0, 0, rows)).all().item<bool>(), $"group {group}, {rows} rows");
        }
    }

    /// <summary>Inputs of three dimensions come back in their shape; bfloat16 or gradient-needing inputs are refused with their dtype named.</summary>
    [TestMethod]
    public void KeepsTheInputsShapeAndRefusesWhatItDoesNotTake()
    {
        using var _ = NewDisposeScope();
        var (weight, scale) = RandomWeight(24, 64, 32, 50);
        var x = randn(new long[] { 2, 5, 64 }, generator: new Generator(51));
        var y = QuantizedMatmul.Gemm(x, weight, scale, null, threads: 2);
        CollectionAssert.AreEqual(new long[] { 2, 5, 24 }, y.shape);
        AssertClose(y, QuantizedMatmul.Reference(x, weight, scale, null), x, weight, scale, null, 1e-5, "3-D input");
        var e = Assert.ThrowsExactly<ArgumentException>(() => QuantizedMatmul.Gemm(x.to_type(ScalarType.BFloat16), weight, scale, null, 1));
        StringAssert.Contains(e.Message, "BFloat16");
        var wrong = Assert.ThrowsExactly<ArgumentException>(() => QuantizedMatmul.Forward(randn(3, 63), weight, scale, null));
        StringAssert.Contains(wrong.Message, "in_features 64");
    }

    /// <summary>
    /// The scalar path (what runs without AVX2 and FMA) against the twin, for int8 (with an input tail) and both q4 groups.
    /// </summary>
    [TestMethod]
    public unsafe void ScalarPathMatchesTheTensorTwin()
    {
        using var _ = NewDisposeScope();
        foreach (var (group, inF) in new[] { (0, 37L), (0, 256L), (32, 96L), (64, 256L) })
        {
            var (weight, scale) = RandomWeight(21, inF, group, 60 + group);
            var bias = randn(new long[] { 21 }, generator: new Generator(61));
            var x = randn(new[] { 5L, inF }, generator: new Generator(62));
            var y = empty(5, 21);
            var matrix = group == 0
                ? QuantizedMatrix.Int8((sbyte*)CpuKernelSupport.Ptr8(weight), CpuKernelSupport.Ptr(scale), (int)inF)
                : QuantizedMatrix.Q4(CpuKernelSupport.Ptr8(weight), CpuKernelSupport.Ptr16(scale), (int)inF, group);
            GemmCpu.ForwardScalar(CpuKernelSupport.Ptr(x), matrix, CpuKernelSupport.Ptr(bias), CpuKernelSupport.Ptr(y), 5, 21);
            AssertClose(y, QuantizedMatmul.Reference(x, weight, scale, bias), x, weight, scale, bias, 1e-5, $"scalar group {group} in {inF}");
        }
    }

    /// <summary>
    /// bfloat16 weights (<see cref="GemmCpu.ForwardBF16"/>) against libtorch's float32 linear of the widened weight, at
    /// tile tails and an input tail, on one and two threads (same bits).
    /// </summary>
    [TestMethod]
    public unsafe void BFloat16WeightsMatchTheWidenedProduct()
    {
        using var _ = NewDisposeScope();
        foreach (var (rows, inF, outF) in new[] { (1, 64, 16), (7, 37, 40), (13, 96, 70), (20, 2048, 50) })
        {
            var w = (randn(new long[] { outF, inF }, generator: new Generator(80)) * 0.05).to_type(ScalarType.BFloat16);
            var bias = randn(new long[] { outF }, generator: new Generator(81));
            var x = randn(new long[] { rows, inF }, generator: new Generator(82));
            var wide = w.to_type(ScalarType.Float32);
            var expected = nn.functional.linear(x, wide, bias);
            Tensor Run(int threads)
            {
                var y = empty(rows, outF);
                GemmCpu.ForwardBF16(CpuKernelSupport.Ptr(x), CpuKernelSupport.Ptr16(w), CpuKernelSupport.Ptr(bias), CpuKernelSupport.Ptr(y), rows, inF, outF, threads);
                return y;
            }
            var one = Run(1);
            var magnitude = nn.functional.linear(x.abs(), wide.abs(), bias.abs());
            Assert.IsTrue(((one - expected).abs() <= magnitude * 1e-5).all().item<bool>(), $"rows {rows} in {inF} out {outF}");
            Assert.IsTrue(one.equal(Run(2)).all().item<bool>(), $"rows {rows} in {inF} out {outF}: threads 1 and 2 give different bits");
        }
    }

    /// <summary>
    /// A <see cref="QuantizedLinear"/> on the CPU with several rows (the GEMM) against the same layer's tensor path, for
    /// float32 and bfloat16 inputs (a bfloat16 input is multiplied in float32 and the product rounded once, so the two
    /// differ by at most one bfloat16 step beyond the float32 tolerance), with activation quantization on and off.
    /// </summary>
    [TestMethod]
    public void QuantizedLinearTakesTheGemmForSeveralRows()
    {
        using var _ = NewDisposeScope();
        foreach (var scheme in new[] { JambaQuantization.Int8, JambaQuantization.Q4 })
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                foreach (var activations in new[] { ActivationQuantization.None, ActivationQuantization.Int8 })
                {
                    using var scope = NewDisposeScope();
                    using var linear = nn.Linear(128, 40, hasBias: true);
                    linear.to(dtype);
                    using var q = QuantizedLinear.FromLinear(linear, scheme, 32);
                    q.Activations = activations;
                    var x = randn(new long[] { 3, 7, 128 }, generator: new Generator(70)).to_type(dtype);
                    using var noGrad = no_grad();
                    var actual = q.forward(x);
                    var input = (q.QuantizesActivations ? Quantizer.FakeQuantizeActivations(x) : x).to_type(ScalarType.Float32);
                    var bias = q.bias!.to_type(ScalarType.Float32);
                    var expected = QuantizedMatmul.Reference(input, q.weight, q.weight_scale, bias);
                    Assert.AreEqual(dtype, actual.dtype);
                    string what = $"{scheme} {dtype} activations {activations}";
                    if (dtype == ScalarType.Float32) AssertClose(actual, expected, input, q.weight, q.weight_scale, bias, 1e-5, what);
                    else
                    {
                        var a = actual.to_type(ScalarType.Float32);
                        var tolerance = expected.abs() / 256 + nn.functional.linear(input.abs(), q.Dequantized(ScalarType.Float32).abs(), bias.abs()) * 1e-5;
                        Assert.IsTrue(((a - expected).abs() <= tolerance).all().item<bool>(), $"{what}: beyond one bfloat16 step");
                    }
                }
    }
}
