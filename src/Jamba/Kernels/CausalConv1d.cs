using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Kernels;

/// <summary>
/// Causal depthwise convolution followed by SiLU, as in the Mamba mixer: each channel is convolved with its
/// own kernel of width K over the current and K-1 previous positions (zeros before the first one).
/// Shapes: x [batch, channels, length]; weight [channels, 1, K]; bias [channels] or null.
/// </summary>
public static class CausalConv1d
{
    /// <summary>
    /// Full-sequence form: returns SiLU(conv(x) + bias), [batch, channels, length], in x's dtype. On CPU it runs
    /// the fused kernel (an autograd node when gradients are needed); elsewhere <see cref="Reference"/>.
    /// </summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias)
    {
        if (!CpuKernelSupport.AllOnCpu(x, weight, bias) || !CpuKernelSupport.FitsSpan(x))
            return Reference(x, weight, bias);
        bool needsGrad = is_grad_enabled() && (x.requires_grad || weight.requires_grad || bias is { requires_grad: true });
        return needsGrad ? CausalConv1dFunction.apply(x, weight, bias!) : CausalConv1dFunction.RunForward(x, weight, bias);
    }

    /// <summary>
    /// The same computation with libtorch's grouped conv1d (padded both sides, right part dropped): the twin the
    /// kernel is tested against, and the path on non-CPU devices.
    /// </summary>
    public static Tensor Reference(Tensor x, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        long k = weight.size(2), length = x.size(2);
        var y = nn.functional.conv1d(x, weight, bias, padding: k - 1, groups: x.size(1));
        return nn.functional.silu(y.narrow(2, 0, length)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One decode step: shifts the rolling <paramref name="convState"/> [batch, channels, K] left by one in
    /// place, appends x [batch, channels], and returns SiLU(state · weight + bias), [batch, channels], in x's dtype.
    /// </summary>
    public static unsafe Tensor Step(Tensor convState, Tensor x, Tensor weight, Tensor? bias)
    {
        if (convState.dtype != ScalarType.Float32 || !convState.is_contiguous() || !CpuKernelSupport.AllOnCpu(convState, x, weight, bias))
            return StepTensorOps(convState, x, weight, bias);
        using var scope = NewDisposeScope();
        long batch = convState.size(0), channels = convState.size(1), k = convState.size(2);
        var xf = CpuKernelSupport.F32(x); var wf = CpuKernelSupport.F32(weight); var bf = bias is null ? null : CpuKernelSupport.F32(bias);
        if (xf.numel() != batch * channels || wf.numel() != channels * k || (bf is not null && bf.numel() != channels))
            throw new ArgumentException("Causal conv step: input shapes do not match the rolling state.");
        var y = empty(new[] { batch, channels }, ScalarType.Float32);
        CausalConv1dCpu.Step(CpuKernelSupport.Ptr(convState), CpuKernelSupport.Ptr(xf), CpuKernelSupport.Ptr(wf),
            CpuKernelSupport.PtrOrNull(bf), CpuKernelSupport.Ptr(y), (int)batch, (int)channels, (int)k);
        return (y.dtype == x.dtype ? y : y.to_type(x.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>The decode step in tensor operations, for non-CPU devices or non-float32 rolling states.</summary>
    internal static Tensor StepTensorOps(Tensor convState, Tensor x, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        long k = convState.size(2);
        if (k > 1) convState.narrow(2, 0, k - 1).copy_(convState.narrow(2, 1, k - 1).clone());
        convState.select(2, k - 1).copy_(x);
        var y = (convState * weight.squeeze(1)).sum(-1);
        if (bias is not null) y = y + bias;
        return nn.functional.silu(y).to_type(x.dtype).MoveToOuterDisposeScope();
    }
}
