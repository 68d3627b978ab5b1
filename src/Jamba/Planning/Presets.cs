namespace Jamba.Planning;

/// <summary>
/// Published model hyper-parameters as <see cref="JambaConfig"/>s, plus small configs for laptops, tests and ablations.
/// Pure-attention models are Jamba configs with <c>attn_layer_period = 1, attn_layer_offset = 0</c> (every layer
/// attends) and, without MoE, <c>num_experts = 1</c>; they have the same parameters and KV cache as the originals
/// (no positional parameters exist in either: RoPE has none, Jamba uses none).
/// </summary>
public static class Presets
{
    /// <summary>Suffix that turns a preset into its pure-attention variant (see <see cref="PureAttention"/>).</summary>
    public const string PureAttentionSuffix = "-pure-attention";
    /// <summary>Suffix that turns a preset into its pure-Mamba variant (see <see cref="PureMamba"/>).</summary>
    public const string PureMambaSuffix = "-pure-mamba";

    private static readonly (string Name, Func<JambaConfig> Make)[] Named =
    {
        ("jamba-v0.1", JambaV01),
        ("llama-2-7b", Llama2_7B),
        ("mistral-7b", Mistral7B),
        ("mixtral-8x7b", Mixtral8x7B),
        ("small", Small),
        ("tiny", Tiny),
    };

    /// <summary>The base preset names <see cref="FromName"/> knows (each also takes a pure-attention / pure-Mamba suffix).</summary>
    public static IReadOnlyList<string> Names { get; } = Named.Select(n => n.Name).ToArray();

    /// <summary>
    /// Jamba-v0.1 (AI21, 52B total / 12B active): the reference JambaConfig defaults. 32 layers in 4 blocks of 8 with
    /// attention at position 4 of each block (a:m = 1:7), MoE with 16 experts top-2 on every other layer.
    /// </summary>
    public static JambaConfig JambaV01() => Validated(new JambaConfig
    {
        VocabSize = 65536, HiddenSize = 4096, IntermediateSize = 14336, NumHiddenLayers = 32,
        NumAttentionHeads = 32, NumKeyValueHeads = 8,
        NumExperts = 16, NumExpertsPerTok = 2, ExpertLayerPeriod = 2, ExpertLayerOffset = 1,
        AttnLayerPeriod = 8, AttnLayerOffset = 4,
        MambaDState = 16, MambaDConv = 4, MambaExpand = 2, MambaDtRankValue = 256,
        TieWordEmbeddings = false, MaxPositionEmbeddings = 262144,
    });

    /// <summary>Llama-2-7B as a pure-attention config: 32 layers, 32 heads (no GQA), SwiGLU 11008, untied, vocab 32000.</summary>
    public static JambaConfig Llama2_7B() => Dense(vocab: 32000, intermediate: 11008, kvHeads: 32, maxPositions: 4096);

    /// <summary>
    /// Mistral-7B (v0.1) as a pure-attention config: 32 layers, 32 heads / 8 KV heads, SwiGLU 14336. Its 4096-token
    /// sliding window is not set: planning sizes the full cache, as the Jamba paper's comparison does.
    /// </summary>
    public static JambaConfig Mistral7B() => Dense(vocab: 32000, intermediate: 14336, kvHeads: 8, maxPositions: 32768);

    /// <summary>Mixtral-8x7B as a pure-attention config: Mistral's shape with 8 experts top-2 on every layer.</summary>
    public static JambaConfig Mixtral8x7B()
    {
        var c = Dense(vocab: 32000, intermediate: 14336, kvHeads: 8, maxPositions: 32768);
        c.NumExperts = 8; c.NumExpertsPerTok = 2; c.ExpertLayerPeriod = 1; c.ExpertLayerOffset = 0;
        return Validated(c);
    }

    /// <summary>
    /// The speed-reference config (<c>bench-30m.json</c>): vocab 8000, hidden 512, 8 layers with attention at layer 4,
    /// 8 experts top-2 on the odd layers, intermediate 1024, 8 heads / 2 KV heads, d_state 16, dt_rank 32;
    /// 77,359,040 parameters, about 32M active.
    /// </summary>
    public static JambaConfig Small() => Validated(new JambaConfig
    {
        VocabSize = 8000, HiddenSize = 512, IntermediateSize = 1024, NumHiddenLayers = 8,
        NumAttentionHeads = 8, NumKeyValueHeads = 2, AttnLayerPeriod = 8, AttnLayerOffset = 4,
        ExpertLayerPeriod = 2, ExpertLayerOffset = 1, NumExperts = 8, NumExpertsPerTok = 2,
        MambaDState = 16, MambaDConv = 4, MambaExpand = 2, MambaDtRankValue = 32,
        MambaConvBias = true, MambaProjBias = false, TieWordEmbeddings = false,
    });

    /// <summary>
    /// About one million parameters (1,057,896; 762,984 active), every feature present (attention with GQA, Mamba,
    /// MoE, plain MLPs): 4 layers with attention at layer 2, 4 experts top-2 on the odd layers, hidden 96,
    /// intermediate 256, vocab 1024 tied.
    /// </summary>
    public static JambaConfig Tiny() => Validated(new JambaConfig
    {
        VocabSize = 1024, HiddenSize = 96, IntermediateSize = 256, NumHiddenLayers = 4,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, AttnLayerPeriod = 4, AttnLayerOffset = 2,
        ExpertLayerPeriod = 2, ExpertLayerOffset = 1, NumExperts = 4, NumExpertsPerTok = 2,
        MambaDState = 8, MambaDConv = 4, MambaExpand = 2, MambaDtRankValue = 8,
        TieWordEmbeddings = true, MaxPositionEmbeddings = 4096,
    });

    /// <summary>
    /// A preset by name (case-insensitive): one of <see cref="Names"/>, optionally followed by
    /// <see cref="PureAttentionSuffix"/> or <see cref="PureMambaSuffix"/> (e.g. <c>small-pure-mamba</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The name is not a preset; the message lists the known names.</exception>
    public static JambaConfig FromName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = name.Trim().ToLowerInvariant();
        Func<JambaConfig, JambaConfig> variant = c => c;
        if (key.EndsWith(PureAttentionSuffix, StringComparison.Ordinal))
        {
            key = key[..^PureAttentionSuffix.Length];
            variant = PureAttention;
        }
        else if (key.EndsWith(PureMambaSuffix, StringComparison.Ordinal))
        {
            key = key[..^PureMambaSuffix.Length];
            variant = PureMamba;
        }
        foreach (var (n, make) in Named)
            if (n == key) return variant(make());
        throw new ArgumentException(
            $"unknown preset '{name}'; known: {string.Join(", ", Names)} (each may end in {PureAttentionSuffix} or {PureMambaSuffix})", nameof(name));
    }

    /// <summary>
    /// The same model with every layer an attention layer, and the intermediate size chosen so that the active
    /// parameters per token stay as close as possible to the original's (an attention layer and a Mamba layer
    /// differ in size, so the feed-forwards absorb the difference; within one intermediate unit, i.e. at most
    /// 1.5·H·(plain layers + k·MoE layers) parameters off). For ablations: same active compute, other mixers.
    /// </summary>
    /// <exception cref="ArgumentException">No positive intermediate size reaches the target.</exception>
    public static JambaConfig PureAttention(JambaConfig config)
    {
        var c = config.Clone();
        c.AttnLayerPeriod = 1;
        c.AttnLayerOffset = 0;
        return MatchActive(c, ParameterCount.Of(config).Active);
    }

    /// <summary>
    /// The same model with every layer a Mamba layer (attention period past the last layer), the intermediate size
    /// rebalanced to keep the active parameters per token as in <see cref="PureAttention"/>.
    /// </summary>
    /// <exception cref="ArgumentException">No positive intermediate size reaches the target.</exception>
    public static JambaConfig PureMamba(JambaConfig config)
    {
        var c = config.Clone();
        // i % period == offset never holds for i < layers when offset = period - 1 = layers.
        c.AttnLayerPeriod = c.NumHiddenLayers + 1;
        c.AttnLayerOffset = c.NumHiddenLayers;
        return MatchActive(c, ParameterCount.Of(config).Active);
    }

    /// <summary>
    /// A copy of <paramref name="config"/> whose intermediate size is chosen so that its active parameters per token
    /// are as close as possible to <paramref name="targetActive"/> (the layer layout is kept). For ablations that
    /// compare layouts at equal active compute.
    /// </summary>
    /// <exception cref="ArgumentException">No positive intermediate size reaches the target.</exception>
    public static JambaConfig WithActiveParameters(JambaConfig config, long targetActive) => MatchActive(config.Clone(), targetActive);

    // Active parameters are linear in the intermediate size I: active(I) = active(0) + slope·I with
    // slope = 3·H·(plain layers + k·MoE layers); solve for I and round to the nearest integer.
    private static JambaConfig MatchActive(JambaConfig c, long target)
    {
        c.IntermediateSize = 0;
        long baseActive = ParameterCount.Of(c).Active;
        long perUnit = 0;
        for (int i = 0; i < c.NumHiddenLayers; i++)
            perUnit += 3L * c.HiddenSize * (c.IsMoeLayer(i) ? Math.Min(c.NumExpertsPerTok, c.ExpertsAt(i)) : 1);
        long intermediate = (long)Math.Round((double)(target - baseActive) / perUnit, MidpointRounding.AwayFromZero);
        if (intermediate < 1 || intermediate > int.MaxValue)
            throw new ArgumentException($"no intermediate size matches {target:N0} active parameters with this layer layout");
        c.IntermediateSize = (int)intermediate;
        return Validated(c);
    }

    private static JambaConfig Dense(int vocab, int intermediate, int kvHeads, int maxPositions) => Validated(new JambaConfig
    {
        VocabSize = vocab, HiddenSize = 4096, IntermediateSize = intermediate, NumHiddenLayers = 32,
        NumAttentionHeads = 32, NumKeyValueHeads = kvHeads,
        AttnLayerPeriod = 1, AttnLayerOffset = 0,
        NumExperts = 1, NumExpertsPerTok = 1, ExpertLayerPeriod = 1, ExpertLayerOffset = 0,
        TieWordEmbeddings = false, MaxPositionEmbeddings = maxPositions,
    });

    private static JambaConfig Validated(JambaConfig c)
    {
        c.Validate();
        return c;
    }
}
