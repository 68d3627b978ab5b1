using Jamba.Planning;
using TorchSharp;

namespace Jamba.Lab.Benchmarking;

/// <summary>
/// The work a forward pass must do, from the configuration alone: the lower bounds the benchmarks compare against.
/// FLOPs count the matrix products (2 per weight per token, plus attention's score and value products), which is
/// where the arithmetic is; elementwise work (norms, the Mamba scan, activations) is left out, so a bound from
/// these figures is optimistic. Bytes count what a decode step has to read from memory at least once.
/// </summary>
public static class ModelCost
{
    /// <summary>
    /// Matmul FLOPs of a forward pass over <paramref name="tokens"/> new positions after <paramref name="past"/>
    /// cached ones, for one row. <paramref name="headTokens"/> is how many positions go through the LM head
    /// (1 for prefill that keeps only the last logits, all of them for training).
    /// </summary>
    public static double ForwardFlops(JambaConfig config, long tokens, long past, long headTokens)
    {
        var p = ParameterCount.Of(config);
        // Active weights except the two vocabulary tables: the embedding is a row lookup, the head is counted apart.
        double body = p.Active - p.Embedding - p.LmHead;
        double head = (double)config.VocabSize * config.HiddenSize;
        // Causal attention: query i (0-based) sees past + i + 1 keys; QKᵀ and AV cost 2·heads·head_dim FLOPs per pair each.
        double pairs = tokens * (double)past + tokens * (tokens + 1) / 2.0;
        double attention = CacheMemory.AttentionLayers(config) * 4.0 * config.NumAttentionHeads * config.HeadDim * pairs;
        return 2.0 * body * tokens + 2.0 * head * headTokens + attention;
    }

    /// <summary>
    /// Training-step FLOPs for <paramref name="tokens"/> positions per row: forward plus backward, which costs twice the
    /// forward (gradients with respect to both inputs and weights), with logits for every position.
    /// </summary>
    public static double TrainingFlops(JambaConfig config, long tokens) => 3.0 * ForwardFlops(config, tokens, 0, tokens);

    /// <summary>
    /// Bytes one decode step must read at least, for <paramref name="batch"/> rows at context <paramref name="position"/>:
    /// every weight the step touches once (all non-expert weights, the head, and in each MoE layer the experts
    /// that the batch can select, at most min(experts, batch·top-k)) plus each row's KV cache and Mamba state.
    /// </summary>
    public static double DecodeBytesPerStep(JambaConfig config, long batch, long position, torch.ScalarType dtype)
    {
        var p = ParameterCount.Of(config);
        int element = CacheMemory.BytesPerElement(dtype);
        long weights = p.Total - p.Embedding - p.MoeExperts;
        foreach (var layer in p.Layers.Where(l => l.IsMoe))
            weights += Math.Min(layer.Experts, batch * config.NumExpertsPerTok) * ParameterCount.MlpParameters(config);
        if (config.TieWordEmbeddings) weights += p.Embedding;   // the tied table is read in full as the head
        double cache = CacheMemory.KvBytes(config, batch, position, dtype) + CacheMemory.MambaStateBytes(config, batch, dtype);
        return (double)weights * element + cache;
    }

    /// <summary>
    /// <see cref="DecodeBytesPerStep(JambaConfig, long, long, torch.ScalarType)"/> from the network's tensors as they are
    /// stored, for a quantized network whose projections take 1 (int8) or ½ (4-bit) byte per weight plus their scales.
    /// </summary>
    public static double DecodeBytesPerStep(torch.nn.Module network, JambaConfig config, long batch, long position, torch.ScalarType dtype)
    {
        double weights = 0;
        var tensors = network.named_parameters().Select(p => (p.name, t: (torch.Tensor)p.parameter))
            .Concat(network.named_buffers(recurse: true, include_nonpersistent: false).Select(b => (b.name, t: b.buffer)));
        foreach (var (name, t) in tensors)
        {
            double bytes = t.NumberOfElements * t.ElementSize;
            if (name == "model.embed_tokens.weight" && !config.TieWordEmbeddings) continue;   // rows gathered, not read
            if (name.Contains(".feed_forward.experts.", StringComparison.Ordinal))
                bytes *= Math.Min(config.NumExperts, batch * config.NumExpertsPerTok) / (double)config.NumExperts;
            weights += bytes;
        }
        return weights + CacheMemory.KvBytes(config, batch, position, dtype) + CacheMemory.MambaStateBytes(config, batch, dtype);
    }
}
