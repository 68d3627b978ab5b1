namespace Jamba.Lab.Experiments;

/// <summary>How the cache of a <see cref="ContextBenchmark"/> is brought to the measured context length.</summary>
public enum CacheFill
{
    /// <summary>
    /// Random keys, values and Mamba states are written straight into the cache. A decode step's cost depends on
    /// the cache's length, not on its values (attention reads every key; the Mamba state has a fixed size), so this
    /// measures decode speed at long contexts without paying for a long prefill on a small CPU.
    /// </summary>
    Synthetic,
    /// <summary>A real chunked prefill of random tokens (timed and reported separately from decoding).</summary>
    Prefill,
}

/// <summary>Settings of a <see cref="ContextBenchmark"/> run.</summary>
public sealed class ContextBenchmarkOptions
{
    /// <summary>Context lengths at which decoding is timed (positions already in the cache).</summary>
    public IReadOnlyList<int> Contexts { get; set; } = new[] { 1024, 2048, 4096, 8192, 16384, 32768 };
    /// <summary>Timed decode steps per context (after one untimed warm-up step).</summary>
    public int NewTokens { get; set; } = 64;
    /// <summary>How the cache is filled.</summary>
    public CacheFill Fill { get; set; } = CacheFill.Synthetic;
    /// <summary>Positions per forward pass of a real prefill.</summary>
    public int PrefillChunk { get; set; } = 1024;
    /// <summary>Seed of the random weights, tokens and synthetic cache contents.</summary>
    public long Seed { get; set; }
    /// <summary>Receives one line per finished measurement (progress); null for silence.</summary>
    public Action<string>? Progress { get; set; }

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (Contexts.Count == 0 || Contexts.Any(c => c < 1)) throw new ArgumentException("contexts must be positive and at least one must be given");
        if (NewTokens < 1) throw new ArgumentException("new tokens must be positive");
        if (PrefillChunk < 1) throw new ArgumentException("the prefill chunk must be positive");
    }
}
