using TorchSharp;

namespace Jamba.Planning;

/// <summary>How the Mamba SSM state is sized.</summary>
public enum StateConvention
{
    /// <summary>
    /// As <see cref="Modeling.HybridCache"/> allocates it: the conv window in the model dtype, the SSM state always
    /// float32 (the scan accumulates in float32, so keeping the state in 16 bits would lose precision every step).
    /// </summary>
    AsAllocated,
    /// <summary>Every state in the given dtype, as a paper-style table that sizes all caches in one dtype would.</summary>
    Paper,
}

/// <summary>
/// Bytes of the inference cache of a Jamba model, computed from the config alone and equal to what
/// <see cref="Modeling.HybridCache"/> reports (<c>KvBytesUsed</c>, <c>MambaStateBytes</c>).
/// </summary>
/// <remarks>
/// The KV cache holds keys and values [batch, kv_heads, positions, head_dim] for every attention layer, in the
/// model dtype: 2 · attention_layers · kv_heads · head_dim · dtype bytes per position and row. The Mamba state holds,
/// per Mamba layer, a conv window [batch, d_inner, d_conv] (model dtype) and an SSM state [batch, d_inner, d_state]
/// (float32 as allocated; see <see cref="StateConvention"/>); it does not grow with the context.
/// </remarks>
public static class CacheMemory
{
    /// <summary>Bytes of one element of <paramref name="dtype"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A dtype a model is not stored in.</exception>
    public static int BytesPerElement(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float64 or torch.ScalarType.Int64 => 8,
        torch.ScalarType.Float32 or torch.ScalarType.Int32 => 4,
        torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Int16 => 2,
        torch.ScalarType.Int8 or torch.ScalarType.Byte or torch.ScalarType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "no byte size known for this dtype"),
    };

    /// <summary>Attention layers of the model (the only layers with a KV cache).</summary>
    public static int AttentionLayers(JambaConfig config) =>
        Enumerable.Range(0, config.NumHiddenLayers).Count(i => config.LayerKindAt(i) == LayerKind.Attention);

    /// <summary>Mamba layers of the model (the layers with a conv and SSM state).</summary>
    public static int MambaLayers(JambaConfig config) => config.NumHiddenLayers - AttentionLayers(config);

    /// <summary>KV-cache bytes per position of one batch row: keys and values of every attention layer.</summary>
    public static long KvBytesPerToken(JambaConfig config, torch.ScalarType dtype) =>
        2L * AttentionLayers(config) * config.NumKeyValueHeads * config.HeadDim * BytesPerElement(dtype);

    /// <summary>KV-cache bytes for <paramref name="batch"/> rows holding <paramref name="positions"/> positions each.</summary>
    public static long KvBytes(JambaConfig config, long batch, long positions, torch.ScalarType dtype)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, "must not be negative");
        if (positions < 0) throw new ArgumentOutOfRangeException(nameof(positions), positions, "must not be negative");
        return checked(batch * positions * KvBytesPerToken(config, dtype));
    }

    /// <summary>Bytes of the conv windows of every Mamba layer: d_inner · d_conv per row and layer, model dtype.</summary>
    public static long MambaConvBytes(JambaConfig config, long batch, torch.ScalarType dtype) =>
        batch * MambaLayers(config) * (long)config.MambaDInner * config.MambaDConv * BytesPerElement(dtype);

    /// <summary>Bytes of the SSM states of every Mamba layer: d_inner · d_state per row and layer.</summary>
    /// <param name="config">The model configuration.</param>
    /// <param name="batch">Batch rows.</param>
    /// <param name="dtype">Model dtype; used for the SSM state only under <see cref="StateConvention.Paper"/>.</param>
    /// <param name="convention">Float32 as allocated, or the model dtype.</param>
    public static long MambaSsmBytes(JambaConfig config, long batch, torch.ScalarType dtype, StateConvention convention = StateConvention.AsAllocated)
    {
        int bytes = convention == StateConvention.AsAllocated ? 4 : BytesPerElement(dtype);
        return batch * MambaLayers(config) * (long)config.MambaDInner * config.MambaDState * bytes;
    }

    /// <summary>Conv plus SSM state bytes of every Mamba layer; independent of the context length.</summary>
    public static long MambaStateBytes(JambaConfig config, long batch, torch.ScalarType dtype, StateConvention convention = StateConvention.AsAllocated)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, "must not be negative");
        return MambaConvBytes(config, batch, dtype) + MambaSsmBytes(config, batch, dtype, convention);
    }

    /// <summary>KV plus Mamba state bytes: the whole cache at <paramref name="positions"/> positions.</summary>
    public static long TotalBytes(JambaConfig config, long batch, long positions, torch.ScalarType dtype, StateConvention convention = StateConvention.AsAllocated) =>
        KvBytes(config, batch, positions, dtype) + MambaStateBytes(config, batch, dtype, convention);

    /// <summary>
    /// The position capacity of a <see cref="Modeling.KvCache"/> created with <paramref name="initialCapacity"/> after
    /// appending chunks of <paramref name="appendLengths"/> positions: it grows to max(needed, 2 · capacity) whenever
    /// an append does not fit, so the allocation (<c>BytesAllocated</c>) can be up to twice what is used.
    /// </summary>
    public static long KvCapacityAfter(long initialCapacity, IEnumerable<long> appendLengths)
    {
        long capacity = Math.Max(1, initialCapacity), length = 0;
        foreach (long t in appendLengths)
        {
            if (length + t > capacity) capacity = Math.Max(length + t, 2 * capacity);
            length += t;
        }
        return capacity;
    }
}
