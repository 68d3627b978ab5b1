using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Kernels;

/// <summary>
/// The fused Mamba decode step (<see cref="MambaStepCpu"/>) behind tensors: from in_proj's output of one token to
/// the gated y that out_proj takes, updating the conv window and SSM state in place. Runs only where the kernel
/// can (CPU, float32 throughout, no gradients); otherwise returns null and the mixer takes its tensor path.
/// </summary>
public static class MambaStep
{
    /// <summary>
    /// projected [batch, 1, 2·d_inner] (in_proj output: x then gate); convState [batch, d_inner, K] and ssmState
    /// [batch, d_inner, N] updated in place; the mixer's parameters as named in the reference (norm weights null
    /// when the model has no inner norms). Returns y [batch, 1, d_inner], or null when the kernel does not apply.
    /// </summary>
    public static unsafe Tensor? TryForward(Tensor projected, Tensor convState, Tensor ssmState, Tensor convWeight, Tensor? convBias,
        Tensor xProj, Tensor? dtNorm, Tensor? bNorm, Tensor? cNorm, double eps, Tensor dtProj, Tensor dtBias, Tensor aLog, Tensor d)
    {
        var all = new[] { projected, convState, ssmState, convWeight, convBias, xProj, dtNorm, bNorm, cNorm, dtProj, dtBias, aLog, d };
        foreach (var t in all)
            if (t is not null && (t.dtype != ScalarType.Float32 || !t.is_contiguous() || t.device_type != DeviceType.CPU)) return null;
        if (is_grad_enabled() && all.Any(t => t is not null && t.requires_grad)) return null;
        if ((dtNorm is null) != (bNorm is null) || (dtNorm is null) != (cNorm is null)) return null;
        long batch = convState.shape[0], channels = convState.shape[1], k = convState.shape[2], n = ssmState.shape[2], r = dtProj.shape[1];
        if (projected.numel() != batch * 2 * channels || ssmState.shape[0] != batch || ssmState.shape[1] != channels
            || convWeight.numel() != channels * k || xProj.shape[0] != r + 2 * n || xProj.shape[1] != channels
            || dtProj.shape[0] != channels || aLog.numel() != channels * n || d.numel() != channels)
            throw new ArgumentException("Mamba decode step: the state and parameter shapes do not agree.");
        using var scope = NewDisposeScope();
        var y = empty(new[] { batch, 1, channels }, ScalarType.Float32, projected.device);
        float* proj = CpuKernelSupport.Ptr(projected);
        var buffers = new MambaStepBuffers
        {
            Batch = (int)batch, Channels = (int)channels, State = (int)n, DtRank = (int)r, ConvWidth = (int)k,
            X = proj, Gate = proj + channels, XStride = 2 * channels,
            ConvState = CpuKernelSupport.Ptr(convState), SsmState = CpuKernelSupport.Ptr(ssmState),
            ConvWeight = CpuKernelSupport.Ptr(convWeight), ConvBias = CpuKernelSupport.PtrOrNull(convBias),
            XProj = CpuKernelSupport.Ptr(xProj),
            DtNorm = CpuKernelSupport.PtrOrNull(dtNorm), BNorm = CpuKernelSupport.PtrOrNull(bNorm), CNorm = CpuKernelSupport.PtrOrNull(cNorm),
            Eps = (float)eps, DtProj = CpuKernelSupport.Ptr(dtProj), DtBias = CpuKernelSupport.Ptr(dtBias),
            ALog = CpuKernelSupport.Ptr(aLog), D = CpuKernelSupport.Ptr(d), Y = CpuKernelSupport.Ptr(y),
        };
        MambaStepCpu.Step(buffers, CpuKernelSupport.Threads);
        return y.MoveToOuterDisposeScope();
    }
}
