using System.Globalization;
using Jamba.Engine.Cpu.Kernels;
using Jamba.Ops;
using Jamba.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Lab.Benchmarking;

/// <summary>
/// The prefill GEMM lines of <see cref="KernelBenchmarks"/>: a prompt's rows through a [out, in] weight with int8 and
/// q4 (group 32) weights, by the blocked GEMM (<see cref="QuantizedMatmul.Forward"/>, which takes <see cref="GemmCpu"/>
/// for several rows) against the tensor path it replaced (the whole weight dequantized to float32, then libtorch's
/// float32 linear), each with the GFLOP/s it reaches (2 · rows · in · out flops). A matrix–matrix product is bound
/// by arithmetic, so GFLOP/s against the cores' FMA peak says how good the kernel is.
/// </summary>
internal static class QuantizedGemmBenchmarks
{
    public static IEnumerable<KernelTiming> Run(KernelBenchmarkOptions o)
    {
        int threads = CpuKernelSupport.Threads;
        var results = new List<KernelTiming>();
        using var _ = no_grad();
        foreach (var (inF, outF) in o.GemmShapes)
        {
            using var scope = NewDisposeScope();
            var g = new Generator((ulong)o.Seed);
            var w = randn(new long[] { outF, inF }, generator: g) * 0.02;
            var x = randn(new long[] { o.GemmRows, inF }, generator: g);
            string shape = $"{o.GemmRows} rows, in {inF}, out {outF}, threads {threads}";
            double flops = 2.0 * o.GemmRows * inF * outF;
            string Rate(double ms) => string.Create(CultureInfo.InvariantCulture, $"{flops / (ms * 1e-3) / 1e9:F1} GFLOP/s");
            foreach (var (name, scheme) in new[] { ("gemm.int8", JambaQuantization.Int8), ("gemm.q4", JambaQuantization.Q4) })
            {
                var (q, s) = Quantizer.Quantize(w, scheme, 32);
                double fast = KernelBenchmarks.Median(o.Warmup, o.Iterations, () => { }, () => QuantizedMatmul.Forward(x, q, s, null), 1);
                double twin = KernelBenchmarks.Median(o.Warmup, o.Iterations, () => { }, () => nn.functional.linear(x, Dequantize.Forward(q, s, ScalarType.Float32)), 1);
                results.Add(KernelBenchmarks.Report(o, new KernelTiming(name, shape, fast, twin,
                    $"blocked GEMM {Rate(fast)}", $"dequantize + libtorch f32 linear {Rate(twin)}")));
            }
        }
        return results;
    }
}
