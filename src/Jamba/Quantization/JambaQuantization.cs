namespace Jamba.Quantization;

/// <summary>
/// How the decoder's linear weights are stored: in the model's floating dtype, or weight-only quantized. Activations,
/// embeddings, the LM head, the MoE router, norms, the Mamba <c>A_log</c>, <c>D</c> and conv, and every bias keep
/// the model's dtype under every scheme.
/// </summary>
public enum JambaQuantization
{
    /// <summary>Full precision: every decoder linear is a <see cref="Modeling.DenseLinear"/> in the model's dtype.</summary>
    None,

    /// <summary>
    /// Per output channel, symmetric int8: <c>weight</c> int8 [out, in], <c>weight_scale</c> float32 [out],
    /// s = max|w_row| / 127, w ≈ q · s.
    /// </summary>
    Int8,

    /// <summary>
    /// Grouped, symmetric 4-bit: <c>weight</c> uint8 [out, in / 2] (two nibbles per byte), <c>weight_scale</c> float16
    /// [out, in / G], s = max|w_group| / 7 rounded to float16, w ≈ (nibble − 8) · s (4.5 bits a weight at G = 32). A linear whose in_features is not a multiple of G is
    /// stored as <see cref="Int8"/>.
    /// </summary>
    Q4,
}
