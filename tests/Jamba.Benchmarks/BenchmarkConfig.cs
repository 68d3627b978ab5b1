using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;

namespace Jamba.Benchmarks;

/// <summary>
/// The configuration every benchmark runs with: BenchmarkDotNet's defaults, the memory diagnoser, and the reports
/// written under <c>artifacts/BenchmarkDotNet</c> of the working directory (ignored by git) rather than a
/// <c>BenchmarkDotNet.Artifacts</c> folder that git would see. The toolchain (in-process) is chosen in
/// <see cref="Program"/>, see there why.
/// </summary>
/// <remarks>
/// <para>
/// The memory diagnoser counts managed allocations only. Tensors live in libtorch's native heap and are not in its
/// Allocated column; what it shows is the managed overhead per call (tensor handles, scopes, arrays).
/// </para>
/// </remarks>
public sealed class BenchmarkConfig : ManualConfig
{
    /// <summary>Creates the configuration.</summary>
    public BenchmarkConfig()
    {
        Add(DefaultConfig.Instance);
        AddDiagnoser(MemoryDiagnoser.Default);
        ArtifactsPath = Path.Combine(Directory.GetCurrentDirectory(), "artifacts", "BenchmarkDotNet");
    }
}
