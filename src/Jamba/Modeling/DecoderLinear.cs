using Jamba.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// A linear layer of the decoder (attention, Mamba and MLP/expert projections) as the config describes it: a
/// <see cref="DenseLinear"/>, or a <see cref="QuantizedLinear"/> when config.json carries a <c>quantization_config</c>
/// (transformers builds quantized linears from the same key). Either is an <c>nn.Module&lt;Tensor, Tensor&gt;</c>, so
/// the layers' forwards read <c>q_proj.forward(x)</c> whichever it is, and a quantized network never allocates the
/// full-precision weights. The LM head is built the same way when the quantization covers it (<see cref="CreateHead"/>).
/// </summary>
public static class DecoderLinear
{
    /// <summary>Creates the projection <paramref name="inFeatures"/> → <paramref name="outFeatures"/>.</summary>
    public static nn.Module<Tensor, Tensor> Create(JambaConfig config, long inFeatures, long outFeatures, bool hasBias, Device? device, ScalarType dtype)
    {
        var quantization = QuantizationConfig.Of(config);
        return quantization is null
            ? new DenseLinear(inFeatures, outFeatures, hasBias, device, dtype)
            : new QuantizedLinear(inFeatures, outFeatures, hasBias, quantization.Scheme, quantization.GroupSize, device, dtype);
    }

    /// <summary>
    /// Creates the LM head hidden → vocab (no bias): a <see cref="QuantizedLinear"/> when the config's
    /// <c>quantization_config</c> has <c>lm_head</c>, else a <see cref="DenseLinear"/>.
    /// </summary>
    public static nn.Module<Tensor, Tensor> CreateHead(JambaConfig config, Device? device, ScalarType dtype)
    {
        var quantization = QuantizationConfig.Of(config);
        return quantization is { LmHead: true }
            ? new QuantizedLinear(config.HiddenSize, config.VocabSize, false, quantization.Scheme, quantization.GroupSize, device, dtype)
            : new DenseLinear(config.HiddenSize, config.VocabSize, false, device, dtype);
    }
}
