namespace Jamba.Inference;

/// <summary>
/// How to decode: greedy when <see cref="Temperature"/> is 0, otherwise sampling with temperature, top-k and top-p.
/// Options left unset take the checkpoint's <c>generation_config.json</c> values (<see cref="WithDefaults"/>), then
/// the defaults written here.
/// </summary>
public sealed class GenerationOptions
{
    // Null: not set by the caller, so a checkpoint's generation_config.json may supply it.
    private int? _maxNewTokens;
    private float? _temperature;
    private int? _topK;
    private float? _topP;
    private float? _repetitionPenalty;

    /// <summary>Tokens to generate per row at most. Default 32.</summary>
    public int MaxNewTokens { get => _maxNewTokens ?? 32; set => _maxNewTokens = value; }
    /// <summary>Softmax temperature; 0 (the default) means greedy (argmax).</summary>
    public float Temperature { get => _temperature ?? 0f; set => _temperature = value; }
    /// <summary>Keep only the k most likely tokens before sampling; 0 (the default) keeps all.</summary>
    public int TopK { get => _topK ?? 0; set => _topK = value; }
    /// <summary>Keep the smallest set of tokens whose probability reaches p (nucleus sampling); 1 (the default) keeps all.</summary>
    public float TopP { get => _topP ?? 1f; set => _topP = value; }
    /// <summary>
    /// Hugging Face's <c>repetition_penalty</c>: the logit of every token already in the row (prompt included) is divided
    /// by it when positive and multiplied by it when negative, before greedy choice or sampling. 1 (the default) is off.
    /// </summary>
    public float RepetitionPenalty { get => _repetitionPenalty ?? 1f; set => _repetitionPenalty = value; }
    /// <summary>Seed of the sampler; the same seed, prompt and model give the same tokens. Null draws one.</summary>
    public long? Seed { get; set; }
    /// <summary>Token ids that end a row (the stop token is kept in the output). Null means the checkpoint's EOS ids.</summary>
    public IReadOnlyCollection<int>? StopTokenIds { get; set; }
    /// <summary>The id finished rows are filled with. Null means the checkpoint's pad id (or 0).</summary>
    public int? PadTokenId { get; set; }
    /// <summary>When true, rows never stop early: exactly <see cref="MaxNewTokens"/> tokens are generated.</summary>
    public bool IgnoreStopTokens { get; set; }
    /// <summary>Prompts are run through the model in chunks of at most this many positions, bounding peak memory.</summary>
    public int PrefillChunkSize { get; set; } = 512;

    /// <summary>
    /// A copy in which every option the caller did not set takes its value from <paramref name="config"/>, as Hugging
    /// Face's <c>generate</c> does: <c>max_new_tokens</c>, <c>repetition_penalty</c>, <c>eos_token_id</c> (as
    /// <see cref="StopTokenIds"/>), <c>pad_token_id</c>; and with <c>do_sample</c> true, <c>temperature</c> (default 1),
    /// <c>top_k</c> (default 50) and <c>top_p</c> (default 1). Without <c>do_sample</c> the decoding stays greedy unless a
    /// temperature is set here.
    /// </summary>
    public GenerationOptions WithDefaults(GenerationConfig? config)
    {
        if (config is null) return this;
        var o = (GenerationOptions)MemberwiseClone();
        o._maxNewTokens ??= config.MaxNewTokens;
        o._repetitionPenalty ??= config.RepetitionPenalty;
        if (config.DoSample == true)
        {
            o._temperature ??= config.Temperature ?? 1f;
            o._topK ??= config.TopK ?? 50;
            o._topP ??= config.TopP ?? 1f;
        }
        o.StopTokenIds ??= config.EosTokenIds;
        o.PadTokenId ??= config.PadTokenId;
        return o;
    }

    /// <summary>Checks the values; the exception names the option at fault.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "must be 0 or more");
        if (Temperature < 0 || float.IsNaN(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "must be 0 (greedy) or positive");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "must be 0 (off) or positive");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "must be in (0, 1]");
        if (!(RepetitionPenalty > 0 && float.IsFinite(RepetitionPenalty))) throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "must be positive (1 is off)");
        if (PrefillChunkSize <= 0) throw new ArgumentOutOfRangeException(nameof(PrefillChunkSize), PrefillChunkSize, "must be positive");
    }
}
