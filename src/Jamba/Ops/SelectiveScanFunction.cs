using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using static Jamba.Engine.Cpu.Kernels.CpuKernelSupport;

namespace Jamba.Ops;

/// <summary>
/// The CPU selective scan as a libtorch autograd node: the forward runs the fused kernel (<see cref="SelectiveScan.RunCpu"/>)
/// and keeps only the inputs and one state per chunk; the backward runs the fused reverse kernel. Inputs to <c>apply</c>, in order:
/// x, Δ, A, B, C, D, z (or null), initial state (or null), chunk length (int), and optionally whether to return the
/// final state (bool, default true).
/// Outputs: y (x's dtype) and, unless asked not to, the final state (float32). A caller that does not use the state
/// must ask for y alone: autograd fills the missing gradient of an unused output with zeros shaped like that output,
/// so the output would have to stay alive until backward, which a caller that disposes what it does not use breaks.
/// </summary>
internal sealed class SelectiveScanFunction : torch.autograd.MultiTensorFunction<SelectiveScanFunction>
{
    /// <inheritdoc/>
    public override string Name => "JambaSelectiveScan";

    /// <inheritdoc/>
    public override List<Tensor> forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, delta, A, B, C, D) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (Tensor)vars[4], (Tensor)vars[5]);
        var z = vars[6] as Tensor; var h0 = vars[7] as Tensor; int chunk = (int)vars[8];
        var (y, state, ck) = SelectiveScan.RunCpu(x, delta, A, B, C, D, z, h0, chunk, keepCheckpoints: true);
        // Float32 contiguous copies, so the backward reads the same numbers the forward did (and bf16 inputs are
        // converted once, not twice).
        ctx.save_for_backward(new List<Tensor> { F32(x), F32(delta), F32(A), F32(B), F32(C), F32(D), z is null ? null! : F32(z), ck! });
        ctx.save_data("dtypes", new[] { x.dtype, delta.dtype, A.dtype, B.dtype, C.dtype, D.dtype, z?.dtype ?? x.dtype, h0?.dtype ?? ScalarType.Float32 });
        ctx.save_data("chunk", chunk);
        ctx.save_data("hasInitialState", h0 is not null);
        if (vars.Length > 9 && vars[9] is false)
        {
            state.Dispose();
            return new List<Tensor> { y };
        }
        return new List<Tensor> { y, state };
    }

    /// <inheritdoc/>
    public override unsafe List<Tensor> backward(torch.autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var (x, delta, A, B, C, D, z, ck) = (saved[0], saved[1], saved[2], saved[3], saved[4], saved[5], saved[6], saved[7]);
        var dtypes = (ScalarType[])ctx.get_data("dtypes");
        int chunk = (int)ctx.get_data("chunk");
        bool hasH0 = (bool)ctx.get_data("hasInitialState");
        var p = SelectiveScan.CpuBuffers(x, delta, A, B, C, D, z, null, chunk);
        int threads = Threads, groups = SelectiveScanCpu.BackwardGroups(p, threads);

        var gy = F32(gradOutputs[0]);
        var gState = gradOutputs.Count > 1 && gradOutputs[1] is { IsInvalid: false } gs ? F32(gs) : null;
        var gx = empty_like(x); var gd = empty_like(delta); var gz = z is null ? null : empty_like(z);
        var gh0 = empty(new long[] { p.Batch, p.Channels, p.State }, ScalarType.Float32);
        var gA = empty(new long[] { p.Batch, p.Channels, p.State }, ScalarType.Float32);
        var gD = empty(new long[] { p.Batch, p.Channels }, ScalarType.Float32);
        var gB = empty(new long[] { groups, p.Batch, p.Length, p.State }, ScalarType.Float32);
        var gC = empty(new long[] { groups, p.Batch, p.Length, p.State }, ScalarType.Float32);
        SelectiveScanCpu.Backward(p, Ptr(ck), new SelectiveScanCpu.Grads
        {
            GradY = Ptr(gy), GradFinalState = PtrOrNull(gState), X = Ptr(gx), Delta = Ptr(gd), Z = PtrOrNull(gz),
            InitialState = Ptr(gh0), APerBatch = Ptr(gA), DPerBatch = Ptr(gD), BPerGroup = Ptr(gB), CPerGroup = Ptr(gC),
        }, threads);

        Tensor Out(Tensor t, ScalarType dt) => (t.dtype == dt ? t : t.to_type(dt)).MoveToOuterDisposeScope();
        return new List<Tensor>
        {
            Out(gx, dtypes[0]), Out(gd, dtypes[1]), Out(gA.sum(0L), dtypes[2]), Out(gB.sum(0L), dtypes[3]),
            Out(gC.sum(0L), dtypes[4]), Out(gD.sum(0L), dtypes[5]),
            gz is null ? null! : Out(gz, dtypes[6]),
            hasH0 ? Out(gh0, dtypes[7]) : null!,
            null!,
            null!,
        };
    }
}
