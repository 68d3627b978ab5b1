using TorchSharp;
using TorchSharp.Modules;
using Jamba.Kernels;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>The SwiGLU feed-forward: down_proj(SiLU(gate_proj(x)) * up_proj(x)). Also one expert of the MoE.</summary>
public sealed class JambaMlp : nn.Module<Tensor, Tensor>
{
    /// <summary>Gate projection [intermediate, hidden].</summary>
    public readonly Linear gate_proj;
    /// <summary>Up projection [intermediate, hidden].</summary>
    public readonly Linear up_proj;
    /// <summary>Down projection [hidden, intermediate].</summary>
    public readonly Linear down_proj;

    /// <summary>Creates the MLP for <paramref name="config"/>.</summary>
    public JambaMlp(JambaConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(JambaMlp))
    {
        gate_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: false, device: device, dtype: dtype);
        up_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: false, device: device, dtype: dtype);
        down_proj = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        if (DecodeMlp.Applies(x, gate_proj.weight!, up_proj.weight!, down_proj.weight!))
            return DecodeMlp.Forward(x, gate_proj.weight!, up_proj.weight!, down_proj.weight!);
        using var scope = NewDisposeScope();
        var hidden = nn.functional.silu(DecodeLinear.Forward(x, gate_proj)) * DecodeLinear.Forward(x, up_proj);
        return DecodeLinear.Forward(hidden, down_proj).MoveToOuterDisposeScope();
    }
}
