using Jamba.Engine.Cpu;
using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Inference;

/// <summary>
/// One inference step of a causal LM with a cache — a prompt chunk, or one new token per row — and the one place
/// where <see cref="JambaEngine"/> is read: the CPU engine runs the step where it applies, and the Modeling forward
/// (<see cref="JambaForCausalLM.Forward"/>) runs it otherwise, or always under <see cref="JambaEngine.Reference"/>.
/// </summary>
internal static class InferenceStep
{
    /// <summary>
    /// Float32 logits [rows, vocab] of the last position after <paramref name="ids"/> [rows, T] (left-padding marked by
    /// <paramref name="mask"/>, or null), continuing from <paramref name="cache"/> and advancing it by T positions.
    /// Runs without gradients.
    /// </summary>
    public static Tensor LastLogits(JambaForCausalLM model, JambaEngine engine, Tensor ids, Tensor? mask, HybridCache cache)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logits = engine switch
        {
            JambaEngine.Cpu => CpuEngine.LastLogits(model, ids, mask, cache),
            JambaEngine.Reference => null,
            _ => throw new ArgumentOutOfRangeException(nameof(engine), engine, "unknown engine: use Cpu or Reference"),
        };
        if (logits is null)
        {
            using var output = model.Forward(ids, mask, cache, logitsToKeep: 1);
            logits = output.Logits.select(1, 0).clone();
        }
        return logits.MoveToOuterDisposeScope();
    }
}
