using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// One Jamba block: a token mixer (attention or Mamba, by the layer plan) then a feed-forward (plain MLP or
/// sparse MoE), each pre-normed and residual: h += mixer(norm(h)); h += ffn(norm(h)).
/// </summary>
public sealed class JambaDecoderLayer : nn.Module
{
    /// <summary>Norm before the mixer.</summary>
    public readonly RmsNorm input_layernorm;
    /// <summary>The attention mixer, on attention layers (null otherwise).</summary>
    public readonly JambaAttention? self_attn;
    /// <summary>The Mamba mixer, on Mamba layers (null otherwise).</summary>
    public readonly MambaMixer? mamba;
    /// <summary>Norm before the feed-forward.</summary>
    public readonly RmsNorm pre_ff_layernorm;
    /// <summary>The feed-forward: <see cref="JambaMlp"/> or <see cref="SparseMoeBlock"/>.</summary>
    public readonly nn.Module feed_forward;

    /// <summary>The index of this layer in the stack.</summary>
    public int LayerIndex { get; }

    /// <summary>Creates layer <paramref name="layerIndex"/> as the config's layer plan says.</summary>
    public JambaDecoderLayer(JambaConfig config, int layerIndex, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(JambaDecoderLayer))
    {
        LayerIndex = layerIndex;
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, device, dtype);
        if (config.LayerKindAt(layerIndex) == LayerKind.Attention) self_attn = new JambaAttention(config, device, dtype);
        else mamba = new MambaMixer(config, device, dtype);
        pre_ff_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, device, dtype);
        int experts = config.ExpertsAt(layerIndex);
        feed_forward = experts > 1 ? new SparseMoeBlock(config, experts, device, dtype) : new JambaMlp(config, device, dtype);
        RegisterComponents();
    }

    /// <summary>Runs the block; returns the new hidden state and, on MoE layers, the router logits.</summary>
    public (Tensor hidden, Tensor? routerLogits) Forward(Tensor h, in LayerInputs inputs)
    {
        using var scope = NewDisposeScope();
        var normed = input_layernorm.forward(h);
        var mixed = self_attn is not null
            ? self_attn.Forward(normed, inputs.AttentionBias, inputs.IsCausal, inputs.Cache?.Kv(LayerIndex))
            : mamba!.Forward(normed, inputs.MambaMask, inputs.Cache?.Mamba(LayerIndex));
        h = h + mixed;

        normed = pre_ff_layernorm.forward(h);
        Tensor? routerLogits = null;
        Tensor ff;
        if (feed_forward is SparseMoeBlock moe) (ff, routerLogits) = moe.Forward(normed);
        else ff = ((JambaMlp)feed_forward).forward(normed);
        h = h + ff;
        return (h.MoveToOuterDisposeScope(), routerLogits?.MoveToOuterDisposeScope());
    }
}

/// <summary>What every layer of one forward pass shares: masks and the cache.</summary>
/// <param name="AttentionBias">Additive attention bias [B, 1, T, S], or null.</param>
/// <param name="IsCausal">Whether attention should apply a plain causal mask itself.</param>
/// <param name="MambaMask">Padding mask [B, T] of the current positions for the Mamba layers, or null when none is padded.</param>
/// <param name="Cache">The hybrid cache, or null for a stateless forward.</param>
public readonly record struct LayerInputs(Tensor? AttentionBias, bool IsCausal, Tensor? MambaMask, HybridCache? Cache);
