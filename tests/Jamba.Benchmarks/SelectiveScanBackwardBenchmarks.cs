using BenchmarkDotNet.Attributes;
using Jamba.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Benchmarks;

/// <summary>
/// The selective scan backward: the fused, checkpointed CPU backward of <see cref="SelectiveScan.Forward"/> against
/// autograd through <see cref="SelectiveScan.Reference"/>. As in <c>scan.backward</c> of <c>jamba bench kernels</c>,
/// only <c>backward()</c> is timed: the forward that builds the graph runs in <c>[IterationSetup]</c>.
/// </summary>
/// <remarks>
/// <c>[IterationSetup]</c> makes BenchmarkDotNet run one invocation per iteration, which it advises only for
/// operations of 100 ms or more; the backward at the default size takes milliseconds to tens of milliseconds, so
/// these timings are noisier than the forward ones, but a backward cannot be repeated without a fresh graph, and
/// timing forward + backward together would hide the backward's own speed-up behind the forward's.
/// </remarks>
public class SelectiveScanBackwardBenchmarks
{
    ScanInputs inputs = null!;
    Tensor[] leaves = null!;
    Tensor gradOutput = null!;
    DisposeScope? graphScope;
    Tensor? loss;

    [Params(1)] public int Batch;
    [ParamsSource(typeof(BenchmarkShapes), nameof(BenchmarkShapes.Lengths))] public int Length;
    [ParamsSource(typeof(BenchmarkShapes), nameof(BenchmarkShapes.Channels))] public int Channels;
    [Params(16)] public int State;

    [GlobalSetup]
    public void Setup()
    {
        inputs = new ScanInputs(Batch, Channels, Length, State, seed: 0);
        using (NewDisposeScope())
        {
            using var g = new Generator(1);
            // Detached leaves that want gradients, as in the hand-rolled benchmark: every input gets a gradient.
            leaves = inputs.All.Select(t => t.detach().requires_grad_(true).MoveToOuterDisposeScope()).ToArray();
            gradOutput = randn(new long[] { Batch, Channels, Length }, generator: g).MoveToOuterDisposeScope();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in leaves) t.Dispose();
        gradOutput.Dispose();
        inputs.Dispose();
    }

    // One setup per benchmark method: each builds the graph of the path it times.
    [IterationSetup(Target = nameof(Reference))]
    public void SetupReference() => BuildGraph(l => SelectiveScan.Reference(l[0], l[1], l[2], l[3], l[4], l[5], l[6]).y);

    [IterationSetup(Target = nameof(Fused))]
    public void SetupFused() => BuildGraph(l => SelectiveScan.Forward(l[0], l[1], l[2], l[3], l[4], l[5], l[6]).y);

    void BuildGraph(Func<Tensor[], Tensor> forward)
    {
        // The scope stays open across the timed backward (it owns the graph's saved tensors and the handles .grad
        // returns) and is closed in [IterationCleanup].
        graphScope = NewDisposeScope();
        foreach (var t in leaves) t.grad?.zero_();
        loss = (forward(leaves) * gradOutput).sum();
    }

    [IterationCleanup]
    public void CleanupGraph()
    {
        graphScope?.Dispose();
        graphScope = null;
        loss = null;
    }

    [Benchmark(Baseline = true, Description = "autograd through reference")]
    public void Reference() => Backward();

    [Benchmark(Description = "fused CPU backward (checkpointed)")]
    public void Fused() => Backward();

    void Backward()
    {
        // Gradients accumulate into the leaves' .grad (kept across iterations and zeroed in setup); the scope frees
        // the temporaries backward() hands back to managed code.
        using var scope = NewDisposeScope();
        loss!.backward();
    }
}
