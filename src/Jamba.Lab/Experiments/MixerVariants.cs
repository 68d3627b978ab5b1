using Jamba.Planning;

namespace Jamba.Lab.Experiments;

/// <summary>
/// The three models the paper's throughput claim compares, all with the same active parameters per token:
/// the hybrid itself, its pure-attention twin and its pure-Mamba twin (<see cref="Presets.PureAttention"/>,
/// <see cref="Presets.PureMamba"/>: same width, depth and MoE layout; the feed-forward width absorbs the
/// difference between an attention and a Mamba layer).
/// </summary>
public static class MixerVariants
{
    /// <summary>Label of the hybrid, with its attention:Mamba ratio, e.g. <c>hybrid 1:7</c>.</summary>
    public static string HybridLabel(JambaConfig config)
    {
        int a = CacheMemory.AttentionLayers(config), m = CacheMemory.MambaLayers(config);
        if (a == 0) return "pure Mamba";
        if (m == 0) return "pure attention";
        return m % a == 0 ? $"hybrid 1:{m / a}" : $"hybrid {a}:{m}";
    }

    /// <summary>The hybrid, pure attention and pure Mamba, in that order, each with its label.</summary>
    public static IReadOnlyList<(string Label, JambaConfig Config)> EqualActive(JambaConfig hybrid) => new[]
    {
        (HybridLabel(hybrid), hybrid.Clone()),
        ("pure attention", Presets.PureAttention(hybrid)),
        ("pure Mamba", Presets.PureMamba(hybrid)),
    };
}
