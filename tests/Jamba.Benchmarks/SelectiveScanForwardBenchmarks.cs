using BenchmarkDotNet.Attributes;
using Jamba.Ops;
using static TorchSharp.torch;

namespace Jamba.Benchmarks;

/// <summary>
/// The selective scan forward (inference, no gradients): the fused CPU kernel behind <see cref="SelectiveScan.Forward"/>
/// against <see cref="SelectiveScan.Reference"/>, the per-timestep scan it is tested against. The line
/// <c>scan.forward</c> of <c>jamba bench kernels</c>.
/// </summary>
public class SelectiveScanForwardBenchmarks
{
    ScanInputs inputs = null!;

    [Params(1)] public int Batch;
    [ParamsSource(typeof(BenchmarkShapes), nameof(BenchmarkShapes.Lengths))] public int Length;
    [ParamsSource(typeof(BenchmarkShapes), nameof(BenchmarkShapes.Channels))] public int Channels;
    [Params(16)] public int State;

    [GlobalSetup]
    public void Setup() => inputs = new ScanInputs(Batch, Channels, Length, State, seed: 0);

    [GlobalCleanup]
    public void Cleanup() => inputs.Dispose();

    // The reference is the baseline so that the Ratio column reads as "fraction of the reference's time".
    [Benchmark(Baseline = true, Description = "per-timestep reference")]
    public void Reference()
    {
        // The scope frees y, the final state and every per-step temporary before the next invocation, so memory
        // stays flat over the thousands of invocations BenchmarkDotNet makes.
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var i = inputs;
        SelectiveScan.Reference(i.X, i.Delta, i.A, i.B, i.C, i.D, i.Z);
    }

    [Benchmark(Description = "fused CPU kernel")]
    public void Fused()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var i = inputs;
        SelectiveScan.Forward(i.X, i.Delta, i.A, i.B, i.C, i.D, i.Z);
    }
}
