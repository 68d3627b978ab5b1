using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using static Jamba.Engine.Cpu.Kernels.CpuKernelSupport;

namespace Jamba.Ops;

/// <summary>
/// The CPU causal conv + SiLU as a libtorch autograd node. Inputs to <c>apply</c>: x, weight [channels, 1, K],
/// bias (or null). Only the inputs are kept for the backward; the pre-activation is recomputed there.
/// </summary>
internal sealed class CausalConv1dFunction : torch.autograd.SingleTensorFunction<CausalConv1dFunction>
{
    /// <inheritdoc/>
    public override string Name => "JambaCausalConv1dSilu";

    /// <inheritdoc/>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0]; var weight = (Tensor)vars[1]; var bias = vars[2] as Tensor;
        var (xf, wf, bf) = CausalConv1d.PrepareCpu(x, weight, bias);
        ctx.save_for_backward(new List<Tensor> { xf, wf, bf! });
        ctx.save_data("dtypes", new[] { x.dtype, weight.dtype, bias?.dtype ?? weight.dtype });
        ctx.save_data("hasBias", bias is not null);
        return CausalConv1d.RunCpu(x, weight, bias);
    }

    /// <inheritdoc/>
    public override unsafe List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var (x, w, b) = (saved[0], saved[1], saved[2]);
        var dtypes = (ScalarType[])ctx.get_data("dtypes");
        bool hasBias = (bool)ctx.get_data("hasBias");
        int batch = (int)x.size(0), channels = (int)x.size(1), length = (int)x.size(2), k = (int)w.size(1);
        var gy = F32(gradOutput);
        var gx = empty_like(x);
        var gw = empty(new long[] { batch, channels, k }, ScalarType.Float32);
        var gb = empty(new long[] { batch, channels }, ScalarType.Float32);
        CausalConv1dCpu.Backward(Ptr(x), Ptr(w), hasBias ? Ptr(b) : null, Ptr(gy), Ptr(gx), Ptr(gw), Ptr(gb),
            batch, channels, length, k, Threads);
        Tensor Out(Tensor t, ScalarType dt) => (t.dtype == dt ? t : t.to_type(dt)).MoveToOuterDisposeScope();
        return new List<Tensor>
        {
            Out(gx, dtypes[0]),
            Out(gw.sum(0L).unsqueeze(1), dtypes[1]),
            hasBias ? Out(gb.sum(0L), dtypes[2]) : null!,
        };
    }
}
