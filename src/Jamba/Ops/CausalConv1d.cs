using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using static Jamba.Engine.Cpu.Kernels.CpuKernelSupport;

namespace Jamba.Ops;

/// <summary>
/// Causal depthwise convolution followed by SiLU, as in the Mamba mixer: each channel is convolved with its
/// own kernel of width K over the current and K-1 previous positions (zeros before the first one).
/// Shapes: x [batch, channels, length]; weight [channels, 1, K]; bias [channels] or null.
/// </summary>
public static class CausalConv1d
{
    /// <summary>
    /// The convolution as the Mamba mixer applies it: SiLU(conv(x) + bias) for x [batch, channels, T]. With a rolling
    /// <paramref name="window"/> [batch, channels, K] (a cache's; zeros before the first input) the convolution continues
    /// from the inputs the window holds and leaves the last K inputs in it, so a prompt fed in chunks, then token by
    /// token, computes what one pass over the whole sequence computes.
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor weight, Tensor? bias, Tensor? window)
    {
        if (window is null) return Forward(x, weight, bias);
        if (x.size(2) == 1) return Step(window, x.squeeze(2), weight, bias).unsqueeze(2);
        return Continue(x, weight, bias, window);
    }

    /// <summary>
    /// Full-sequence form: returns SiLU(conv(x) + bias), [batch, channels, length], in x's dtype. On CPU it runs
    /// the fused kernel (an autograd node when gradients are needed); elsewhere <see cref="Reference"/>.
    /// </summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias)
    {
        if (!AllOnCpu(x, weight, bias) || !FitsSpan(x))
            return Reference(x, weight, bias);
        bool needsGrad = is_grad_enabled() && (x.requires_grad || weight.requires_grad || bias is { requires_grad: true });
        return needsGrad ? CausalConv1dFunction.apply(x, weight, bias!) : RunCpu(x, weight, bias);
    }

    /// <summary>Runs the forward kernel on CPU tensors of any float dtype; the result has x's dtype.</summary>
    internal static unsafe Tensor RunCpu(Tensor x, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        var (xf, wf, bf) = PrepareCpu(x, weight, bias);
        var y = empty(x.shape, ScalarType.Float32);
        CausalConv1dCpu.Forward(Ptr(xf), Ptr(wf), PtrOrNull(bf), Ptr(y), (int)x.size(0), (int)x.size(1), (int)x.size(2),
            (int)wf.size(1), Threads);
        return (y.dtype == x.dtype ? y : y.to_type(x.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>Float32 contiguous inputs for the kernel (weight as [channels, K]), after checking their shapes.</summary>
    internal static (Tensor x, Tensor w, Tensor? b) PrepareCpu(Tensor x, Tensor weight, Tensor? bias)
    {
        long channels = x.size(1);
        if (x.dim() != 3 || weight.dim() != 3 || weight.size(0) != channels || weight.size(1) != 1
            || (bias is not null && (bias.dim() != 1 || bias.size(0) != channels)))
            throw new ArgumentException("Causal conv: expected x [batch, channels, length], weight [channels, 1, K], bias [channels].");
        return (F32(x), F32(weight).reshape(channels, weight.size(2)), bias is null ? null : F32(bias));
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
    /// Several positions after the inputs held by <paramref name="window"/> [batch, channels, K]: the window's last K − 1
    /// inputs are the history, and the window is left holding the last K inputs.
    /// </summary>
    internal static Tensor Continue(Tensor x, Tensor weight, Tensor? bias, Tensor window)
    {
        using var scope = NewDisposeScope();
        long k = window.size(2);
        var extended = cat(new[] { window.narrow(2, 1, k - 1), x }, 2);                // (B, D, K-1+T)
        window.copy_(extended.narrow(2, extended.size(2) - k, k));
        // Outputs from position K − 1 on read only real inputs, so they are the unpadded conv of the extended input:
        // Forward's kernel (what a prompt without a cache runs) instead of libtorch's grouped conv1d, which in bfloat16
        // on the CPU took a third of a prefill.
        return Forward(extended, weight, bias).narrow(2, k - 1, x.size(2)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One decode step: shifts the rolling <paramref name="convState"/> [batch, channels, K] left by one in
    /// place, appends x [batch, channels], and returns SiLU(state · weight + bias), [batch, channels], in x's dtype.
    /// </summary>
    public static unsafe Tensor Step(Tensor convState, Tensor x, Tensor weight, Tensor? bias)
    {
        if (convState.dtype != ScalarType.Float32 || !convState.is_contiguous() || !AllOnCpu(convState, x, weight, bias))
            return StepTensorOps(convState, x, weight, bias);
        using var scope = NewDisposeScope();
        long batch = convState.size(0), channels = convState.size(1), k = convState.size(2);
        var xf = F32(x); var wf = F32(weight); var bf = bias is null ? null : F32(bias);
        if (xf.numel() != batch * channels || wf.numel() != channels * k || (bf is not null && bf.numel() != channels))
            throw new ArgumentException("Causal conv step: input shapes do not match the rolling state.");
        var y = empty(new[] { batch, channels }, ScalarType.Float32);
        CausalConv1dCpu.Step(Ptr(convState), Ptr(xf), Ptr(wf),
            PtrOrNull(bf), Ptr(y), (int)batch, (int)channels, (int)k);
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
