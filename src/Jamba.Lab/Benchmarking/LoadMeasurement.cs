using System.Diagnostics;
using System.Runtime.InteropServices;
using Jamba.Checkpoints;

namespace Jamba.Lab.Benchmarking;

/// <summary>
/// What opening a model cost: wall time, bytes read from the checkpoint files and the process's peak resident
/// memory while loading, against the size of the loaded weights. Loading streams the files into the parameters,
/// so the peak above the baseline should stay near the weights and the time near what reading the files takes.
/// </summary>
/// <param name="Seconds">Wall time of the load (or of the random initialisation).</param>
/// <param name="BytesRead">Tensor bytes in the checkpoint files; 0 for a model initialised from a config.</param>
/// <param name="WeightBytes">Bytes of the loaded parameters and buffers (quantized weights as stored).</param>
/// <param name="BaselineResidentBytes">Resident bytes just before loading.</param>
/// <param name="PeakResidentBytes">Peak resident bytes during loading (0 where procfs is missing).</param>
/// <param name="ReadSeconds">Wall time of reading the checkpoint's files alone, front to back into one reused buffer,
/// right after the load (so from wherever the load left them, usually the page cache); 0 for a random model.</param>
/// <param name="FillSeconds">Wall time of writing as many bytes of freshly allocated memory as the weights take, on
/// every kernel thread: the page faults any load into new parameters pays besides reading; 0 for a random model.</param>
public sealed record LoadMeasurement(double Seconds, long BytesRead, long WeightBytes, long BaselineResidentBytes, long PeakResidentBytes,
    double ReadSeconds = 0, double FillSeconds = 0)
{
    /// <summary>Checkpoint bytes read per second.</summary>
    public double BytesPerSecond => BytesRead / Seconds;

    /// <summary>Peak resident memory above the baseline, as a multiple of the loaded weights.</summary>
    public double PeakOverWeights => (PeakResidentBytes - BaselineResidentBytes) / (double)Math.Max(1, WeightBytes);

    /// <summary>Opens a model with <paramref name="open"/> and measures it.</summary>
    /// <param name="open">Loads or creates the model.</param>
    /// <param name="checkpointDir">The folder it loads from, for the bytes read; null for a random model.</param>
    public static (JambaModel model, LoadMeasurement measurement) Measure(Func<JambaModel> open, string? checkpointDir)
    {
        long bytesRead = checkpointDir is null ? 0 : CheckpointReader.Open(checkpointDir).DataBytes;
        ProcessMemory.ResetPeak();
        long baseline = ProcessMemory.ResidentBytes;
        var clock = Stopwatch.StartNew();
        var model = open();
        double seconds = clock.Elapsed.TotalSeconds;
        long peak = ProcessMemory.PeakResidentBytes;
        long weights = model.Network.parameters().Sum(p => p.numel() * p.ElementSize) + model.Network.buffers().Sum(b => b.numel() * b.ElementSize);
        double read = checkpointDir is null ? 0 : TimeReading(CheckpointReader.Open(checkpointDir).Files);
        double fill = checkpointDir is null ? 0 : TimeFilling(weights);
        return (model, new LoadMeasurement(seconds, bytesRead, weights, baseline, peak, read, fill));
    }

    /// <summary>Seconds to read <paramref name="files"/> sequentially, a few MiB at a time, keeping nothing.</summary>
    public static double TimeReading(IEnumerable<string> files)
    {
        var buffer = new byte[4 << 20];
        var clock = Stopwatch.StartNew();
        foreach (var file in files)
        {
            using var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            while (fs.Read(buffer, 0, buffer.Length) > 0) { }
        }
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Seconds to write <paramref name="bytes"/> of freshly allocated memory, a block at a time (allocated, written by
    /// every kernel thread, freed), keeping nothing: what the kernel charges for handing out that many new pages.
    /// </summary>
    public static unsafe double TimeFilling(long bytes)
    {
        const long block = 256L << 20;
        int threads = Jamba.Engine.Cpu.Kernels.CpuKernelSupport.Threads;
        var clock = Stopwatch.StartNew();
        for (long done = 0; done < bytes; done += block)
        {
            long n = Math.Min(block, bytes - done);
            byte* p = (byte*)NativeMemory.Alloc((nuint)n);
            try
            {
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                {
                    long a = n * t / threads, b = n * (t + 1) / threads;
                    new Span<byte>(p + a, (int)(b - a)).Fill(1);
                });
            }
            finally { NativeMemory.Free(p); }
        }
        return clock.Elapsed.TotalSeconds;
    }
}
