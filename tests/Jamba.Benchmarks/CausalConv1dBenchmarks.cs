using BenchmarkDotNet.Attributes;
using Jamba.Ops;
using static TorchSharp.torch;

namespace Jamba.Benchmarks;

/// <summary>
/// The Mamba mixer's causal depthwise conv + SiLU, forward: the fused CPU kernel behind <see cref="CausalConv1d.Forward"/>
/// against <see cref="CausalConv1d.Reference"/> (libtorch's grouped conv1d, then SiLU). The line <c>conv.forward</c>
/// of <c>jamba bench kernels</c>.
/// </summary>
public class CausalConv1dBenchmarks
{
    Tensor x = null!, weight = null!, bias = null!;

    [Params(1)] public int Batch;
    [ParamsSource(typeof(BenchmarkShapes), nameof(BenchmarkShapes.Lengths))] public int Length;
    [ParamsSource(typeof(BenchmarkShapes), nameof(BenchmarkShapes.Channels))] public int Channels;
    [Params(4)] public int Width;

    [GlobalSetup]
    public void Setup()
    {
        using var g = new Generator(0);
        x = randn(new long[] { Batch, Channels, Length }, generator: g);
        weight = randn(new long[] { Channels, 1, Width }, generator: g);
        bias = randn(new long[] { Channels }, generator: g);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        x.Dispose(); weight.Dispose(); bias.Dispose();
    }

    [Benchmark(Baseline = true, Description = "libtorch conv1d + SiLU")]
    public void Reference()
    {
        // The scope frees the output (and the padded conv result) before the next invocation.
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        CausalConv1d.Reference(x, weight, bias);
    }

    [Benchmark(Description = "fused CPU conv+SiLU")]
    public void Fused()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        CausalConv1d.Forward(x, weight, bias);
    }
}
