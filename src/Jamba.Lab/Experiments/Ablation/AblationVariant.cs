using Jamba.Planning;

namespace Jamba.Lab.Experiments.Ablation;

/// <summary>One model of the ablation: a name, the question it answers, and its config.</summary>
/// <param name="Name">Short name, e.g. <c>hybrid-1:7-moe</c>.</param>
/// <param name="Question">Which paper finding it tests.</param>
/// <param name="Config">The model; every variant has (within one feed-forward unit) the same active parameters.</param>
public sealed record AblationVariant(string Name, string Question, JambaConfig Config)
{
    /// <summary>
    /// The paper's ablations in miniature, on an 8-layer model of width <paramref name="hidden"/>: the attention:Mamba
    /// ratios 1:3 and 1:7 against pure attention and pure Mamba (no MoE, as the paper's ratio ablation), the 1:7
    /// hybrid with MoE (4 experts, top-2, every other layer), and the 1:7 hybrid without the Mamba-internal dt/B/C
    /// RMSNorms. The feed-forward width of each is set so that all have the active parameters of the dense 1:7
    /// hybrid with <paramref name="intermediate"/>; the MoE model has more total parameters, as in the paper.
    /// None has a positional embedding (Jamba has none).
    /// </summary>
    public static IReadOnlyList<AblationVariant> Catalogue(int vocabSize, int hidden = 64, int intermediate = 192, int layers = 8)
    {
        if (layers % 8 != 0) throw new ArgumentException("layers must be a multiple of 8 (for the 1:7 ratio)");
        JambaConfig Layout(int period, int offset, int experts = 1) => new()
        {
            VocabSize = vocabSize, HiddenSize = hidden, IntermediateSize = intermediate, NumHiddenLayers = layers,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, AttnLayerPeriod = period, AttnLayerOffset = offset,
            NumExperts = experts, NumExpertsPerTok = experts > 1 ? 2 : 1, ExpertLayerPeriod = experts > 1 ? 2 : 1, ExpertLayerOffset = experts > 1 ? 1 : 0,
            MambaDState = 16, MambaDConv = 4, MambaExpand = 2, MambaDtRankValue = Math.Max(4, hidden / 8),
            TieWordEmbeddings = true, MaxPositionEmbeddings = 4096, PadTokenId = 0, BosTokenId = 1, EosTokenIds = new[] { 2 },
        };
        var reference = Layout(8, 4);
        reference.Validate();
        long target = ParameterCount.Of(reference).Active;
        JambaConfig Matched(JambaConfig c) => Presets.WithActiveParameters(c, target);
        var noNorms = Layout(8, 4);
        noNorms.MambaInnerLayerNorms = false;
        return new[]
        {
            new AblationVariant("pure-attention", "baseline: a Transformer (no positional embedding)", Matched(Layout(1, 0))),
            new AblationVariant("pure-mamba", "does pure Mamba fall behind on in-context recall?", Matched(Layout(layers + 1, layers))),
            new AblationVariant("hybrid-1:3", "does a hybrid match or beat pure attention? (ratio 1:3)", Matched(Layout(4, 2))),
            new AblationVariant("hybrid-1:7", "does a hybrid match or beat pure attention? (ratio 1:7)", Matched(reference)),
            new AblationVariant("hybrid-1:7-moe", "does MoE improve loss at equal active parameters?", Matched(Layout(8, 4, experts: 4))),
            new AblationVariant("hybrid-1:7-no-norms", "what do the Mamba-internal RMSNorms change?", Matched(noNorms)),
        };
    }
}
