using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Engine.Cpu;

/// <summary>
/// Attention of a decode step — one new query per row over the KV cache — behind tensors. On CPU with float32 or
/// bfloat16 tensors and no gradients it runs <see cref="DecodeAttentionCpu"/>, which reads the cache once per KV
/// head; libtorch's scaled-dot-product attention has a fixed cost per call larger than a single query's work, and
/// re-reads the cache per query head. Anywhere else it runs <see cref="Reference"/>, the twin it is tested against.
/// </summary>
internal static class DecodeAttention
{
    /// <summary>
    /// q [batch, heads, head_dim] over the first <paramref name="length"/> positions of keys and values
    /// [batch, kv_heads, capacity, head_dim] (a cache's buffers), with an additive <paramref name="bias"/>
    /// [batch, 1, 1, length] or null; scores scaled by 1/sqrt(head_dim). Returns [batch, heads, head_dim] in q's dtype.
    /// </summary>
    public static Tensor Forward(Tensor q, Tensor keys, Tensor values, long length, Tensor? bias) =>
        TryForward(q, keys, values, length, bias) ?? Reference(q, keys, values, length, bias);

    /// <summary>
    /// The twin: libtorch's fused attention with each group's query heads folded into the query axis, so one KV
    /// head serves its whole group without repeating the cache per query head.
    /// </summary>
    public static Tensor Reference(Tensor q, Tensor keys, Tensor values, long length, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        long b = q.size(0), heads = q.size(1), d = q.size(2), kvHeads = keys.size(1);
        var k = keys.narrow(2, 0, length);
        var v = values.narrow(2, 0, length);
        var o = nn.functional.scaled_dot_product_attention(q.reshape(b, kvHeads, heads / kvHeads, d), k, v, bias, 0.0, false);
        return o.reshape(b, heads, d).MoveToOuterDisposeScope();
    }

    /// <summary>The kernel's result, or null when it does not apply to these inputs (see the class remarks).</summary>
    public static Tensor? TryForward(Tensor q, Tensor keys, Tensor values, long length, Tensor? bias) =>
        TryForward(q, keys, values, length, bias, CpuKernelSupport.Threads);

    /// <summary><see cref="TryForward(Tensor, Tensor, Tensor, long, Tensor?)"/> on <paramref name="threads"/> threads.</summary>
    internal static unsafe Tensor? TryForward(Tensor q, Tensor keys, Tensor values, long length, Tensor? bias, int threads)
    {
        if (!Applies(q, keys, values, length, bias)) return null;
        using var scope = NewDisposeScope();
        long b = q.size(0), heads = q.size(1), d = q.size(2);
        bool bf16 = q.dtype == ScalarType.BFloat16;
        var output = empty(new[] { b, heads, d }, q.dtype, q.device);
        var a = new DecodeAttentionBuffers
        {
            Batch = (int)b, Heads = (int)heads, KvHeads = (int)keys.size(1), HeadDim = (int)d,
            Capacity = (int)keys.size(2), Length = (int)length, Scale = (float)(1.0 / Math.Sqrt(d)),
            Q = CpuKernelSupport.Ptr(bf16 ? q.to_type(ScalarType.Float32) : q),
            Bias = bias is null ? null : CpuKernelSupport.Ptr(bf16 ? bias.to_type(ScalarType.Float32) : bias),
        };
        if (bf16)
        {
            a.K16 = CpuKernelSupport.Ptr16(keys); a.V16 = CpuKernelSupport.Ptr16(values); a.O16 = CpuKernelSupport.Ptr16(output);
        }
        else
        {
            a.K = CpuKernelSupport.Ptr(keys); a.V = CpuKernelSupport.Ptr(values); a.O = CpuKernelSupport.Ptr(output);
        }
        DecodeAttentionCpu.Forward(a, threads);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="TryForward(Tensor, Tensor, Tensor, long, Tensor?)"/> runs the kernel for these inputs.</summary>
    public static bool Applies(Tensor q, Tensor keys, Tensor values, long length, Tensor? bias)
    {
        if (q.dim() != 3 || keys.dim() != 4 || values.dim() != 4) return false;
        var dtype = q.dtype;
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16) || keys.dtype != dtype || values.dtype != dtype) return false;
        if (!CpuKernelSupport.AllOnCpu(q, keys, values, bias) || !q.is_contiguous() || !keys.is_contiguous() || !values.is_contiguous()) return false;
        long b = q.size(0), heads = q.size(1), d = q.size(2), kvHeads = keys.size(1);
        if (keys.size(0) != b || keys.size(3) != d || kvHeads < 1 || heads % kvHeads != 0) return false;
        for (int i = 0; i < 4; i++) if (values.size(i) != keys.size(i)) return false;
        if (length < 1 || length > keys.size(2) || keys.numel() > int.MaxValue || d > 1024) return false;
        if (bias is not null && (bias.dtype != dtype || !bias.is_contiguous() || bias.numel() != b * length)) return false;
        return !is_grad_enabled() || !(q.requires_grad || keys.requires_grad || values.requires_grad || (bias?.requires_grad ?? false));
    }
}
