namespace Jamba.Tests;

/// <summary>Small configurations for tests that need a model but no reference weights.</summary>
internal static class TestConfigs
{
    /// <summary>A small hybrid: attention every 4th layer (offset 1), MoE on odd layers, 4 experts top-2, GQA.</summary>
    public static JambaConfig Tiny(Action<JambaConfig>? change = null)
    {
        var c = new JambaConfig
        {
            VocabSize = 97, HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 5,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, AttnLayerPeriod = 4, AttnLayerOffset = 1,
            ExpertLayerPeriod = 2, ExpertLayerOffset = 1, NumExperts = 4, NumExpertsPerTok = 2,
            MambaDState = 8, MambaDConv = 4, MambaExpand = 2, MambaDtRankValue = 4,
            PadTokenId = 0, BosTokenId = 1, EosTokenIds = new[] { 2 }, InitializerRange = 0.2,
        };
        change?.Invoke(c);
        c.Validate();
        return c;
    }
}
