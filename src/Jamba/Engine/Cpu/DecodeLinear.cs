using System.Buffers;
using Jamba.Engine.Cpu.Kernels;
using Jamba.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Engine.Cpu;

/// <summary>
/// The linear layers of a decode step: y = x Wᵀ + b when x holds only a few rows (batch-1 or small-batch decoding).
/// There the product is a matrix–vector one, bound by reading W; libtorch runs it on one core, while
/// <see cref="DecodeLinearCpu"/> streams W on every core. Anything else — more rows, gradients, other devices or
/// dtypes — goes to <see cref="nn.functional.linear"/>, the twin the kernel is tested against.
/// </summary>
internal static class DecodeLinear
{
    /// <summary>The most rows the kernel takes; beyond it a matrix–matrix product is compute-bound and libtorch's.</summary>
    public const int MaxRows = 4;

    /// <summary>x [..., in] times weightᵀ [in, out] plus bias [out]: [..., out] in x's dtype.</summary>
    public static unsafe Tensor Forward(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (!Applies(x, weight, bias)) return nn.functional.linear(x, weight, bias);
        using var scope = NewDisposeScope();
        long outF = weight.size(0), inF = weight.size(1), rows = x.numel() / inF;
        var shape = CpuKernelSupport.Shape(x);
        shape[^1] = outF;
        var y = empty(shape, x.dtype, x.device);
        var xc = x.contiguous();
        int threads = CpuKernelSupport.Threads;
        if (x.dtype == ScalarType.Float32)
            DecodeLinearCpu.ForwardF32(CpuKernelSupport.Ptr(xc), CpuKernelSupport.Ptr(weight), CpuKernelSupport.PtrOrNull(bias),
                CpuKernelSupport.Ptr(y), (int)rows, (int)inF, (int)outF, threads);
        else
        {
            var x32 = xc.to_type(ScalarType.Float32);
            DecodeLinearCpu.ForwardBF16(CpuKernelSupport.Ptr(x32), CpuKernelSupport.Ptr16(weight), bias is null ? null : CpuKernelSupport.Ptr16(bias),
                CpuKernelSupport.Ptr16(y), (int)rows, (int)inF, (int)outF, threads);
        }
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// x [..., in] through a quantized linear by <see cref="QuantizedLinearCpu"/> when x holds at most
    /// <see cref="CpuDecodeStep.MaxRows"/> rows on the CPU (float32 or bfloat16, the layer's bias in x's dtype, no
    /// gradients wanted); null otherwise, for <see cref="QuantizedLinear.forward"/>'s tensor path, the twin it is tested
    /// against. A layer that quantizes its activations gets the integer kernels, as in the decode step. A few rows are
    /// where the tensor path costs most: it dequantizes the whole weight to multiply them.
    /// </summary>
    public static unsafe Tensor? TryForward(Tensor x, QuantizedLinear layer)
    {
        if (x.dim() < 1 || x.size(-1) != layer.InFeatures || layer.InFeatures > int.MaxValue || layer.OutFeatures > int.MaxValue) return null;
        if (x.dtype is not (ScalarType.Float32 or ScalarType.BFloat16) || (layer.bias is { } b && (b.dtype != x.dtype || !b.is_contiguous()))) return null;
        if (!CpuKernelSupport.AllOnCpu(x, layer.weight, layer.weight_scale, layer.bias) || !layer.weight.is_contiguous() || !layer.weight_scale.is_contiguous()) return null;
        bool q4 = layer.Scheme == JambaQuantization.Q4;
        int inF = (int)layer.InFeatures, outF = (int)layer.OutFeatures;
        if (q4 && !QuantizedMatrix.SupportsGroup(inF, layer.GroupSize)) return null;
        long rows = x.numel() / inF;
        if (rows < 1 || rows > CpuDecodeStep.MaxRows || (is_grad_enabled() && x.requires_grad)) return null;
        if (layer.QuantizesActivations && q4 && layer.GroupSize is not (32 or 64)) return null;   // what IntegerDot takes
        using var scope = NewDisposeScope();
        bool bf16 = x.dtype == ScalarType.BFloat16;
        var x32 = x.to_type(ScalarType.Float32).contiguous();
        var shape = CpuKernelSupport.Shape(x);
        shape[^1] = outF;
        var y = empty(shape, ScalarType.Float32);
        var w = q4 ? QuantizedMatrix.Q4(CpuKernelSupport.Ptr8(layer.weight), CpuKernelSupport.Ptr16(layer.weight_scale), inF, layer.GroupSize)
                   : QuantizedMatrix.Int8((sbyte*)CpuKernelSupport.Ptr8(layer.weight), CpuKernelSupport.Ptr(layer.weight_scale), inF);
        void* bias = layer.bias is null ? null : bf16 ? CpuKernelSupport.Ptr16(layer.bias) : CpuKernelSupport.Ptr(layer.bias);
        if (layer.QuantizesActivations)
        {
            // Int8 inputs, as the decode step multiplies them: the integer kernels take the rounded input directly.
            var buffer = ArrayPool<byte>.Shared.Rent((int)Int8Activations.Bytes((int)rows, inF));
            try
            {
                fixed (byte* p = buffer)
                {
                    var a = Int8Activations.Quantize(CpuKernelSupport.Ptr(x32), (int)rows, inF, p);
                    QuantizedLinearCpu.Forward(a, w, bias, bf16, CpuKernelSupport.Ptr(y), outF, CpuKernelSupport.Threads);
                }
            }
            finally { ArrayPool<byte>.Shared.Return(buffer); }
        }
        else QuantizedLinearCpu.Forward(CpuKernelSupport.Ptr(x32), w, bias, bf16, CpuKernelSupport.Ptr(y), (int)rows, outF, CpuKernelSupport.Threads);
        GC.KeepAlive(layer);
        return y.to_type(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="Forward(Tensor, Tensor, Tensor?)"/> runs the kernel for these inputs.</summary>
    public static bool Applies(Tensor x, Tensor weight, Tensor? bias)
    {
        if (weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1)) return false;
        if (x.dtype != weight.dtype || x.dtype is not (ScalarType.Float32 or ScalarType.BFloat16)) return false;
        if (bias is not null && (bias.dtype != x.dtype || !bias.is_contiguous() || bias.dim() != 1 || bias.size(0) != weight.size(0))) return false;
        if (!weight.is_contiguous() || !CpuKernelSupport.AllOnCpu(x, weight, bias)) return false;
        long rows = x.numel() / Math.Max(1, weight.size(1));
        if (rows < 1 || rows > MaxRows || weight.numel() > int.MaxValue) return false;
        // The kernel is not an autograd node: with gradients wanted, libtorch's linear records the graph.
        return !is_grad_enabled() || !(x.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false));
    }
}
