using TorchSharp;
using TorchSharp.Modules;
using Jamba.Kernels;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>Root-mean-square norm: x / sqrt(mean(x²) + eps) * weight, computed in float32 as the reference does.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Per-feature scale (state-dict key <c>weight</c>).</summary>
    public readonly Parameter weight;
    private readonly double eps;

    /// <summary>Creates a norm over the last dimension of width <paramref name="size"/>.</summary>
    public RmsNorm(long size, double eps, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(size, dtype: dtype, device: device));
        this.eps = eps;
        RegisterComponents();
    }

    private bool FitsDecodeKernel(Tensor x) =>
        x.dtype == weight.dtype && x.dtype is (ScalarType.Float32 or ScalarType.BFloat16) && x.dim() >= 1 && x.size(-1) == weight.size(0)
        && x.numel() <= DecodeLinear.MaxRows * weight.size(0) && weight.is_contiguous() && CpuKernelSupport.AllOnCpu(x, weight)
        && (!is_grad_enabled() || !(x.requires_grad || weight.requires_grad));

    /// <summary>The epsilon added to the mean square.</summary>
    public double Eps => eps;

    /// <inheritdoc/>
    public override unsafe Tensor forward(Tensor x)
    {
        if (FitsDecodeKernel(x))
        {
            // A decode step's few rows: one call instead of eight small tensor operations.
            var y = empty_like(x);
            var xc = x.contiguous();
            long size = weight.size(0), rows = x.numel() / size;
            if (x.dtype == ScalarType.Float32)
                RmsNormCpu.ForwardF32(CpuKernelSupport.Ptr(xc), CpuKernelSupport.Ptr(weight), CpuKernelSupport.Ptr(y), (int)rows, (int)size, (float)eps);
            else
                RmsNormCpu.ForwardBF16(CpuKernelSupport.Ptr16(xc), CpuKernelSupport.Ptr16(weight), CpuKernelSupport.Ptr16(y), (int)rows, (int)size, (float)eps);
            if (!ReferenceEquals(xc, x)) xc.Dispose();
            return y;
        }
        using var scope = NewDisposeScope();
        var xf = x.to_type(ScalarType.Float32);
        var normed = xf * rsqrt(xf.pow(2).mean(new long[] { -1 }, keepdim: true) + eps);
        return (weight * normed.to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}
