using System.CommandLine;
using System.Globalization;
using Jamba.Lab.Benchmarking;
using TorchSharp;

namespace Jamba.Cli.Commands;

/// <summary>`jamba bench kernels`: each kernel against its reference twin, timed in the same run.</summary>
internal sealed class BenchKernelsCommand : JambaCommand
{
    private readonly Option<int> length = CliOption.Int("--length", "L", "sequence length of the scan and conv kernels", 2048, 1);
    private readonly Option<int> channels = CliOption.Int("--channels", "D", "channels of the scan and conv kernels", 1024, 1);
    private readonly Option<int> moeTokens = CliOption.Int("--moe-tokens", "N", "tokens through the MoE dispatch", 4096, 1);
    private readonly Option<int> moeExperts = CliOption.Int("--moe-experts", "E", "experts of the MoE dispatch", 16, 2);
    private readonly Option<int> gemvIn = CliOption.Int("--gemv-in", "N", "input width of the int8/q4/bf16 GEMV lines (a multiple of 32)", 2048, 32);
    private readonly Option<int> gemvOut = CliOption.Int("--gemv-out", "N", "outputs of the GEMV lines", 8192, 1);
    private readonly Option<int> gemmRows = CliOption.Int("--gemm-rows", "M", "rows (prompt tokens) of the int8/q4 prefill GEMM lines", 64, 1);
    private readonly Option<string> only = CliOption.Text("--only", "GROUPS", "only these comma-separated groups: scan, conv, moe, gemv, gemm", "");
    private readonly Option<int> iterations = CliOption.Int("--iterations", "I", "timed iterations of each fast path", 5, 1);
    private readonly Option<int> referenceIterations = CliOption.Int("--reference-iterations", "I", "timed iterations of each reference twin", 3, 1);
    private readonly Option<int?> threads = ModelArgs.ThreadsOption();

    public BenchKernelsCommand() : base("kernels", "the scan, conv, MoE, quantized GEMV and prefill GEMM kernels against their twins",
        "Selective scan forward/backward/step, causal conv forward/backward, MoE dispatch (grouped vs dense twin vs two\n" +
        "dense MLPs of the same width), each against its reference in the same run; one-row GEMV with int8 and q4 weights\n" +
        "against bf16 weights, with the GB/s each streams; prefill GEMMs of bench-1b's shapes with int8 and q4 weights against\n" +
        "dequantizing and libtorch's float32 matmul, with the GFLOP/s each reaches.")
    {
        foreach (var option in new Option[] { length, channels, moeTokens, moeExperts, gemvIn, gemvOut, gemmRows, only, iterations, referenceIterations, threads })
            Options.Add(option);
    }

    protected override int Run(ParseResult parse)
    {
        ModelArgs.ApplyThreads(parse, threads);
        Console.WriteLine($"threads {torch.get_num_threads()}");
        Console.WriteLine($"{"kernel",-22} {"fast ms",10} {"twin ms",10} {"ratio",8}  shape — fast path vs twin");
        KernelBenchmarks.Run(new KernelBenchmarkOptions
        {
            Length = parse.GetValue(length), Channels = parse.GetValue(channels),
            MoeTokens = parse.GetValue(moeTokens), MoeExperts = parse.GetValue(moeExperts),
            GemvIn = parse.GetValue(gemvIn), GemvOut = parse.GetValue(gemvOut), GemmRows = parse.GetValue(gemmRows),
            Only = parse.GetValue(only)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Iterations = parse.GetValue(iterations), ReferenceIterations = parse.GetValue(referenceIterations),
            Progress = t => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{t.Name,-22} {t.FastMs,10:F2} {t.ReferenceMs,10:F2} {t.Speedup,7:F2}x  [{t.Shape}] {t.FastPath} vs {t.ReferencePath}")),
        });
        return 0;
    }
}
