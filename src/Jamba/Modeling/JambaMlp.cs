using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>The SwiGLU feed-forward: down_proj(SiLU(gate_proj(x)) * up_proj(x)). Also one expert of the MoE.</summary>
public sealed class JambaMlp : nn.Module<Tensor, Tensor>
{
    /// <summary>Gate projection [intermediate, hidden]: a <see cref="DenseLinear"/>, or a <see cref="Quantization.QuantizedLinear"/> (see <see cref="DecoderLinear"/>).</summary>
    public readonly nn.Module<Tensor, Tensor> gate_proj;
    /// <summary>Up projection [intermediate, hidden].</summary>
    public readonly nn.Module<Tensor, Tensor> up_proj;
    /// <summary>Down projection [hidden, intermediate].</summary>
    public readonly nn.Module<Tensor, Tensor> down_proj;

    /// <summary>Creates the MLP for <paramref name="config"/>.</summary>
    public JambaMlp(JambaConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(JambaMlp))
    {
        gate_proj = DecoderLinear.Create(config, config.HiddenSize, config.IntermediateSize, false, device, dtype);
        up_proj = DecoderLinear.Create(config, config.HiddenSize, config.IntermediateSize, false, device, dtype);
        down_proj = DecoderLinear.Create(config, config.IntermediateSize, config.HiddenSize, false, device, dtype);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var hidden = nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x);
        return down_proj.forward(hidden).MoveToOuterDisposeScope();
    }
}
