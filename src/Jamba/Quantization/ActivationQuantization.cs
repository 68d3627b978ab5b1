namespace Jamba.Quantization;

/// <summary>
/// What a quantized linear does with its input before the product. Weight-only quantization alone leaves the
/// product in floating point; quantizing the activations too lets the CPU kernels multiply in integers (llama.cpp
/// does the same with its Q8_0 activations), which is what makes an int8 or 4-bit product as fast as its bytes.
/// </summary>
public enum ActivationQuantization
{
    /// <summary>The input is used as it is: y = x · dequantize(W)ᵀ in the compute dtype.</summary>
    None,

    /// <summary>
    /// The input is rounded per block of <see cref="Quantizer.ActivationBlock"/> consecutive features to int8:
    /// s = max|x_block| / 127, r = clamp(round(x / s), −127, 127) with ties away from zero, and the product is
    /// y = (r · s) · dequantize(W)ᵀ. A linear whose in_features is not a multiple of the block uses
    /// <see cref="None"/>.
    /// </summary>
    Int8,
}
