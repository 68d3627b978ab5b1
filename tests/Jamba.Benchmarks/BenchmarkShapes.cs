namespace Jamba.Benchmarks;

/// <summary>
/// The input sizes the benchmarks run at. The defaults are small so that a ShortRun of each benchmark ends in well
/// under a minute on a 2-core machine; <c>JAMBA_BENCH_FULL=1</c> switches to the sizes of <c>jamba bench kernels</c>
/// (batch 1, length 2048, 1024 channels, state 16; 4096 MoE tokens), whose figures are in docs/benchmarks.md.
/// </summary>
/// <remarks>
/// An environment variable rather than a second <c>[Params]</c> value: <c>[Params]</c> values multiply, so a
/// second length would run by default too and double every run; <c>[ParamsSource]</c> reads the variable once
/// per process, and BenchmarkDotNet shows the chosen sizes as columns of the summary either way.
/// </remarks>
public static class BenchmarkShapes
{
    /// <summary>True when <c>JAMBA_BENCH_FULL</c> is <c>1</c> or <c>true</c>.</summary>
    public static bool Full { get; } = Environment.GetEnvironmentVariable("JAMBA_BENCH_FULL") is "1" or "true" or "TRUE" or "True";

    /// <summary>Sequence lengths of the scan and conv inputs.</summary>
    public static IEnumerable<int> Lengths() => [Full ? 2048 : 512];

    /// <summary>Mamba inner channels of the scan and conv inputs.</summary>
    public static IEnumerable<int> Channels() => [Full ? 1024 : 256];

    /// <summary>Tokens routed through the MoE layer: one decode token and a prefill.</summary>
    public static IEnumerable<int> MoeTokens() => Full ? [1, 4096] : [1, 512];
}
