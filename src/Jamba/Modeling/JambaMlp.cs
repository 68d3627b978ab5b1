using TorchSharp;
using TorchSharp.Modules;
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
        using var scope = NewDisposeScope();
        var hidden = nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x);
        return down_proj.forward(hidden).MoveToOuterDisposeScope();
    }
}
