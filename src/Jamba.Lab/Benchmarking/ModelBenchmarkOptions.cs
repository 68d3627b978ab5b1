namespace Jamba.Lab.Benchmarking;

/// <summary>What <see cref="ModelBenchmark.Run"/> measures and how often.</summary>
public sealed record ModelBenchmarkOptions
{
    /// <summary>Prompt positions per row (prefill).</summary>
    public int PromptTokens { get; init; } = 2048;
    /// <summary>New tokens per row (decode); the first comes from the prefill's logits.</summary>
    public int NewTokens { get; init; } = 64;
    /// <summary>Rows decoded together.</summary>
    public int Batch { get; init; } = 1;
    /// <summary>Untimed generations before the timed ones.</summary>
    public int Warmup { get; init; } = 1;
    /// <summary>Timed generations (and training steps); medians are reported.</summary>
    public int Runs { get; init; } = 3;
    /// <summary>Prefill chunk size (positions per forward pass).</summary>
    public int PrefillChunk { get; init; } = 512;
    /// <summary>Tokens of the training batch (one row); 0 skips the training-step measurement.</summary>
    public int TrainTokens { get; init; } = 256;
    /// <summary>Steps at the start and at the end of decoding whose median step times are compared (speed vs context).</summary>
    public int DecodeWindow { get; init; } = 20;
    /// <summary>
    /// Context positions whose decode speed is compared by stepping one cache per position in turn (empty: skipped).
    /// Interleaving puts both positions under the same machine conditions, so a shared machine's drift over the
    /// seconds between an early and a late window of one generation cannot pass for an effect of context length.
    /// </summary>
    public int[] ProbePositions { get; init; } = { 20, 2000 };
    /// <summary>Decode steps timed at each probe position.</summary>
    public int ProbeSteps { get; init; } = 40;
    /// <summary>Seed of the random prompts and training batch.</summary>
    public long Seed { get; init; } = 0;
    /// <summary>Buffer bytes of the bandwidth ceiling (far larger than the caches for a true figure).</summary>
    public long CeilingBufferBytes { get; init; } = 512L << 20;
    /// <summary>Matrix size n of the n×n×n matmul ceiling.</summary>
    public int CeilingMatmulSize { get; init; } = 2048;
    /// <summary>Called with a line of progress (CLI output); null for silence.</summary>
    public Action<string>? Progress { get; init; }
}
