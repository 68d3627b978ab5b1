namespace Jamba;

/// <summary>
/// What runs inference steps (prompt prefill and decode) of a causal LM. Training, scoring and embedding always run
/// the Modeling forward; the engine only changes how generation's steps are computed, never what they compute
/// beyond floating-point rounding.
/// </summary>
public enum JambaEngine
{
    /// <summary>
    /// The CPU engine (default): a decode step of at most 16 rows on a CPU float32 or bfloat16 model runs as one
    /// fused pass of hand-written kernels, and a prompt's logits come from a multi-threaded product; everything else
    /// falls back to the Modeling forward.
    /// </summary>
    Cpu,
    /// <summary>The Modeling forward (<c>JambaForCausalLM.Forward</c>) for every step: the reference the engine is tested against.</summary>
    Reference,
}
