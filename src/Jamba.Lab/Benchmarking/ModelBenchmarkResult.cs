namespace Jamba.Lab.Benchmarking;

/// <summary>
/// The figures of one <see cref="ModelBenchmark.Run"/>: medians over the timed runs, the bounds derived from the
/// machine's ceilings, and the memory figures. Percentages of bound = bound time / measured time × 100.
/// </summary>
public sealed record ModelBenchmarkResult
{
    /// <summary>The ceilings measured in the same run (the higher of a measurement before and one after).</summary>
    public required MachineCeilings Ceilings { get; init; }
    /// <summary>The options the run used.</summary>
    public required ModelBenchmarkOptions Options { get; init; }
    /// <summary>Model dtype name.</summary>
    public required string DType { get; init; }
    /// <summary>Threads libtorch and the kernels used.</summary>
    public required int Threads { get; init; }
    /// <summary>Bytes of the model's parameters.</summary>
    public required long WeightBytes { get; init; }
    /// <summary>Cache bytes after the last step: KV at its used length plus the Mamba states.</summary>
    public required long CacheBytes { get; init; }
    /// <summary>Cache bytes allocated (KV at capacity plus the Mamba states).</summary>
    public required long CacheBytesAllocated { get; init; }

    /// <summary>Median seconds from the start of generation to the first new token (prefill plus one sampling).</summary>
    public required double TimeToFirstTokenSeconds { get; init; }
    /// <summary>Prompt tokens per second (all rows) over the time to the first token.</summary>
    public double PrefillTokensPerSecond => Options.Batch * (double)Options.PromptTokens / TimeToFirstTokenSeconds;
    /// <summary>Matmul FLOPs of the prefill (all rows).</summary>
    public required double PrefillFlops { get; init; }
    /// <summary>Prefill as a percentage of its matmul bound.</summary>
    public double PrefillPercentOfBound => 100.0 * PrefillFlops / Ceilings.MatmulFlopsPerSecond / TimeToFirstTokenSeconds;

    /// <summary>Median seconds per decode step (one new token per row), over all steps after the first token.</summary>
    public required double DecodeStepSeconds { get; init; }
    /// <summary>New tokens per second (all rows).</summary>
    public double DecodeTokensPerSecond => Options.Batch / DecodeStepSeconds;
    /// <summary>Bytes one decode step must read at the mean decode position (weights once, cache per row).</summary>
    public required double DecodeBytesPerStep { get; init; }
    /// <summary>Decode as a percentage of its memory-bandwidth bound.</summary>
    public double DecodePercentOfBound => 100.0 * DecodeBytesPerStep / Ceilings.ReadBytesPerSecond / DecodeStepSeconds;
    /// <summary>Median step seconds of the first <see cref="ModelBenchmarkOptions.DecodeWindow"/> decode steps (after a few untimed ones).</summary>
    public required double EarlyDecodeStepSeconds { get; init; }
    /// <summary>Median step seconds of the last <see cref="ModelBenchmarkOptions.DecodeWindow"/> decode steps.</summary>
    public required double LateDecodeStepSeconds { get; init; }
    /// <summary>Median step seconds at each of <see cref="ModelBenchmarkOptions.ProbePositions"/>, stepped in turn (empty when skipped).</summary>
    public IReadOnlyList<double> ProbeStepSeconds { get; init; } = Array.Empty<double>();

    /// <summary>Peak resident bytes of the process during a generation (reset before each run; the largest run's).</summary>
    public required long PeakResidentBytes { get; init; }
    /// <summary>Resident bytes before the model was created or loaded (runtime and libtorch).</summary>
    public required long BaselineResidentBytes { get; init; }
    /// <summary>Resident bytes after the first <see cref="ModelBenchmarkOptions.DecodeWindow"/> decode steps of the last run.</summary>
    public required long ResidentAfterEarlyDecodeBytes { get; init; }
    /// <summary>Resident bytes after the last decode step of the last run.</summary>
    public required long ResidentAfterDecodeBytes { get; init; }

    /// <summary>Median seconds of one training step (forward, backward, AdamW), or NaN when skipped.</summary>
    public double TrainStepSeconds { get; init; } = double.NaN;
    /// <summary>Matmul FLOPs of the training step.</summary>
    public double TrainFlops { get; init; }
    /// <summary>Training step as a percentage of its matmul bound.</summary>
    public double TrainPercentOfBound => 100.0 * TrainFlops / Ceilings.MatmulFlopsPerSecond / TrainStepSeconds;
}
