using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Engine;

/// <summary>Comparisons and random inputs shared by the kernel tests.</summary>
internal static class KernelAssert
{
    /// <summary>Normwise relative error max|a - b| / max|b| (elementwise relative error is meaningless near zero).</summary>
    public static double RelErr(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var a = actual.to_type(ScalarType.Float64); var e = expected.to_type(ScalarType.Float64);
        double scale = Math.Max(e.abs().max().item<double>(), 1e-12);
        return (a - e).abs().max().item<double>() / scale;
    }

    public static void Close(Tensor actual, Tensor expected, double tol, string what)
    {
        CollectionAssert.AreEqual(expected.shape, actual.shape, $"{what}: shape");
        Assert.AreEqual(expected.dtype, actual.dtype, $"{what}: dtype");
        double err = RelErr(actual, expected);
        Assert.IsTrue(err <= tol, $"{what}: relative error {err:E2} > {tol:E0}");
    }

    /// <summary>Random scan inputs in the ranges the model produces (A negative, Δ positive).</summary>
    public sealed record ScanInputs(Tensor X, Tensor Delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor? Z, Tensor? H0)
    {
        public Tensor[] All => new[] { X, Delta, A, B, C, D, Z!, H0! }.Where(t => t is not null).ToArray();
    }

    public static ScanInputs Scan(long batch, long channels, long length, long state, bool gate, bool initialState,
        double deltaScale, int seed, ScalarType dtype = ScalarType.Float32)
    {
        var g = new Generator((ulong)seed);
        Tensor R(params long[] shape) => randn(shape, generator: g);
        var x = R(batch, channels, length);
        // Softplus keeps Δ positive like the model's dt_proj; the scale moves it from "barely decays" to "forgets at once".
        var delta = nn.functional.softplus(R(batch, channels, length)) * deltaScale;
        var A = -exp(R(channels, state) * 0.5 + 0.5);
        var B = R(batch, length, state); var C = R(batch, length, state);
        var D = R(channels);
        var z = gate ? R(batch, channels, length) : null;
        var h0 = initialState ? R(batch, channels, state) : null;
        Tensor T(Tensor t) => t.to_type(dtype);
        return new ScanInputs(T(x), T(delta), A, T(B), T(C), D, z is null ? null : T(z), h0);
    }
}
