using BenchmarkDotNet.Attributes;
using Jamba.Engine.Cpu;
using static TorchSharp.torch;

namespace Jamba.Benchmarks;

/// <summary>
/// One decode-step projection, a single row times a weight matrix: <see cref="DecodeLinear.Forward(Tensor, Tensor, Tensor?)"/>
/// (W streamed on every core) against <c>torch.nn.functional.linear</c>, which runs a matrix–vector product on one
/// core. In float32 and in bfloat16, the two dtypes the kernel takes.
/// </summary>
/// <remarks>
/// The default 1024 → 4096 weight is 16 MiB in float32: larger than the caches, so the product is bound by memory
/// bandwidth as in a real decode step, while one invocation still takes about a millisecond.
/// </remarks>
public class DecodeLinearBenchmarks
{
    Tensor x = null!, weight = null!, bias = null!;

    /// <summary>The dtypes the kernel runs in.</summary>
    public enum DType { F32, BF16 }

    [Params(DType.F32, DType.BF16)] public DType Type;
    [Params(1024)] public int In;
    [Params(4096)] public int Out;

    [GlobalSetup]
    public void Setup()
    {
        var dtype = Type == DType.F32 ? ScalarType.Float32 : ScalarType.BFloat16;
        using var g = new Generator(0);
        using var scope = NewDisposeScope();
        x = randn(new long[] { 1, In }, generator: g).to_type(dtype).MoveToOuterDisposeScope();
        weight = randn(new long[] { Out, In }, generator: g).to_type(dtype).MoveToOuterDisposeScope();
        bias = randn(new long[] { Out }, generator: g).to_type(dtype).MoveToOuterDisposeScope();
        // Guard against measuring the fallback twice: if the kernel's conditions change, fail the setup loudly.
        if (!DecodeLinear.Applies(x, weight, bias))
            throw new InvalidOperationException("DecodeLinear does not take these inputs; the benchmark would time libtorch against itself.");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        x.Dispose(); weight.Dispose(); bias.Dispose();
    }

    [Benchmark(Baseline = true, Description = "nn.functional.linear")]
    public void Linear()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        nn.functional.linear(x, weight, bias);
    }

    [Benchmark(Description = "DecodeLinear kernel")]
    public void Kernel()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        DecodeLinear.Forward(x, weight, bias);
    }
}
