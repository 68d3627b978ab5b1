using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Engine.Cpu;

/// <summary>
/// The fused Mamba decode step (<see cref="MambaStepCpu"/>) behind tensors: from in_proj's output of one token to
/// the gated y that out_proj takes, updating the conv window and SSM state in place. Runs only where the kernel
/// can (CPU, float32 or bfloat16 parameters, no gradients); otherwise returns null.
/// With bfloat16 parameters the arithmetic is float32 throughout (the Modeling mixer, its twin, rounds to bfloat16 between operations).
/// </summary>
internal static class MambaStep
{
    /// <summary>
    /// projected [batch, 1, 2·d_inner] (in_proj output: x then gate); convState [batch, d_inner, K] and ssmState
    /// [batch, d_inner, N] updated in place; the mixer's parameters as named in the reference (norm weights null
    /// when the model has no inner norms). Returns y [batch, 1, d_inner] in float32, or null when the kernel does not apply.
    /// </summary>
    public static unsafe Tensor? TryForward(Tensor projected, Tensor convState, Tensor ssmState, Tensor convWeight, Tensor? convBias,
        Tensor xProj, Tensor? dtNorm, Tensor? bNorm, Tensor? cNorm, double eps, Tensor dtProj, Tensor dtBias, Tensor aLog, Tensor d)
    {
        // float32 or bfloat16 parameters (all of one dtype, the activations'), read as they are; a float32 SSM state.
        var dtype = projected.dtype;
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16) || convState.dtype != dtype || ssmState.dtype != ScalarType.Float32) return null;
        var parameters = new[] { convWeight, convBias, xProj, dtNorm, bNorm, cNorm, dtProj, dtBias, aLog, d };
        if (parameters.Any(t => t is not null && t.dtype != dtype)) return null;
        if (is_grad_enabled() && (projected.requires_grad || parameters.Any(t => t is not null && t.requires_grad))) return null;
        foreach (var t in parameters.Concat(new[] { projected, convState, ssmState }))
            if (t is not null && (!t.is_contiguous() || t.device_type != DeviceType.CPU)) return null;
        if ((dtNorm is null) != (bNorm is null) || (dtNorm is null) != (cNorm is null)) return null;
        long batch = convState.size(0), channels = convState.size(1), k = convState.size(2), n = ssmState.size(2), r = dtProj.size(1);
        if (projected.numel() != batch * 2 * channels || ssmState.size(0) != batch || ssmState.size(1) != channels
            || convWeight.numel() != channels * k || xProj.size(0) != r + 2 * n || xProj.size(1) != channels
            || dtProj.size(0) != channels || aLog.numel() != channels * n || d.numel() != channels)
            throw new ArgumentException("Mamba decode step: the state and parameter shapes do not agree.");
        using var scope = NewDisposeScope();
        bool bf16 = dtype == ScalarType.BFloat16;
        void* P(Tensor? t) => t is null ? null : bf16 ? CpuKernelSupport.Ptr16(t) : CpuKernelSupport.Ptr(t);
        var y = empty(new[] { batch, 1, channels }, ScalarType.Float32, projected.device);
        float* proj = CpuKernelSupport.Ptr(CpuKernelSupport.F32(projected));
        var buffers = new MambaStepBuffers
        {
            Batch = (int)batch, Channels = (int)channels, State = (int)n, DtRank = (int)r, ConvWidth = (int)k,
            X = proj, Gate = proj + channels, XStride = 2 * channels,
            ConvState = bf16 ? null : CpuKernelSupport.Ptr(convState),
            ConvState16 = bf16 ? CpuKernelSupport.Ptr16(convState) : null,
            SsmState = CpuKernelSupport.Ptr(ssmState),
            Bf16Params = bf16, ConvWeight = P(convWeight), ConvBias = P(convBias), XProj = P(xProj),
            DtNorm = P(dtNorm), BNorm = P(bNorm), CNorm = P(cNorm),
            Eps = (float)eps, DtProj = P(dtProj), DtBias = P(dtBias), ALog = P(aLog), D = P(d), Y = CpuKernelSupport.Ptr(y),
        };
        MambaStepCpu.Step(buffers, CpuKernelSupport.Threads);
        return y.MoveToOuterDisposeScope();
    }
}
