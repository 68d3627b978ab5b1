using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// Builds the additive attention bias [batch, 1, query, key] that combines causality with key padding.
/// Masked entries hold the dtype's most negative finite value rather than -inf, as the reference does, so a
/// padded query row whose every key is masked still gives finite numbers (they are zeroed downstream).
/// </summary>
internal static class CausalMask
{
    /// <summary>
    /// <paramref name="keyMask"/> [batch, past + T] holds 1 for real and 0 for padded positions, or is null
    /// when nothing is padded. Returns null when no additive bias is needed; <paramref name="isCausal"/> then says
    /// whether attention must still be causal, aligned to the last key: query i (of T) sees keys j ≤ past + i.
    /// With no past that is libtorch's own causal flag; after cached positions the attention layer builds the
    /// bias itself, a slice of queries at a time (<see cref="AfterPast"/>), because at long contexts this [T, S]
    /// bias would be the largest buffer of a prefill chunk.
    /// </summary>
    public static Tensor? Build(Tensor? keyMask, long queryLength, long past, ScalarType dtype, Device device, out bool isCausal)
    {
        isCausal = false;
        if (keyMask is null)
        {
            if (queryLength == 1) return null;          // one new token sees every cached key
            isCausal = true;
            return null;
        }
        long keys = past + queryLength;
        using var scope = NewDisposeScope();
        var keyPos = arange(keys, device: device).unsqueeze(0);                       // (1, S)
        var queryPos = arange(past, keys, device: device).unsqueeze(1);               // (T, 1)
        var allowed = keyPos.le(queryPos).unsqueeze(0);                                // (1, T, S)
        allowed = allowed.logical_and(keyMask.gt(0.5f).unsqueeze(1));                 // (B, T, S)
        var bias = zeros(allowed.shape, dtype: dtype, device: device).masked_fill(allowed.logical_not(), MinValue(dtype));
        return bias.unsqueeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The causal bias [1, 1, count, keys] of queries start … start + count − 1 of a chunk whose first query sits at
    /// position <paramref name="past"/>: query i may see keys j ≤ past + i. Built in place in one allocation.
    /// </summary>
    public static Tensor AfterPast(long start, long count, long keys, long past, ScalarType dtype, Device device) =>
        full(new long[] { 1, 1, count, keys }, MinValue(dtype), dtype: dtype, device: device).triu_(past + start + 1);

    /// <summary>The most negative finite value of <paramref name="dtype"/>.</summary>
    public static double MinValue(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => -65504.0,
        ScalarType.BFloat16 => -3.3895313892515355e38,
        ScalarType.Float64 => double.MinValue,
        _ => float.MinValue,
    };
}
