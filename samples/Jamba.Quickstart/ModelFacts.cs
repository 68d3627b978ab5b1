using System.Globalization;
using System.Text;
using Jamba.Planning;
using TorchSharp;

namespace Jamba.Quickstart;

/// <summary>
/// The few numbers that say what a Jamba is: its layer map, total and active parameters, and how little cache an
/// interleaved attention/Mamba stack needs per token compared with a pure-attention model of the same active size.
/// </summary>
public static class ModelFacts
{
    /// <summary>A short multi-line description for the console (each line indented by <paramref name="indent"/>).</summary>
    public static string Describe(JambaConfig config, string indent = "   ")
    {
        var p = ParameterCount.Of(config);
        var dtype = torch.ScalarType.Float32;
        var sb = new StringBuilder();
        void Line(string s) => sb.Append(indent).Append(s).Append('\n');
        string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

        Line($"hidden {config.HiddenSize}, {config.NumHiddenLayers} layers, {config.NumAttentionHeads} heads / {config.NumKeyValueHeads} KV heads, vocab {config.VocabSize}; layer map {config.LayerMap()} (A attention, M Mamba / e MoE, - MLP)");
        foreach (var l in p.Layers)
        {
            string ff = l.IsMoe ? $"MoE {l.Experts} experts, top-{Math.Min(config.NumExpertsPerTok, l.Experts)}" : "MLP";
            Line($"  layer {l.Index}: {(l.Kind == LayerKind.Attention ? "attention" : "Mamba"),-9} + {ff,-24} {N(l.Total),9} parameters, {N(l.Active),9} active");
        }
        Line($"parameters: {N(p.Total)} total, {N(p.Active)} active per token (MoE layers run only their top-{config.NumExpertsPerTok} experts)");
        long kv = CacheMemory.KvBytesPerToken(config, dtype);
        long state = CacheMemory.MambaStateBytes(config, 1, dtype);
        string compare = "";
        try
        {
            long pureKv = CacheMemory.KvBytesPerToken(Presets.PureAttention(config), dtype);
            compare = $"; a pure-attention model of the same active size needs {N(pureKv)} ({pureKv / (double)Math.Max(1, kv):0.#}x)";
        }
        catch (ArgumentException)
        {
            // Some layouts have no pure-attention equivalent of equal active size; the comparison is then left out.
        }
        Line($"KV cache: {N(kv)} bytes per token in f32 ({CacheMemory.AttentionLayers(config)} of {config.NumHiddenLayers} layers attend){compare}");
        Line($"Mamba state: {N(state)} bytes per sequence, the same at any length");
        return sb.ToString();
    }
}
