using Jamba.Engine.Cpu;
using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static Jamba.Tests.Engine.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Engine;

[TestClass]
public sealed unsafe class DecodeLinearTests
{
    // rows, in, out, bias: sizes off the vector width, one output, weights large enough to be split across threads,
    // and one whose blocks' bfloat16 sums outgrow the kernel's stack scratch (4 rows × 7,500 outputs per block).
    static readonly (int rows, int inF, int outF, bool bias)[] Shapes =
    {
        (1, 1, 1, false), (1, 37, 5, true), (2, 64, 3, false), (3, 33, 17, true), (4, 512, 300, true), (1, 1024, 2048, false),
        (4, 16, 20000, true),
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

    /// <summary>
    /// Four inputs sharing one pass over a weight row get the bits each gets alone, in float32 and bfloat16, for lengths
    /// on and off every loop's step: a row's result must not depend on how many rows a batch has.
    /// </summary>
    [TestMethod]
    public void FourRowsInOnePassEqualEachRowAlone()
    {
        var rng = new Random(5);
        foreach (int n in new[] { 1, 7, 8, 15, 16, 31, 32, 33, 40, 48, 63, 64, 100, 512, 1027 })
        {
            var w = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var w16 = w.Select(Jamba.Engine.Cpu.Kernels.BFloat16.FromSingle).ToArray();
            long stride = n + 3;
            var x = Enumerable.Range(0, (int)(4 * stride)).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            fixed (float* pw = w, px = x)
            fixed (ushort* pw16 = w16)
            {
                var f32 = DecodeLinearCpu.DotF32x4(pw, px, stride, n);
                var b16 = DecodeLinearCpu.DotBF16Preparedx4(pw16, px, stride, n);
                for (int q = 0; q < 4; q++)
                {
                    Assert.AreEqual(BitConverter.SingleToInt32Bits(DecodeLinearCpu.DotF32(pw, px + q * stride, n)), BitConverter.SingleToInt32Bits(f32[q]), $"f32, n {n}, row {q}");
                    Assert.AreEqual(BitConverter.SingleToInt32Bits(DecodeLinearCpu.DotBF16Prepared(pw16, px + q * stride, n)), BitConverter.SingleToInt32Bits(b16[q]), $"bf16, n {n}, row {q}");
                }
            }
        }
    }

    /// <summary>Two rows dotted in one pass give each row's single-pass bits, whatever the length's tails.</summary>
    [TestMethod]
    public unsafe void TwoRowsInOnePassEqualEachRowAlone()
    {
        var rng = new Random(6);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        foreach (int n in new[] { 1, 7, 8, 15, 16, 17, 31, 32, 33, 40, 48, 63, 64, 100, 512, 1027 })
        {
            float[] a = Random(n), b = Random(n), xa = Random(n), xb = Random(n);
            ushort[] a16 = a.Select(Jamba.Engine.Cpu.Kernels.BFloat16.FromSingle).ToArray(), b16 = b.Select(Jamba.Engine.Cpu.Kernels.BFloat16.FromSingle).ToArray();
            fixed (float* pa = a, pb = b, pxa = xa, pxb = xb)
            fixed (ushort* pa16 = a16, pb16 = b16)
            {
                var (fa, fb) = DecodeLinearCpu.DotF32Pair(pa, pxa, pb, pxb, n);
                var (ha, hb) = DecodeLinearCpu.DotBF16PreparedPair(pa16, pxa, pb16, pxb, n);
                static int Bits(float v) => BitConverter.SingleToInt32Bits(v);
                Assert.AreEqual(Bits(DecodeLinearCpu.DotF32(pa, pxa, n)), Bits(fa), $"f32, n {n}, row a");
                Assert.AreEqual(Bits(DecodeLinearCpu.DotF32(pb, pxb, n)), Bits(fb), $"f32, n {n}, row b");
                Assert.AreEqual(Bits(DecodeLinearCpu.DotBF16Prepared(pa16, pxa, n)), Bits(ha), $"bf16, n {n}, row a");
                Assert.AreEqual(Bits(DecodeLinearCpu.DotBF16Prepared(pb16, pxb, n)), Bits(hb), $"bf16, n {n}, row b");
            }
        }
    }

    /// <summary>A block's walk in pairs from its two halves visits every output once; without pairs, in order.</summary>
    [TestMethod]
    public void HalvesVisitEveryOutputOnce()
    {
        foreach (long start in new long[] { 0, 5 })
            foreach (long count in new long[] { 0, 1, 2, 3, 4, 7, 8, 1001 })
            {
                var walk = new Visits { Seen = new List<long>(), Paired = new List<(long, long)>(), Pairs = true };
                DecodeLinearCpu.ForHalves(start, start + count, ref walk);
                CollectionAssert.AreEquivalent(Enumerable.Range((int)start, (int)count).Select(i => (long)i).ToList(), walk.Seen, $"[{start}, {start + count})");
                Assert.AreEqual(count / 2, walk.Paired.Count, $"[{start}, {start + count}): all but an odd one in pairs");
                foreach (var (a, b) in walk.Paired) Assert.AreEqual((count + 1) / 2, b - a, "a pair's rows lie half a block apart");
                var inOrder = new Visits { Seen = new List<long>(), Paired = new List<(long, long)>(), Pairs = false };
                DecodeLinearCpu.ForHalves(start, start + count, ref inOrder);
                CollectionAssert.AreEqual(Enumerable.Range((int)start, (int)count).Select(i => (long)i).ToList(), inOrder.Seen, "without pairs: in order");
                Assert.AreEqual(0, inOrder.Paired.Count);
            }
    }

    struct Visits : DecodeLinearCpu.IRowKernel
    {
        public List<long> Seen;
        public List<(long, long)> Paired;
        public bool Pairs { get; init; }
        public void One(long o) => Seen.Add(o);
        public void Pair(long a, long b) { Seen.Add(a); Seen.Add(b); Paired.Add((a, b)); }
    }

    /// <summary>The blocks a product is cut into cover its outputs exactly once, in order, for any block count.</summary>
    [TestMethod]
    public void BlocksPartitionTheOutputs()
    {
        foreach (long count in new long[] { 0, 1, 2, 3, 7, 8, 1000, 20001 })
            foreach (int blocks in new[] { 1, 2, 3, 4, 6, 8, 16 })
            {
                long next = 0;
                for (int b = 0; b < blocks; b++)
                {
                    var (start, end) = DecodeLinearCpu.Range(b, blocks, count);
                    Assert.AreEqual(next, start, $"count {count}, block {b} of {blocks} starts where the last ended");
                    Assert.IsTrue(end >= start, $"count {count}, block {b} of {blocks}: [{start}, {end})");
                    next = end;
                }
                Assert.AreEqual(count, next, $"count {count}, {blocks} blocks end at the last output");
            }
        // Two threads: each starts a long block (three eighths), then two short ones (an eighth each).
        Assert.AreEqual((0L, 3000L), DecodeLinearCpu.Range(0, 4, 8000));
        Assert.AreEqual((3000L, 6000L), DecodeLinearCpu.Range(1, 4, 8000));
        Assert.AreEqual((7000L, 8000L), DecodeLinearCpu.Range(3, 4, 8000));
        Assert.AreEqual(1, DecodeLinearCpu.BlockCount(1 << 15, 100, 2), "too small to share");
        Assert.AreEqual(4, DecodeLinearCpu.BlockCount(1 << 20, 2048, 2));
        Assert.AreEqual(3, DecodeLinearCpu.BlockCount(1 << 20, 3, 2), "no more blocks than outputs");
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
