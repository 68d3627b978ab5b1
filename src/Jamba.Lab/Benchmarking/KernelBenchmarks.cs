using System.Diagnostics;
using Jamba.Engine.Cpu;
using Jamba.Engine.Cpu.Kernels;
using Jamba.Ops;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Lab.Benchmarking;

/// <summary>Sizes and repetition counts for <see cref="KernelBenchmarks.Run"/>.</summary>
public sealed record KernelBenchmarkOptions
{
    /// <summary>Batch size of the scan and conv inputs.</summary>
    public int Batch { get; init; } = 1;
    /// <summary>Sequence length.</summary>
    public int Length { get; init; } = 2048;
    /// <summary>Mamba inner channels.</summary>
    public int Channels { get; init; } = 1024;
    /// <summary>SSM state size.</summary>
    public int State { get; init; } = 16;
    /// <summary>Causal conv kernel width.</summary>
    public int ConvWidth { get; init; } = 4;
    /// <summary>Tokens routed through the MoE benchmark layer (prefill-sized).</summary>
    public int MoeTokens { get; init; } = 4096;
    /// <summary>Experts of the MoE benchmark layer.</summary>
    public int MoeExperts { get; init; } = 16;
    /// <summary>Experts per token of the MoE benchmark layer.</summary>
    public int MoeTopK { get; init; } = 2;
    /// <summary>Hidden width of the MoE benchmark layer (bench-30m's).</summary>
    public int MoeHidden { get; init; } = 512;
    /// <summary>Intermediate width of each expert (bench-30m's).</summary>
    public int MoeIntermediate { get; init; } = 1024;
    /// <summary>Input width of the GEMV benchmarks (a multiple of 32, the q4 group).</summary>
    public int GemvIn { get; init; } = 2048;
    /// <summary>Outputs of the GEMV benchmarks: 2048 × 8192 is 32 MiB of bfloat16 weights, beyond the caches.</summary>
    public int GemvOut { get; init; } = 8192;
    /// <summary>Rows of the prefill GEMM benchmarks (a 64-token prompt).</summary>
    public int GemmRows { get; init; } = 64;
    /// <summary>(in, out) of the prefill GEMM benchmarks: bench-1b's Mamba in_proj and out_proj, MLP up and down.</summary>
    public IReadOnlyList<(int In, int Out)> GemmShapes { get; init; } = [(2048, 8192), (4096, 2048), (2048, 5632), (5632, 2048)];
    /// <summary>Only these groups of lines: scan, conv, moe, gemv, gemm (all when empty).</summary>
    public IReadOnlyList<string> Only { get; init; } = [];
    /// <summary>Untimed runs before measuring (JIT, allocator and cache warm-up).</summary>
    public int Warmup { get; init; } = 1;
    /// <summary>Timed runs per measurement; the median is reported.</summary>
    public int Iterations { get; init; } = 5;
    /// <summary>
    /// Timed runs of the reference twins (at least one, no warm-up). Kept separate because autograd through the
    /// per-timestep reference is very slow at full size: every one of its per-step slices backpropagates into a
    /// zero-filled gradient of the whole [batch, channels, length, state] tensor.
    /// </summary>
    public int ReferenceIterations { get; init; } = 3;
    /// <summary>Seed for the random inputs.</summary>
    public int Seed { get; init; } = 0;
    /// <summary>Called with each result as soon as it is measured (progress for a CLI).</summary>
    public Action<KernelTiming>? Progress { get; init; }
}

/// <summary>
/// One benchmark line: the fast path and its reference twin timed in the same run on the same inputs.
/// </summary>
/// <param name="Name">What was timed, e.g. <c>scan.forward</c>.</param>
/// <param name="Shape">The input sizes, human readable.</param>
/// <param name="FastMs">Median milliseconds of the fast path.</param>
/// <param name="ReferenceMs">Median milliseconds of the reference twin.</param>
/// <param name="FastPath">Which implementation the fast time is for.</param>
/// <param name="ReferencePath">Which implementation the reference time is for.</param>
public sealed record KernelTiming(string Name, string Shape, double FastMs, double ReferenceMs, string FastPath, string ReferencePath)
{
    /// <summary>How many times faster the fast path is (reference time / fast time).</summary>
    public double Speedup => ReferenceMs / FastMs;
}

/// <summary>
/// Times each kernel against its slow, obviously correct twin (used by <c>jamba bench kernels</c>). Both run in
/// the same process on the same inputs so the ratio is meaningful even on a noisy shared machine.
/// </summary>
public static class KernelBenchmarks
{
    /// <summary>Runs every kernel benchmark on CPU and returns one record per kernel.</summary>
    public static IReadOnlyList<KernelTiming> Run(KernelBenchmarkOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var results = new List<KernelTiming>();
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)o.Seed);
        long b = o.Batch, d = o.Channels, l = o.Length, n = o.State;
        var x = randn(new[] { b, d, l }, generator: g);
        var delta = nn.functional.softplus(randn(new[] { b, d, l }, generator: g) - 2);
        var A = -exp(randn(new[] { d, n }, generator: g) * 0.5);
        var B = randn(new[] { b, l, n }, generator: g);
        var C = randn(new[] { b, l, n }, generator: g);
        var D = randn(new[] { d }, generator: g);
        var z = randn(new[] { b, d, l }, generator: g);
        string scanShape = $"batch {b}, channels {d}, length {l}, state {n}";

        bool Wants(string group) => o.Only.Count == 0 || o.Only.Contains(group);
        if (Wants("scan"))
            using (no_grad())
            {
                results.Add(Compare(o, "scan.forward", scanShape,
                    "fused CPU kernel", () => SelectiveScan.Forward(x, delta, A, B, C, D, z),
                    "per-timestep reference", () => SelectiveScan.Reference(x, delta, A, B, C, D, z)));
                results.Add(Compare(o, "scan.forward.chunked", scanShape,
                    "chunked tensor-op scan (device path)", () => SelectiveScanChunked.Forward(x, delta, A, B, C, D, z),
                    "per-timestep reference", () => SelectiveScan.Reference(x, delta, A, B, C, D, z)));
            }

        var leaves = new[] { x, delta, A, B, C, D, z }.Select(t => t.detach().requires_grad_(true)).ToArray();
        var gy = randn(new[] { b, d, l }, generator: g);
        // Only backward() is timed; the graph is built by the untimed setup of each repetition.
        if (Wants("scan")) results.Add(CompareBackward(o, "scan.backward", scanShape,
            "fused CPU backward (checkpointed)", () => SelectiveScan.Forward(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], leaves[6]).y,
            "autograd through reference", () => SelectiveScan.Reference(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], leaves[6]).y,
            gy, leaves));

        var state = zeros(b, d, n);
        var xs = x.select(2, 0); var ds = delta.select(2, 0); var zs = z.select(2, 0); var bs = B.select(1, 0); var cs = C.select(1, 0);
        if (Wants("scan")) results.Add(Compare(o, "scan.step", $"batch {b}, channels {d}, state {n}",
            "CPU step kernel", () => SelectiveScan.Step(state, xs, ds, A, bs, cs, D, zs),
            "tensor-op step", () => SelectiveScan.StepTensorOps(state, xs, ds, A, bs, cs, D, zs), inner: 100));

        var w = randn(new long[] { d, 1, o.ConvWidth }, generator: g);
        var cb = randn(new[] { d }, generator: g);
        string convShape = $"batch {b}, channels {d}, length {l}, width {o.ConvWidth}";
        if (Wants("conv"))
            using (no_grad())
                results.Add(Compare(o, "conv.forward", convShape,
                    "fused CPU conv+SiLU", () => CausalConv1d.Forward(x, w, cb),
                    "libtorch conv1d + SiLU", () => CausalConv1d.Reference(x, w, cb)));
        var convLeaves = new[] { x, w, cb }.Select(t => t.detach().requires_grad_(true)).ToArray();
        if (Wants("conv")) results.Add(CompareBackward(o, "conv.backward", convShape,
            "fused CPU conv+SiLU backward", () => CausalConv1d.Forward(convLeaves[0], convLeaves[1], convLeaves[2]),
            "autograd through libtorch conv1d", () => CausalConv1d.Reference(convLeaves[0], convLeaves[1], convLeaves[2]),
            gy, convLeaves));

        if (Wants("moe")) results.AddRange(MoeBenchmarks.Run(o, g));
        if (Wants("gemv")) results.AddRange(QuantizedGemvBenchmarks.Run(o));
        if (Wants("gemm")) results.AddRange(QuantizedGemmBenchmarks.Run(o));
        return results;
    }

    internal static KernelTiming Compare(KernelBenchmarkOptions o, string name, string shape, string fastName, Func<object> fast,
        string refName, Func<object> reference, int inner = 1)
        => Report(o, new(name, shape, Median(o.Warmup, o.Iterations, () => { }, fast, inner),
            Median(0, o.ReferenceIterations, () => { }, reference, inner), fastName, refName));

    internal static KernelTiming Report(KernelBenchmarkOptions o, KernelTiming t)
    {
        o.Progress?.Invoke(t);
        return t;
    }

    static KernelTiming CompareBackward(KernelBenchmarkOptions o, string name, string shape, string fastName, Func<Tensor> fast,
        string refName, Func<Tensor> reference, Tensor gy, Tensor[] leaves)
    {
        double Time(Func<Tensor> forward, int warmup, int iterations)
        {
            Tensor? loss = null;
            return Median(warmup, iterations,
                () => { foreach (var t in leaves) t.grad?.zero_(); loss = (forward() * gy).sum(); },
                () => { loss!.backward(); return loss; }, 1);
        }
        return Report(o, new(name, shape, Time(fast, o.Warmup, o.Iterations), Time(reference, 0, o.ReferenceIterations), fastName, refName));
    }

    /// <summary>Median wall time of <paramref name="timed"/> (per call, averaged over <paramref name="inner"/> calls) after warm-up.</summary>
    internal static double Median(int warmup, int iterations, Action setup, Func<object> timed, int inner)
    {
        var samples = new List<double>();
        for (int i = 0; i < warmup + Math.Max(1, iterations); i++)
        {
            using var scope = NewDisposeScope();
            setup();
            var sw = Stopwatch.StartNew();
            for (int k = 0; k < inner; k++) timed();
            sw.Stop();
            if (i >= warmup) samples.Add(sw.Elapsed.TotalMilliseconds / inner);
        }
        samples.Sort();
        return samples[samples.Count / 2];
    }
}
