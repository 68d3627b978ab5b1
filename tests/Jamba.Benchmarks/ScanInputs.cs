using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Benchmarks;

/// <summary>
/// Random selective-scan inputs with the distributions of <c>KernelBenchmarks</c> (Δ through softplus, A negative),
/// so that both benchmark classes and the hand-rolled <c>jamba bench kernels</c> scan the same kind of data.
/// </summary>
internal sealed class ScanInputs : IDisposable
{
    public Tensor X, Delta, A, B, C, D, Z;

    public ScanInputs(long batch, long channels, long length, long state, int seed)
    {
        using var g = new Generator((ulong)seed);
        // Built in a scope and moved out so the temporaries (softplus input, exp argument) are freed now,
        // and only the seven inputs remain owned by this object until Dispose.
        using var scope = NewDisposeScope();
        X = randn(new[] { batch, channels, length }, generator: g);
        Delta = nn.functional.softplus(randn(new[] { batch, channels, length }, generator: g) - 2);
        A = -exp(randn(new[] { channels, state }, generator: g) * 0.5);
        B = randn(new[] { batch, length, state }, generator: g);
        C = randn(new[] { batch, length, state }, generator: g);
        D = randn(new[] { channels }, generator: g);
        Z = randn(new[] { batch, channels, length }, generator: g);
        foreach (var t in All) t.MoveToOuterDisposeScope();
    }

    /// <summary>The inputs in the argument order of <c>SelectiveScan.Forward</c>.</summary>
    public Tensor[] All => [X, Delta, A, B, C, D, Z];

    public void Dispose()
    {
        foreach (var t in All) t.Dispose();
    }
}
