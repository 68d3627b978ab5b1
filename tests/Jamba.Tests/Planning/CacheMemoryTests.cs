using Jamba.Inference;
using Jamba.Modeling;
using Jamba.Planning;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Planning;

[TestClass]
public sealed class CacheMemoryTests
{
    private const long Context256K = 262144;

    [TestMethod]
    public void PaperTable1KvCacheAt256K()
    {
        // Jamba paper, Table 1: KV cache at 256K context, 16-bit, batch 1 ("GB" = 2^30 bytes).
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            Assert.AreEqual(128 * Units.GiB, CacheMemory.KvBytes(Presets.Llama2_7B(), 1, Context256K, dtype));
            Assert.AreEqual(32 * Units.GiB, CacheMemory.KvBytes(Presets.Mistral7B(), 1, Context256K, dtype));
            Assert.AreEqual(32 * Units.GiB, CacheMemory.KvBytes(Presets.Mixtral8x7B(), 1, Context256K, dtype));
            Assert.AreEqual(4 * Units.GiB, CacheMemory.KvBytes(Presets.JambaV01(), 1, Context256K, dtype));
        }
        Assert.AreEqual(8 * Units.GiB, CacheMemory.KvBytes(Presets.JambaV01(), 1, Context256K, ScalarType.Float32));
        Assert.AreEqual(16 * Units.GiB, CacheMemory.KvBytes(Presets.JambaV01(), 4, Context256K, ScalarType.BFloat16));
    }

    [TestMethod]
    public void JambaMambaStateIsSmallAndContextFree()
    {
        var c = Presets.JambaV01();
        // 28 Mamba layers x d_inner 8192 x (d_conv 4 x 2 bytes + d_state 16 x 4 bytes).
        Assert.AreEqual(28L * 8192 * (4 * 2 + 16 * 4), CacheMemory.MambaStateBytes(c, 1, ScalarType.BFloat16));
        Assert.AreEqual(28L * 8192 * (4 * 2 + 16 * 2), CacheMemory.MambaStateBytes(c, 1, ScalarType.BFloat16, StateConvention.Paper));
        Assert.AreEqual(0L, CacheMemory.MambaStateBytes(Presets.Llama2_7B(), 1, ScalarType.BFloat16));
        Assert.AreEqual(16384L, CacheMemory.KvBytesPerToken(c, ScalarType.BFloat16));
    }

    [TestMethod]
    [DataRow(ScalarType.Float32)]
    [DataRow(ScalarType.BFloat16)]
    [DataRow(ScalarType.Float16)]
    public void PredictionEqualsWhatHybridCacheAllocates(ScalarType dtype)
    {
        var config = Presets.Tiny();
        config.NumHiddenLayers = 6; // layers 2 attention, 0,1,3,4,5 Mamba; 2 batch rows below
        const int batch = 2;
        using var cache = new HybridCache(config, batch, capacity: 4, dtype: dtype);
        Assert.AreEqual(CacheMemory.MambaStateBytes(config, batch, dtype), cache.MambaStateBytes);
        Assert.AreEqual(0L, cache.KvBytesUsed);

        var chunks = new long[] { 1, 3, 5, 1, 37 };
        long length = 0;
        var appended = new List<long>();
        foreach (long t in chunks)
        {
            for (int i = 0; i < config.NumHiddenLayers; i++)
            {
                if (config.LayerKindAt(i) != LayerKind.Attention) continue;
                using var k = randn(batch, config.NumKeyValueHeads, t, config.HeadDim).to_type(dtype);
                using var v = randn(batch, config.NumKeyValueHeads, t, config.HeadDim).to_type(dtype);
                cache.Kv(i).Append(k, v);
            }
            length += t;
            appended.Add(t);
            Assert.AreEqual(CacheMemory.KvBytes(config, batch, length, dtype), cache.KvBytesUsed, $"used at {length}");
            Assert.AreEqual(CacheMemory.MambaStateBytes(config, batch, dtype), cache.MambaStateBytes);
            long capacity = CacheMemory.KvCapacityAfter(4, appended);
            Assert.AreEqual(CacheMemory.KvBytes(config, batch, capacity, dtype) + CacheMemory.MambaStateBytes(config, batch, dtype),
                cache.BytesAllocated, $"allocated at {length}");
        }
    }

    [TestMethod]
    public void PaperConventionDiffersOnlyInSsmDtype()
    {
        var c = Presets.Small();
        Assert.AreEqual(CacheMemory.MambaStateBytes(c, 3, ScalarType.Float32),
            CacheMemory.MambaStateBytes(c, 3, ScalarType.Float32, StateConvention.Paper));
        Assert.IsTrue(CacheMemory.MambaStateBytes(c, 3, ScalarType.BFloat16) > CacheMemory.MambaStateBytes(c, 3, ScalarType.BFloat16, StateConvention.Paper));
    }
}
