using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Ops;

/// <summary>
/// y = x · dequantize(weight, scale)ᵀ + bias: a quantized linear's product (the stored form as in
/// <see cref="Dequantize"/>). The tensor path dequantizes the whole weight and hands it to libtorch's matmul; on the CPU,
/// for several float32 rows (a prefill, scoring), <see cref="GemmCpu"/> dequantizes it a cache-sized panel at a time
/// inside its own blocked product instead, and never holds the float32 weight.
/// </summary>
public static class QuantizedMatmul
{
    /// <summary>
    /// The product, by <see cref="GemmCpu"/> when x is float32 with at least two rows (x [..., in] read as
    /// [numel / in, in]), everything is on the CPU and no gradient is asked for; otherwise by the tensor path
    /// (<see cref="Dequantize.Forward"/> then libtorch's linear, in x's dtype), which at one row is as fast and on
    /// other devices the only one.
    /// </summary>
    /// <param name="x">The input [..., in].</param>
    /// <param name="weight">int8 [out, in] or uint8 packed 4-bit [out, in / 2].</param>
    /// <param name="scale">float32 [out] (int8) or [out, in / G] (4-bit).</param>
    /// <param name="bias">[out] in x's dtype, or null.</param>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor scale, Tensor? bias)
    {
        var (outF, inF, groups) = Check(x, weight, scale, bias);
        long rows = inF == 0 ? 0 : x.numel() / inF;
        if (rows < 2 || !Applies(x, weight, scale, bias, outF, inF, groups))
        {
            using var scope = NewDisposeScope();
            return nn.functional.linear(x, Dequantize.Forward(weight, scale, x.dtype), bias).MoveToOuterDisposeScope();
        }
        return Gemm(x, weight, scale, bias, CpuKernelSupport.Threads);
    }

    /// <summary>The slow twin: the weight dequantized by <see cref="Dequantize.Reference"/>, then libtorch's linear.</summary>
    public static Tensor Reference(Tensor x, Tensor weight, Tensor scale, Tensor? bias)
    {
        Check(x, weight, scale, bias);
        using var scope = NewDisposeScope();
        return nn.functional.linear(x, Dequantize.Reference(weight, scale, x.dtype), bias).MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="Gemm"/> takes these tensors (at any number of rows).</summary>
    static bool Applies(Tensor x, Tensor weight, Tensor scale, Tensor? bias, long outF, long inF, long groups) =>
        x.dtype == ScalarType.Float32 && (bias is null || bias.dtype == ScalarType.Float32)
        && CpuKernelSupport.AllOnCpu(x, weight, scale, bias) && !(x.requires_grad && is_grad_enabled())
        && weight.is_contiguous() && scale.is_contiguous() && inF <= int.MaxValue && outF <= int.MaxValue
        && x.numel() / Math.Max(1, inF) <= int.MaxValue
        && (weight.dtype == ScalarType.Int8 || QuantizedMatrix.SupportsGroup((int)inF, (int)(inF / groups)));

    /// <summary>
    /// The product through <see cref="GemmCpu"/> on <paramref name="threads"/> threads, whatever the number of rows (the
    /// tests and benchmarks call it directly). x float32 on the CPU; the bias float32 or null.
    /// </summary>
    internal static unsafe Tensor Gemm(Tensor x, Tensor weight, Tensor scale, Tensor? bias, int threads)
    {
        var (outF, inF, groups) = Check(x, weight, scale, bias);
        if (!Applies(x, weight, scale, bias, outF, inF, groups))
            throw new ArgumentException($"the CPU GEMM takes a float32 input and bias on the CPU without gradients and a 4-bit group size that is a multiple of 16; got x {x.dtype} on {x.device}, bias {bias?.dtype.ToString() ?? "none"}", nameof(x));
        var shape = CpuKernelSupport.Shape(x);
        shape[^1] = outF;
        long rows = inF == 0 ? 0 : x.numel() / inF;
        using var scope = NewDisposeScope();
        var input = x.contiguous();
        var b = bias?.contiguous();
        var y = empty(shape, ScalarType.Float32);
        if (rows == 0 || outF == 0) return y.MoveToOuterDisposeScope();
        if (inF == 0) return (b is null ? y.zero_() : y.copy_(b.expand(shape))).MoveToOuterDisposeScope();
        var matrix = weight.dtype == ScalarType.Byte
            ? QuantizedMatrix.Q4(CpuKernelSupport.Ptr8(weight), CpuKernelSupport.Ptr16(scale), (int)inF, (int)(inF / groups))
            : QuantizedMatrix.Int8((sbyte*)CpuKernelSupport.Ptr8(weight), CpuKernelSupport.Ptr(scale), (int)inF);
        GemmCpu.Forward(CpuKernelSupport.Ptr(input), matrix, b is null ? null : CpuKernelSupport.Ptr(b), CpuKernelSupport.Ptr(y), (int)rows, (int)outF, threads);
        GC.KeepAlive(weight);
        GC.KeepAlive(scale);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Out and in features and scale groups, after checking the input, weight, scale and bias fit together.</summary>
    static (long outF, long inF, long groups) Check(Tensor x, Tensor weight, Tensor scale, Tensor? bias)
    {
        var (outF, inF, groups) = Dequantize.Check(weight, scale);
        if (x.dim() == 0 || x.size(-1) != inF)
            throw new ArgumentException($"the input's last dimension must be in_features {inF}, got [{string.Join(", ", x.shape)}]", nameof(x));
        if (bias is not null && (bias.dim() != 1 || bias.size(0) != outF))
            throw new ArgumentException($"bias must be [{outF}], got [{string.Join(", ", bias.shape)}]", nameof(bias));
        return (outF, inF, groups);
    }
}
