using BenchmarkDotNet.Attributes;
using Jamba.Engine.Cpu;
using static TorchSharp.torch;

namespace Jamba.Benchmarks;

/// <summary>
/// A decode step's attention: one query per row over a KV cache of <see cref="Length"/> positions (bench-30m's
/// 8 query heads over 2 KV heads of 64), <see cref="DecodeAttention.TryForward(Tensor, Tensor, Tensor, long, Tensor?)"/>
/// read in place against <see cref="DecodeAttention.Reference"/>, libtorch's fused attention on the same buffers.
/// </summary>
public class DecodeAttentionBenchmarks
{
    Tensor q = null!, keys = null!, values = null!;

    [Params(20, 2000, 8000)] public int Length;

    [GlobalSetup]
    public void Setup()
    {
        using var g = new Generator(0);
        using var scope = NewDisposeScope();
        q = randn(new long[] { 1, 8, 64 }, generator: g).MoveToOuterDisposeScope();
        keys = randn(new long[] { 1, 2, Length + 64, 64 }, generator: g).MoveToOuterDisposeScope();
        values = randn(new long[] { 1, 2, Length + 64, 64 }, generator: g).MoveToOuterDisposeScope();
        if (!DecodeAttention.Applies(q, keys, values, Length, null))
            throw new InvalidOperationException("DecodeAttention does not take these inputs; the benchmark would time libtorch against itself.");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        q.Dispose(); keys.Dispose(); values.Dispose();
    }

    [Benchmark(Baseline = true, Description = "scaled_dot_product_attention")]
    public void Reference()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        DecodeAttention.Reference(q, keys, values, Length, null);
    }

    [Benchmark(Description = "DecodeAttention kernel")]
    public void Kernel()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        DecodeAttention.TryForward(q, keys, values, Length, null);
    }
}
