using BenchmarkDotNet.Attributes;
using Jamba.Ops;
using static TorchSharp.torch;

namespace Jamba.Benchmarks;

/// <summary>
/// A prefill projection in bfloat16, a prompt's rows times a weight matrix: <see cref="BFloat16Linear"/>'s blocked
/// float32 GEMM over bfloat16 weight panels against <c>torch.nn.functional.linear</c> in bfloat16, which on CPUs without
/// AVX-512 takes libtorch's generic path.
/// </summary>
/// <remarks>
/// 64 rows of 2048 into 5632, an MLP projection of bench-1b on a 64-token prompt: 1.5 GFLOP a call, a weight of 22 MiB
/// that does not fit the caches, as in the model.
/// </remarks>
public class BFloat16LinearBenchmarks
{
    Tensor x = null!, weight = null!;

    [Params(64)] public int Rows;
    [Params(2048)] public int In;
    [Params(5632)] public int Out;

    [GlobalSetup]
    public void Setup()
    {
        using var g = new Generator(0);
        using var scope = NewDisposeScope();
        x = randn(new long[] { Rows, In }, generator: g).to_type(ScalarType.BFloat16).MoveToOuterDisposeScope();
        weight = (randn(new long[] { Out, In }, generator: g) * 0.02).to_type(ScalarType.BFloat16).MoveToOuterDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        x.Dispose(); weight.Dispose();
    }

    [Benchmark(Baseline = true, Description = "nn.functional.linear (bf16)")]
    public void Linear()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        nn.functional.linear(x, weight);
    }

    [Benchmark(Description = "BFloat16Linear GEMM")]
    public void Gemm()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        BFloat16Linear.Gemm(x, weight, null);
    }
}
