using Jamba.Engine.Cpu;
using Jamba.Engine.Cpu.Kernels;
using Jamba.Modeling;
using TorchSharp;
using static Jamba.Tests.Engine.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Engine;

[TestClass]
public sealed class DecodeAttentionTests
{
    // batch, heads, kv heads, head dim, capacity, length: one position, lengths off the run size and the vector
    // width, multi-head (no grouping), one KV head for all, long caches split into several runs, batch > 1.
    static readonly (int b, int h, int kv, int d, int cap, int len)[] Shapes =
    {
        (1, 8, 2, 64, 16, 1), (1, 4, 4, 16, 40, 37), (2, 6, 3, 24, 100, 99), (1, 8, 1, 64, 2048, 2000),
        (3, 4, 2, 40, 1200, 1111), (1, 2, 2, 7, 9, 9), (2, 8, 2, 64, 700, 513),
    };

    [TestMethod]
    public void Float32MatchesLibtorchAttention()
    {
        int seed = 0;
        foreach (var s in Shapes)
            foreach (bool padded in new[] { false, true })
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var (q, k, v, bias) = Inputs(s, padded, seed++, ScalarType.Float32);
                Assert.IsTrue(DecodeAttention.Applies(q, k, v, s.len, bias), $"{s}");
                var fast = DecodeAttention.TryForward(q, k, v, s.len, bias)!;
                Close(fast, DecodeAttention.Reference(q, k, v, s.len, bias), 2e-6, $"{s} padded={padded}");
            }
    }

    [TestMethod]
    public void BFloat16CacheMatchesFloat32AttentionWithinRounding()
    {
        int seed = 100;
        foreach (var s in Shapes)
            foreach (bool padded in new[] { false, true })
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var (q, k, v, bias) = Inputs(s, padded, seed++, ScalarType.BFloat16);
                var fast = DecodeAttention.TryForward(q, k, v, s.len, bias)!;
                Assert.AreEqual(ScalarType.BFloat16, fast.dtype);
                // The same bf16 inputs attended in float64: the kernel rounds once, at the output.
                static Tensor F64(Tensor? t) => t!.to_type(ScalarType.Float64);
                var exact = DecodeAttention.Reference(F64(q), F64(k), F64(v), s.len, padded ? F64(bias) : null);
                Assert.IsTrue(RelErr(fast, exact) <= 1.0 / 128, $"{s} padded={padded}: {RelErr(fast, exact):E2}");
            }
    }

    [TestMethod]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        // The runs a cache is cut into, and so the order partial results are merged in, depend on its length only.
        int seed = 200;
        foreach (var s in Shapes)
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var (q, k, v, bias) = Inputs(s, true, seed++, dtype);
                var one = DecodeAttention.TryForward(q, k, v, s.len, bias, 1)!;
                foreach (int threads in new[] { 2, 3, 8 })
                    Close(DecodeAttention.TryForward(q, k, v, s.len, bias, threads)!, one, 0, $"{s} {dtype}, {threads} threads against 1");
            }
        Assert.IsTrue(DecodeAttentionCpu.RunLength(2000) < 2000, "a long cache is cut into several runs, so the merge order is exercised");
    }

    [TestMethod]
    public void PositionsPastTheLengthAreNeverRead()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var s = (b: 1, h: 4, kv: 2, d: 16, cap: 64, len: 20);
        var (q, k, v, _) = Inputs(s, false, 7, ScalarType.Float32);
        var before = DecodeAttention.TryForward(q, k, v, s.len, null)!;
        k.narrow(2, s.len, s.cap - s.len).fill_(float.NaN);
        v.narrow(2, s.len, s.cap - s.len).fill_(1e30f);
        Close(DecodeAttention.TryForward(q, k, v, s.len, null)!, before, 0, "with garbage after the used positions");
    }

    [TestMethod]
    public void GradientsOtherDtypesAndBadShapesGoToLibtorch()
    {
        var q = randn(1, 4, 8);
        var k = randn(1, 2, 10, 8);
        Assert.IsFalse(DecodeAttention.Applies(q.to_type(ScalarType.Float64), k.to_type(ScalarType.Float64), k.to_type(ScalarType.Float64), 10, null), "float64");
        Assert.IsFalse(DecodeAttention.Applies(randn(1, 3, 8), k, k, 10, null), "heads not a multiple of kv heads");
        Assert.IsFalse(DecodeAttention.Applies(q, k, k, 11, null), "length past the capacity");
        Assert.IsFalse(DecodeAttention.Applies(q, k.transpose(2, 3).contiguous().transpose(2, 3), k, 10, null), "a strided cache");
        Assert.IsFalse(DecodeAttention.Applies(q, k, k, 10, zeros(1, 1, 1, 9)), "a bias of the wrong length");
        var qg = q.clone().requires_grad_();
        Assert.IsFalse(DecodeAttention.Applies(qg, k, k, 10, null));
        DecodeAttention.Forward(qg, k, k, 10, null).sum().backward();
        Assert.IsNotNull(qg.grad, "backward through the twin");
    }

    [TestMethod]
    public void AttentionLayerDecodeEqualsFullForward()
    {
        // The layer's decode branch (kernel over the cache buffers) against the same positions attended at once.
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var config = TestConfigs.Tiny();
        var attention = new JambaAttention(config);
        attention.eval();
        var x = randn(new long[] { 2, 9, config.HiddenSize }, generator: new Generator(3));
        var full = attention.Forward(x, null, true, null);
        using var cache = new HybridCache(config, 2, 4);
        var kv = cache.Kv(config.AttnLayerOffset);
        attention.Forward(x.narrow(1, 0, 5), null, true, kv);
        for (int t = 5; t < 9; t++)
            Close(attention.Forward(x.narrow(1, t, 1), null, false, kv), full.narrow(1, t, 1), 1e-5, $"step {t}");
    }

    [TestMethod]
    public void LongContextChunkAttendsInBiasSlicesLikeOneFullPass()
    {
        // A chunk after 40,000 cached positions: its causal bias is built in several query slices (each at most
        // 16 MiB) and the grouped heads attend over broadcast KV heads; the result must equal the whole sequence
        // attended in one causal pass.
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var config = TestConfigs.Tiny();
        var attention = new JambaAttention(config);
        attention.eval();
        long past = 40_000, t = 300;
        var x = randn(new long[] { 1, past + t, config.HiddenSize }, generator: new Generator(5));
        var full = attention.Forward(x, null, true, null).narrow(1, past, t);
        using var cache = new HybridCache(config, 1, past + t);
        var kv = cache.Kv(config.AttnLayerOffset);
        attention.Forward(x.narrow(1, 0, past), null, true, kv);
        Close(attention.Forward(x.narrow(1, past, t), null, true, kv), full, 1e-5, "last chunk");
    }

    static (Tensor q, Tensor k, Tensor v, Tensor? bias) Inputs((int b, int h, int kv, int d, int cap, int len) s, bool padded, int seed, ScalarType dtype)
    {
        var g = new Generator((ulong)seed);
        var q = randn(new long[] { s.b, s.h, s.d }, generator: g).mul(2).to_type(dtype);
        var k = randn(new long[] { s.b, s.kv, s.cap, s.d }, generator: g).to_type(dtype);
        var v = randn(new long[] { s.b, s.kv, s.cap, s.d }, generator: g).to_type(dtype);
        if (!padded) return (q, k, v, null);
        // Left padding as CausalMask builds it: row r has its first r·3 positions masked with the dtype's minimum.
        var bias = zeros(new long[] { s.b, 1, 1, s.len }, dtype: dtype);
        for (int r = 0; r < s.b; r++)
        {
            int masked = Math.Min(s.len - 1, r * 3 + (s.len > 1 ? 1 : 0));
            if (masked > 0) bias[r, 0, 0].narrow(0, 0, masked).fill_(CausalMask.MinValue(dtype));
        }
        return (q, k, v, bias);
    }
}
