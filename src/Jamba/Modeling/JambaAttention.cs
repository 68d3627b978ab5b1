using TorchSharp;
using TorchSharp.Modules;
using Jamba.Inference;
using Jamba.Kernels;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// Grouped-query self-attention without any positional encoding (Jamba relies on its Mamba layers for order),
/// no biases, scores scaled by 1/sqrt(head_dim), through libtorch's fused scaled-dot-product attention.
/// </summary>
public sealed class JambaAttention : nn.Module
{
    /// <summary>Query projection [heads * head_dim, hidden].</summary>
    public readonly Linear q_proj;
    /// <summary>Key projection [kv_heads * head_dim, hidden].</summary>
    public readonly Linear k_proj;
    /// <summary>Value projection [kv_heads * head_dim, hidden].</summary>
    public readonly Linear v_proj;
    /// <summary>Output projection [hidden, heads * head_dim].</summary>
    public readonly Linear o_proj;
    private readonly long heads, kvHeads, headDim;
    private readonly double dropout;

    /// <summary>Creates the attention of one layer.</summary>
    public JambaAttention(JambaConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(JambaAttention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.NumKeyValueHeads;
        headDim = config.HeadDim;
        dropout = config.AttentionDropout;
        q_proj = nn.Linear(config.HiddenSize, heads * headDim, hasBias: false, device: device, dtype: dtype);
        k_proj = nn.Linear(config.HiddenSize, kvHeads * headDim, hasBias: false, device: device, dtype: dtype);
        v_proj = nn.Linear(config.HiddenSize, kvHeads * headDim, hasBias: false, device: device, dtype: dtype);
        o_proj = nn.Linear(heads * headDim, config.HiddenSize, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>
    /// Attends x [batch, T, hidden] over the cached keys (if any) and its own. <paramref name="bias"/> is the
    /// additive mask from <see cref="CausalMask"/>; <paramref name="isCausal"/> asks the kernel for a plain causal mask.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? bias, bool isCausal, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long b = x.size(0), t = x.size(1);
        var q = DecodeLinear.Forward(x, q_proj).view(b, t, heads, headDim).transpose(1, 2);        // (B, H, T, hd)
        var k = DecodeLinear.Forward(x, k_proj).view(b, t, kvHeads, headDim).transpose(1, 2);      // (B, KV, T, hd)
        var v = DecodeLinear.Forward(x, v_proj).view(b, t, kvHeads, headDim).transpose(1, 2);
        if (cache is not null) (k, v) = cache.Append(k, v);                          // (B, KV, S, hd)
        if (t == 1 && kvHeads != heads && !isCausal)
        {
            // Decode step: fold each group's query heads into the query axis, so one KV head serves its whole
            // group and the cached K/V are never copied per query head. A single query needs no causal mask,
            // and the padding bias (B, 1, 1, S) broadcasts over the folded axis.
            long rep = heads / kvHeads;
            var grouped = nn.functional.scaled_dot_product_attention(q.reshape(b, kvHeads, rep, headDim), k, v, bias, 0.0, false);
            return DecodeLinear.Forward(grouped.reshape(b, 1, heads * headDim), o_proj).MoveToOuterDisposeScope();
        }
        if (kvHeads != heads)
        {
            // Query head h reads KV head h / (heads / kvHeads), the reference's repeat_kv order.
            long rep = heads / kvHeads, s = k.size(2);
            k = k.unsqueeze(2).expand(b, kvHeads, rep, s, headDim).reshape(b, heads, s, headDim);
            v = v.unsqueeze(2).expand(b, kvHeads, rep, s, headDim).reshape(b, heads, s, headDim);
        }
        var o = nn.functional.scaled_dot_product_attention(q, k, v, bias, training ? dropout : 0.0, isCausal);
        return DecodeLinear.Forward(o.transpose(1, 2).reshape(b, t, heads * headDim), o_proj).MoveToOuterDisposeScope();
    }
}
