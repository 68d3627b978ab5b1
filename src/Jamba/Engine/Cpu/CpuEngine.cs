using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Engine.Cpu;

/// <summary>
/// The CPU engine's inference step: a decode step through <see cref="CpuDecodeStep"/> where it applies, and a prompt
/// chunk through the Modeling backbone with the head's few kept rows through <see cref="DecodeLinear"/>. Returns null
/// where it does not apply (the model is not on the CPU), so the caller runs the Modeling forward instead.
/// </summary>
internal static class CpuEngine
{
    /// <summary>
    /// Float32 logits [rows, vocab] of the last position after <paramref name="ids"/> [rows, T] (with
    /// <paramref name="mask"/> [rows, T] or null), continuing from and advancing <paramref name="cache"/>; or null.
    /// </summary>
    public static Tensor? LastLogits(JambaForCausalLM model, Tensor ids, Tensor? mask, HybridCache cache)
    {
        if (model.Device.type != DeviceType.CPU) return null;
        using var scope = NewDisposeScope();
        if (ids.size(1) == 1 && mask is null && ids.device_type == DeviceType.CPU && CpuDecodeStep.Applies(model, cache, ids.size(0))
            && CpuDecodeStep.Run(model, ids.to_type(ScalarType.Int64).data<long>().ToArray(), cache) is { } stepped)
            return stepped.select(1, 0).MoveToOuterDisposeScope();
        using var backbone = model.model.Forward(ids, mask, cache);
        var last = backbone.LastHiddenState.select(1, -1);                                  // (rows, hidden)
        // A quantized head's forward takes the quantized kernels itself for a few rows (DecodeLinear.TryForward).
        var logits = model.lm_head switch
        {
            null => DecodeLinear.Forward(last, model.model.embed_tokens.weight!),
            Modeling.DenseLinear head => DecodeLinear.Forward(last, head.weight),
            TorchSharp.Modules.Linear head => DecodeLinear.Forward(last, head.weight!),
            var head => head.forward(last),
        };
        return logits.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}
