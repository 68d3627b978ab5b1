using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// Grouped-query self-attention without any positional encoding (Jamba relies on its Mamba layers for order),
/// no biases, scores scaled by 1/sqrt(head_dim), through libtorch's fused scaled-dot-product attention.
/// </summary>
public sealed class JambaAttention : nn.Module
{
    /// <summary>Query projection [heads * head_dim, hidden]: a <see cref="DenseLinear"/>, or a <see cref="Quantization.QuantizedLinear"/> (see <see cref="DecoderLinear"/>).</summary>
    public readonly nn.Module<Tensor, Tensor> q_proj;
    /// <summary>Key projection [kv_heads * head_dim, hidden].</summary>
    public readonly nn.Module<Tensor, Tensor> k_proj;
    /// <summary>Value projection [kv_heads * head_dim, hidden].</summary>
    public readonly nn.Module<Tensor, Tensor> v_proj;
    /// <summary>Output projection [hidden, heads * head_dim].</summary>
    public readonly nn.Module<Tensor, Tensor> o_proj;
    private readonly long heads, kvHeads, headDim;
    private readonly double dropout;

    /// <summary>Creates the attention of one layer.</summary>
    public JambaAttention(JambaConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(JambaAttention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.NumKeyValueHeads;
        headDim = config.HeadDim;
        dropout = config.AttentionDropout;
        q_proj = DecoderLinear.Create(config, config.HiddenSize, heads * headDim, false, device, dtype);
        k_proj = DecoderLinear.Create(config, config.HiddenSize, kvHeads * headDim, false, device, dtype);
        v_proj = DecoderLinear.Create(config, config.HiddenSize, kvHeads * headDim, false, device, dtype);
        o_proj = DecoderLinear.Create(config, heads * headDim, config.HiddenSize, false, device, dtype);
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
        var q = q_proj.forward(x).view(b, t, heads, headDim).transpose(1, 2);                       // (B, H, T, hd)
        var k = k_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2);                     // (B, KV, T, hd)
        var v = v_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        if (cache is not null) (k, v) = cache.Append(k, v);                                        // (B, KV, S, hd)
        long s = k.size(2), past = s - t;
        double p = training ? dropout : 0.0;
        Tensor o;
        if (isCausal && past > 0)
        {
            // Causal after cached positions: the bias is built a slice of queries at a time, each slice's
            // [rows, S] at most SliceBiasBytes, so a long context's prefill never holds a [T, S] bias.
            long rows = Math.Clamp(SliceBiasBytes / (s * x.ElementSize), 1, t);
            var slices = new List<Tensor>();
            for (long t0 = 0; t0 < t; t0 += rows)
            {
                long n = Math.Min(rows, t - t0);
                var sliceBias = CausalMask.AfterPast(t0, n, s, past, x.dtype, x.device);
                slices.Add(Attend(q.narrow(2, t0, n), k, v, sliceBias, false, p));
                sliceBias.Dispose();
            }
            o = slices.Count == 1 ? slices[0] : cat(slices, 2);
        }
        else o = Attend(q, k, v, bias, isCausal, p);
        return o_proj.forward(o.transpose(1, 2).reshape(b, t, heads * headDim)).MoveToOuterDisposeScope();
    }

    /// <summary>Largest causal-bias slice a prefill chunk builds at once (see <see cref="Forward"/>).</summary>
    const long SliceBiasBytes = 16L << 20;

    /// <summary>
    /// libtorch's scaled-dot-product attention of q (B, H, T, hd) over k, v (B, KV, S, hd). With grouped KV heads, each group's query heads
    /// attend over a stride-0 broadcast of their one KV head: query head h reads KV head h / (heads / kvHeads), the
    /// reference's repeat_kv order, without the (B, H, S, hd) copies that repeating K and V would allocate.
    /// </summary>
    private Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? bias, bool isCausal, double p)
    {
        if (kvHeads == heads) return nn.functional.scaled_dot_product_attention(q, k, v, bias, p, isCausal);
        long rep = heads / kvHeads, b = k.size(0), s = k.size(2);
        var groups = new Tensor[kvHeads];
        for (long g = 0; g < kvHeads; g++)
        {
            var kg = k.narrow(1, g, 1).expand(b, rep, s, headDim);
            var vg = v.narrow(1, g, 1).expand(b, rep, s, headDim);
            groups[g] = nn.functional.scaled_dot_product_attention(q.narrow(1, g * rep, rep), kg, vg, bias, p, isCausal);
        }
        return cat(groups, 1);
    }
}
