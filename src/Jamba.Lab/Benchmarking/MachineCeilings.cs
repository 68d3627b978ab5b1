using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Lab.Benchmarking;

/// <summary>
/// This machine's two ceilings, measured through TorchSharp in the same process as the model benchmarks so that
/// results can be stated as a fraction of what the hardware delivers here and now (the machines are shared and
/// noisy; a ratio measured in one run means more than an absolute figure from another day).
/// </summary>
/// <param name="ReadBytesPerSecond">Memory read bandwidth: a float32 sum over a buffer far larger than the caches.</param>
/// <param name="CopyBytesPerSecond">Memory copy bandwidth, counting read plus write bytes.</param>
/// <param name="MatmulFlopsPerSecond">Float32 matmul rate (square matmul, 2·n³ FLOPs).</param>
/// <param name="Bf16MatmulFlopsPerSecond">The same in bfloat16 (informational).</param>
public sealed record MachineCeilings(double ReadBytesPerSecond, double CopyBytesPerSecond, double MatmulFlopsPerSecond, double Bf16MatmulFlopsPerSecond)
{
    /// <summary>
    /// Measures the ceilings on <paramref name="device"/> with buffers of <paramref name="bufferBytes"/> and an
    /// n = <paramref name="matmulSize"/> square matmul; each figure is the median of <paramref name="runs"/>.
    /// </summary>
    public static MachineCeilings Measure(Device? device = null, long bufferBytes = 512L << 20, int matmulSize = 2048, int runs = 5)
    {
        device ??= CPU;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long n = bufferBytes / sizeof(float);
        var big = ones(n, device: device);
        var dst = empty(n, device: device);
        double read = bufferBytes / Timing.MedianSeconds(1, runs, () => { using var s = big.sum(); Sync(s); });
        double copy = 2.0 * bufferBytes / Timing.MedianSeconds(1, runs, () => { dst.copy_(big); Sync(dst); });
        big.Dispose(); dst.Dispose();

        double flops = 2.0 * matmulSize * (double)matmulSize * matmulSize;
        double Rate(ScalarType dtype)
        {
            using var a = randn(matmulSize, matmulSize, device: device).to_type(dtype);
            using var b = randn(matmulSize, matmulSize, device: device).to_type(dtype);
            return flops / Timing.MedianSeconds(1, runs, () => { using var c = a.matmul(b); Sync(c); });
        }
        return new MachineCeilings(read, copy, Rate(ScalarType.Float32), Rate(ScalarType.BFloat16));
    }

    /// <summary>
    /// The larger of each figure of two measurements (say, before and after a benchmark). On a shared machine a
    /// ceiling measured while others load it comes out low and would flatter every percentage of it; the higher
    /// of two keeps the percentages conservative.
    /// </summary>
    public MachineCeilings Max(MachineCeilings other) => new(
        Math.Max(ReadBytesPerSecond, other.ReadBytesPerSecond), Math.Max(CopyBytesPerSecond, other.CopyBytesPerSecond),
        Math.Max(MatmulFlopsPerSecond, other.MatmulFlopsPerSecond), Math.Max(Bf16MatmulFlopsPerSecond, other.Bf16MatmulFlopsPerSecond));

    /// <summary>Waits for the device to finish (a no-op on CPU, where every op is synchronous).</summary>
    internal static void Sync(Tensor t)
    {
        if (t.device_type == DeviceType.CUDA) torch.cuda.synchronize(t.device);
    }
}
