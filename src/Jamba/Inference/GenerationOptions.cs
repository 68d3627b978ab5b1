namespace Jamba.Inference;

/// <summary>How to decode: greedy when <see cref="Temperature"/> is 0, otherwise sampling with temperature, top-k and top-p.</summary>
public sealed class GenerationOptions
{
    /// <summary>Tokens to generate per row at most.</summary>
    public int MaxNewTokens { get; set; } = 32;
    /// <summary>Softmax temperature; 0 means greedy (argmax).</summary>
    public float Temperature { get; set; }
    /// <summary>Keep only the k most likely tokens before sampling; 0 keeps all.</summary>
    public int TopK { get; set; }
    /// <summary>Keep the smallest set of tokens whose probability reaches p (nucleus sampling); 1 keeps all.</summary>
    public float TopP { get; set; } = 1f;
    /// <summary>Seed of the sampler; the same seed, prompt and model give the same tokens. Null draws one.</summary>
    public long? Seed { get; set; }
    /// <summary>Token ids that end a row (the stop token is kept in the output). Null means the config's EOS ids.</summary>
    public IReadOnlyCollection<int>? StopTokenIds { get; set; }
    /// <summary>When true, rows never stop early: exactly <see cref="MaxNewTokens"/> tokens are generated.</summary>
    public bool IgnoreStopTokens { get; set; }
    /// <summary>Prompts are run through the model in chunks of at most this many positions, bounding peak memory.</summary>
    public int PrefillChunkSize { get; set; } = 512;

    /// <summary>Checks the values; the exception names the option at fault.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "must be 0 or more");
        if (Temperature < 0 || float.IsNaN(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "must be 0 (greedy) or positive");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "must be 0 (off) or positive");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "must be in (0, 1]");
        if (PrefillChunkSize <= 0) throw new ArgumentOutOfRangeException(nameof(PrefillChunkSize), PrefillChunkSize, "must be positive");
    }
}
