using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Engine.Cpu;

/// <summary>
/// The SwiGLU feed-forward (an MLP or one expert) of a decode step's few rows through <see cref="SwiGluCpu"/>: two
/// passes over the weights instead of three products and two elementwise operations. Where it does not apply
/// (more rows, gradients, other devices or dtypes) the Modeling MLP, its twin, serves.
/// </summary>
internal static class DecodeMlp
{
    /// <summary>Whether the kernel takes x [..., hidden] with these gate/up [inter, hidden] and down [hidden, inter] weights.</summary>
    public static bool Applies(Tensor x, Tensor gate, Tensor up, Tensor down) =>
        DecodeLinear.Applies(x, gate, null) && DecodeLinear.Applies(x, up, null)
        && gate.size(0) == up.size(0) && down.dim() == 2 && down.size(0) == x.size(-1) && down.size(1) == gate.size(0)
        && down.dtype == x.dtype && down.is_contiguous() && down.device_type == DeviceType.CPU
        && (!is_grad_enabled() || !down.requires_grad);

    /// <summary>down(SiLU(gate(x)) ⊙ up(x)) for x [..., hidden]: [..., hidden] in x's dtype. Check <see cref="Applies"/> first.</summary>
    public static unsafe Tensor Forward(Tensor x, Tensor gate, Tensor up, Tensor down)
    {
        using var scope = NewDisposeScope();
        var x32 = CpuKernelSupport.F32(x.contiguous());
        var y32 = empty(CpuKernelSupport.Shape(x), ScalarType.Float32, x.device);
        Run(x32, gate, up, down, y32, null, accumulate: false);
        return (x.dtype == ScalarType.Float32 ? y32 : y32.to_type(x.dtype)).MoveToOuterDisposeScope();
    }

    private static unsafe void Run(Tensor x32, Tensor gate, Tensor up, Tensor down, Tensor y32, float* scales, bool accumulate)
    {
        long hidden = gate.size(1), inter = gate.size(0), rows = x32.numel() / hidden;
        if (x32.dtype != ScalarType.Float32 || !x32.is_contiguous() || y32.dtype != ScalarType.Float32 || !y32.is_contiguous() || y32.numel() != rows * hidden)
            throw new ArgumentException("DecodeMlp: x and y must be contiguous float32 [rows, hidden].");
        using var scope = NewDisposeScope();
        var h32 = empty(new[] { rows, inter }, ScalarType.Float32, x32.device);
        bool bf16 = gate.dtype == ScalarType.BFloat16;
        // bfloat16 weights read their inputs reordered (DecodeLinearCpu.PrepareBF16), into these scratch buffers.
        var xp = bf16 ? empty(new[] { rows, hidden }, ScalarType.Float32, x32.device) : null;
        var hp = bf16 ? empty(new[] { rows, inter }, ScalarType.Float32, x32.device) : null;
        void* W(Tensor w) => bf16 ? CpuKernelSupport.Ptr16(w) : CpuKernelSupport.Ptr(w);
        SwiGluCpu.Forward(CpuKernelSupport.Ptr(x32), W(gate), W(up), W(down), bf16, CpuKernelSupport.Ptr(h32), CpuKernelSupport.Ptr(y32),
            scales, accumulate, (int)rows, (int)hidden, (int)inter, CpuKernelSupport.Threads, CpuKernelSupport.PtrOrNull(xp), CpuKernelSupport.PtrOrNull(hp));
    }
}
