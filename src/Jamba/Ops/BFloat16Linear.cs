using System.Runtime.Intrinsics.X86;
using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Ops;

/// <summary>
/// y = x · weightᵀ + bias for a bfloat16 projection on the CPU: the rows widened to float32, multiplied by
/// <see cref="GemmCpu"/> against the bfloat16 weight (widened a cache-sized panel at a time) and rounded to bfloat16
/// once, as libtorch's bfloat16 matmul rounds its float32 sums. On x86 CPUs without AVX-512 (BW, VL, DQ) libtorch has
/// no oneDNN path for that matmul and takes a generic one, many times slower than its float32 product; there this is
/// the float32 blocked product instead. Where libtorch has the fast path, it keeps it.
/// </summary>
public static class BFloat16Linear
{
    /// <summary>
    /// Whether <see cref="Forward"/> takes these tensors: x bfloat16 with at least two rows (x [..., in] read as
    /// [numel / in, in]), the weight and bias bfloat16, everything on the CPU, no gradient asked for, AVX2 + FMA, and
    /// libtorch's bfloat16 matmul without its fast path. One row is decode, which the CPU engine's own kernels serve.
    /// </summary>
    public static bool Applies(Tensor x, Tensor weight, Tensor? bias) => LibtorchIsGeneric && Takes(x, weight, bias);

    /// <summary>
    /// Whether libtorch multiplies bfloat16 matrices on this CPU by its generic path: it uses oneDNN's where the CPU has
    /// AVX-512 BW, VL and DQ (PyTorch's <c>mkldnn_bf16_device_check</c>).
    /// </summary>
    public static bool LibtorchIsGeneric { get; } = !(Avx512BW.IsSupported && Avx512BW.VL.IsSupported && Avx512DQ.IsSupported);

    /// <summary>Whether <see cref="Gemm"/> takes these tensors, whatever libtorch's path.</summary>
    static bool Takes(Tensor x, Tensor weight, Tensor? bias) =>
        GemmCpu.Vectorized && x.dtype == ScalarType.BFloat16 && weight.dtype == ScalarType.BFloat16
        && (bias is null || bias.dtype == ScalarType.BFloat16) && CpuKernelSupport.AllOnCpu(x, weight, bias)
        && !(is_grad_enabled() && (x.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false)))
        && weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1) && weight.is_contiguous()
        && weight.size(0) <= int.MaxValue && weight.size(1) is > 0 and <= int.MaxValue
        && x.numel() / weight.size(1) is >= 2 and <= int.MaxValue;

    /// <summary>The product through <see cref="GemmCpu"/>, where <see cref="Applies"/>; libtorch's linear otherwise.</summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias) =>
        Applies(x, weight, bias) ? Product(x, weight, bias) : nn.functional.linear(x, weight, bias);

    /// <summary>The product through <see cref="GemmCpu"/> wherever it runs (the tests call it directly).</summary>
    internal static Tensor Gemm(Tensor x, Tensor weight, Tensor? bias) => Takes(x, weight, bias)
        ? Product(x, weight, bias)
        : throw new ArgumentException($"the CPU GEMM takes bfloat16 rows, weight and bias on the CPU without gradients and AVX2 + FMA; got x {x.dtype} [{string.Join(", ", x.shape)}] on {x.device}, weight {weight.dtype}", nameof(x));

    /// <summary>The GEMM itself, on tensors <see cref="Takes"/> accepted.</summary>
    static unsafe Tensor Product(Tensor x, Tensor weight, Tensor? bias)
    {
        int rows = (int)(x.numel() / weight.size(1)), inF = (int)weight.size(1), outF = (int)weight.size(0);
        var shape = CpuKernelSupport.Shape(x);
        shape[^1] = outF;
        using var scope = NewDisposeScope();
        var input = x.to_type(ScalarType.Float32).contiguous();
        var b = bias?.to_type(ScalarType.Float32).contiguous();
        var y = empty(shape, ScalarType.Float32);
        GemmCpu.ForwardBF16(CpuKernelSupport.Ptr(input), CpuKernelSupport.Ptr16(weight), b is null ? null : CpuKernelSupport.Ptr(b),
            CpuKernelSupport.Ptr(y), rows, inF, outF, CpuKernelSupport.Threads);
        GC.KeepAlive(weight);
        return y.to_type(ScalarType.BFloat16).MoveToOuterDisposeScope();
    }

    /// <summary>The twin: the weight and input widened to float32, libtorch's float32 linear, rounded to bfloat16.</summary>
    public static Tensor Reference(Tensor x, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        return nn.functional.linear(x.to_type(ScalarType.Float32), weight.to_type(ScalarType.Float32), bias?.to_type(ScalarType.Float32))
            .to_type(ScalarType.BFloat16).MoveToOuterDisposeScope();
    }
}
