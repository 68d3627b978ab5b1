using TorchSharp;
using TorchSharp.Modules;
using Jamba.Ops;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// The Mamba selective state-space mixer as Jamba uses it: in_proj to (x, gate); causal depthwise conv + SiLU;
/// x_proj to (Δ, B, C), each RMS-normed (Jamba's addition for training stability); Δ = softplus(dt_proj(Δ));
/// the selective scan with A = -exp(A_log) and skip D; gating by SiLU(gate); out_proj.
/// Padded positions are zeroed before and after the convolution, so their zeros enter the SSM state and a
/// left-padded row computes exactly what it computes alone.
/// </summary>
public sealed class MambaMixer : nn.Module
{
    /// <summary>Input projection [2 * d_inner, hidden] (bias when mamba_proj_bias). Each projection is a <see cref="DenseLinear"/>, or a <see cref="Quantization.QuantizedLinear"/> (see <see cref="DecoderLinear"/>).</summary>
    public readonly nn.Module<Tensor, Tensor> in_proj;
    /// <summary>Depthwise convolution, weight [d_inner, 1, d_conv] (bias when mamba_conv_bias).</summary>
    public readonly Conv1d conv1d;
    /// <summary>Projection to (Δ, B, C) [dt_rank + 2 * d_state, d_inner].</summary>
    public readonly nn.Module<Tensor, Tensor> x_proj;
    /// <summary>Δ projection [d_inner, dt_rank] with bias.</summary>
    public readonly nn.Module<Tensor, Tensor> dt_proj;
    /// <summary>log(-A) [d_inner, d_state].</summary>
    public readonly Parameter A_log;
    /// <summary>Skip connection [d_inner].</summary>
    public readonly Parameter D;
    /// <summary>Output projection [hidden, d_inner] (bias when mamba_proj_bias).</summary>
    public readonly nn.Module<Tensor, Tensor> out_proj;
    /// <summary>RMSNorm on Δ before dt_proj.</summary>
    public readonly RmsNorm dt_layernorm;
    /// <summary>RMSNorm on B.</summary>
    public readonly RmsNorm b_layernorm;
    /// <summary>RMSNorm on C.</summary>
    public readonly RmsNorm c_layernorm;
    private readonly long dInner, dState, dtRank, dConv;
    // False only in ablations (config "mamba_inner_layernorms": false): Δ, B and C enter unnormalised.
    private readonly bool innerNorms;

    /// <summary>Creates the mixer of one Mamba layer.</summary>
    public MambaMixer(JambaConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(MambaMixer))
    {
        dInner = config.MambaDInner;
        dState = config.MambaDState;
        dtRank = config.MambaDtRank;
        dConv = config.MambaDConv;
        innerNorms = config.MambaInnerLayerNorms;
        in_proj = DecoderLinear.Create(config, config.HiddenSize, 2 * dInner, config.MambaProjBias, device, dtype);
        conv1d = nn.Conv1d(dInner, dInner, dConv, padding: dConv - 1, groups: dInner, bias: config.MambaConvBias, device: device, dtype: dtype);
        x_proj = DecoderLinear.Create(config, dInner, dtRank + 2 * dState, false, device, dtype);
        dt_proj = DecoderLinear.Create(config, dtRank, dInner, true, device, dtype);
        A_log = new Parameter(log(arange(1, dState + 1, dtype: ScalarType.Float32)).expand(dInner, dState).contiguous().to(dtype, device ?? CPU));
        D = new Parameter(ones(dInner, dtype: dtype, device: device));
        out_proj = DecoderLinear.Create(config, dInner, config.HiddenSize, config.MambaProjBias, device, dtype);
        dt_layernorm = new RmsNorm(dtRank, config.RmsNormEps, device, dtype);
        b_layernorm = new RmsNorm(dState, config.RmsNormEps, device, dtype);
        c_layernorm = new RmsNorm(dState, config.RmsNormEps, device, dtype);
        RegisterComponents();
    }

    /// <summary>
    /// Mixes x [batch, T, hidden]. <paramref name="mask"/> [batch, T] (1 real, 0 padding) or null.
    /// With <paramref name="state"/>, continues from it and leaves the updated conv window and SSM state there.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? mask, MambaState? state)
    {
        using var scope = NewDisposeScope();
        var projected = in_proj.forward(x).transpose(1, 2);                             // (B, 2D, T)
        var hs = projected.narrow(1, 0, dInner);
        var gate = projected.narrow(1, dInner, dInner);
        var m = mask?.to_type(x.dtype).unsqueeze(1);                                   // (B, 1, T)
        if (m is not null) hs = hs * m;
        hs = CausalConv1d.Apply(hs, conv1d.weight!, conv1d.bias, state?.Conv);        // (B, D, T), SiLU applied
        if (m is not null) hs = hs * m;

        var ssm = x_proj.forward(hs.transpose(1, 2));                                   // (B, T, R + 2N)
        var dt = Norm(dt_layernorm, ssm.narrow(-1, 0, dtRank));
        var B = Norm(b_layernorm, ssm.narrow(-1, dtRank, dState));                    // (B, T, N)
        var C = Norm(c_layernorm, ssm.narrow(-1, dtRank + dState, dState));
        var delta = nn.functional.softplus(dt_proj.forward(dt)).transpose(1, 2);       // (B, D, T)
        var A = -exp(A_log.to_type(ScalarType.Float32));                               // (D, N)
        var y = SelectiveScan.Apply(hs, delta, A, B, C, D, gate, state?.Ssm);          // (B, D, T), gated
        return out_proj.forward(y.to_type(x.dtype).transpose(1, 2)).MoveToOuterDisposeScope();
    }

    private Tensor Norm(RmsNorm norm, Tensor x) => innerNorms ? norm.forward(x) : x;
}
