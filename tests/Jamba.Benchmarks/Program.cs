using BenchmarkDotNet.Running;

namespace Jamba.Benchmarks;

/// <summary>
/// Entry point: BenchmarkDotNet's switcher, so <c>--filter</c>, <c>--job</c>, <c>--list</c> and the other
/// BenchmarkDotNet options work as documented. Without <c>--filter</c> it asks which benchmarks to run.
/// </summary>
/// <remarks>
/// <para>
/// Benchmarks always run in this process (BenchmarkDotNet's <c>--inProcess</c>, its InProcessEmitToolchain), not in
/// BenchmarkDotNet's default generated child project per job. That child project is built into its own output
/// folder without this repository's build step that marks TorchSharp's <c>GLIBCXX_3.4.32</c> version need weak
/// (build/LibTorchSharpGlibcxxFix.targets), so on Debian 12 every benchmark failed with "version `GLIBCXX_3.4.32'
/// not found" when the child loaded libLibTorchSharp.so. In-process, the benchmarks use the native libraries this
/// project's own build has already fixed, and no child build (about 20 s on 2 cores) precedes each run. The cost
/// is no process isolation: JIT, libtorch's thread pool and allocator state carry over between benchmarks; the fast
/// path and its reference share all of it, so their ratio stays meaningful.
/// </para>
/// <para>
/// The flag is added to the command line rather than set as a job in <see cref="BenchmarkConfig"/>: a job in the
/// config replaces the job named by <c>--job</c> (a config job marked <c>AsDefault</c> silently turned
/// <c>--job Dry</c> into a full default run), while <c>--inProcess</c> combines with any <c>--job</c>.
/// </para>
/// </remarks>
public static class Program
{
    /// <summary>Runs the benchmarks selected by <paramref name="args"/>.</summary>
    public static void Main(string[] args)
    {
        if (!args.Any(a => a is "--inProcess" or "-i"))
            args = [.. args, "--inProcess"];
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, new BenchmarkConfig());
    }
}
