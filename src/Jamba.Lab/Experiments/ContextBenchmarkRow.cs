namespace Jamba.Lab.Experiments;

/// <summary>One model at one context length: decode speed, fill time and memory.</summary>
/// <param name="Model">The model's label (e.g. hybrid 1:7, pure attention, pure Mamba).</param>
/// <param name="Context">Positions in the cache when the timed decode steps start.</param>
/// <param name="FillSeconds">Seconds to bring the cache to <paramref name="Context"/> (a real prefill, or writing synthetic values).</param>
/// <param name="Prefilled">True when <paramref name="FillSeconds"/> is a real prefill.</param>
/// <param name="DecodeTokensPerSecond">Decode speed, batch 1: one over the median timed step.</param>
/// <param name="CpuSecondsPerToken">Median CPU time of this process per decode step (all threads): the work a step
/// costs, unaffected by waiting for a core on a shared machine.</param>
/// <param name="KvBytes">Bytes of the attention KV cache at the end (float32, as stored here).</param>
/// <param name="MambaStateBytes">Bytes of the Mamba conv and SSM states.</param>
/// <param name="ResidentDeltaBytes">Growth of the process's resident memory from before the cache existed to the end of decoding.</param>
/// <param name="ResidentBytes">The process's resident memory at the end of decoding (weights, cache, runtime).</param>
public sealed record ContextBenchmarkRow(string Model, int Context, double FillSeconds, bool Prefilled, double DecodeTokensPerSecond, double CpuSecondsPerToken,
    long KvBytes, long MambaStateBytes, long ResidentDeltaBytes, long ResidentBytes)
{
    /// <summary>Milliseconds per decoded token.</summary>
    public double MillisecondsPerToken => 1000.0 / DecodeTokensPerSecond;
    /// <summary>KV cache plus Mamba state: everything the model carries per sequence.</summary>
    public long CacheBytes => KvBytes + MambaStateBytes;
}
