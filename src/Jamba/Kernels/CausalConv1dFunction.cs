using TorchSharp;
using static TorchSharp.torch;
using static Jamba.Kernels.CpuKernelSupport;

namespace Jamba.Kernels;

/// <summary>
/// The CPU causal conv + SiLU as a libtorch autograd node. Inputs to <c>apply</c>: x, weight [channels, 1, K],
/// bias (or null). Only the inputs are kept for the backward; the pre-activation is recomputed there.
/// </summary>
internal sealed class CausalConv1dFunction : torch.autograd.SingleTensorFunction<CausalConv1dFunction>
{
    /// <inheritdoc/>
    public override string Name => "JambaCausalConv1dSilu";

    /// <summary>Runs the forward kernel on CPU tensors of any float dtype; the result has x's dtype.</summary>
    internal static unsafe Tensor RunForward(Tensor x, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        var (xf, wf, bf) = Prepare(x, weight, bias);
        var y = empty(x.shape, ScalarType.Float32);
        CausalConv1dCpu.Forward(Ptr(xf), Ptr(wf), PtrOrNull(bf), Ptr(y), (int)x.size(0), (int)x.size(1), (int)x.size(2),
            (int)wf.size(1), Threads);
        return (y.dtype == x.dtype ? y : y.to_type(x.dtype)).MoveToOuterDisposeScope();
    }

    static (Tensor x, Tensor w, Tensor? b) Prepare(Tensor x, Tensor weight, Tensor? bias)
    {
        long channels = x.size(1);
        if (x.dim() != 3 || weight.dim() != 3 || weight.size(0) != channels || weight.size(1) != 1
            || (bias is not null && (bias.dim() != 1 || bias.size(0) != channels)))
            throw new ArgumentException("Causal conv: expected x [batch, channels, length], weight [channels, 1, K], bias [channels].");
        return (F32(x), F32(weight).reshape(channels, weight.size(2)), bias is null ? null : F32(bias));
    }

    /// <inheritdoc/>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0]; var weight = (Tensor)vars[1]; var bias = vars[2] as Tensor;
        var (xf, wf, bf) = Prepare(x, weight, bias);
        ctx.save_for_backward(new List<Tensor> { xf, wf, bf! });
        ctx.save_data("dtypes", new[] { x.dtype, weight.dtype, bias?.dtype ?? weight.dtype });
        ctx.save_data("hasBias", bias is not null);
        return RunForward(x, weight, bias);
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
