using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// Shared plumbing for the hand-written CPU kernels: when a tensor's memory may be touched directly, how to get
/// at it, and how to split work across threads.
/// </summary>
internal static class CpuKernelSupport
{
    /// <summary>
    /// The options of every small kernel helper: inlined where the JIT's budget allows, and where it does not (a
    /// lambda that already inlined several kernels), compiled fully optimised on its first call rather than as
    /// unoptimised tier-0 code. Tier-0 code inlines nothing, and a helper with loops stays tier-0 until on-stack
    /// replacement catches up, so a kernel helper left to tiering would make a generation's first steps much slower
    /// than its later ones.
    /// </summary>
    public const MethodImplOptions Hot = MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization;

    /// <summary>
    /// The sizes of <paramref name="t"/>, asked dimension by dimension: TorchSharp's <c>shape</c> property builds its
    /// array through several native calls, costing as much as a small kernel, where <c>size(d)</c> is one cheap call.
    /// </summary>
    public static long[] Shape(Tensor t)
    {
        var shape = new long[t.dim()];
        for (int d = 0; d < shape.Length; d++) shape[d] = t.size(d);
        return shape;
    }

    /// <summary>
    /// True when every given tensor lives in host memory. Null entries (optional inputs) are ignored.
    /// </summary>
    public static bool AllOnCpu(params Tensor?[] tensors)
    {
        foreach (var t in tensors)
            if (t is not null && t.device_type != DeviceType.CPU) return false;
        return true;
    }

    /// <summary>
    /// True when every given tensor is small enough for a <see cref="Span{T}"/> over its float32 copy
    /// (TorchSharp exposes raw memory only through int-sized spans).
    /// </summary>
    public static bool FitsSpan(params Tensor?[] tensors)
    {
        foreach (var t in tensors)
            if (t is not null && t.numel() * sizeof(float) > int.MaxValue) return false;
        return true;
    }

    /// <summary>
    /// A float32, contiguous view or copy of <paramref name="t"/> (no copy when it already is one).
    /// </summary>
    public static Tensor F32(Tensor t) => t.to_type(ScalarType.Float32).contiguous();

    /// <summary>
    /// Raw pointer to the first element of a contiguous float32 CPU tensor. The caller keeps the tensor alive
    /// for as long as the pointer is used; libtorch never moves CPU storage, so no pinning is needed.
    /// </summary>
    public static unsafe float* Ptr(Tensor t)
    {
        if (t.dtype != ScalarType.Float32 || !t.is_contiguous() || t.device_type != DeviceType.CPU)
            throw new ArgumentException("Expected a contiguous float32 CPU tensor.", nameof(t));
        if (t.numel() == 0) return null;
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
    }

    /// <summary>
    /// Raw pointer to the first element of a contiguous CPU tensor of 16-bit elements (bfloat16 bits), under the
    /// same lifetime rule as <see cref="Ptr"/>.
    /// </summary>
    public static unsafe ushort* Ptr16(Tensor t)
    {
        if (t.ElementSize != 2 || !t.is_contiguous() || t.device_type != DeviceType.CPU)
            throw new ArgumentException("Expected a contiguous 16-bit CPU tensor.", nameof(t));
        if (t.numel() == 0) return null;
        return (ushort*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
    }

    /// <summary>
    /// Raw pointer to the first element of a contiguous CPU tensor of bytes (int8 or uint8: quantized weights), under
    /// the same lifetime rule as <see cref="Ptr"/>.
    /// </summary>
    public static unsafe byte* Ptr8(Tensor t)
    {
        if (t.ElementSize != 1 || !t.is_contiguous() || t.device_type != DeviceType.CPU)
            throw new ArgumentException("Expected a contiguous 8-bit CPU tensor.", nameof(t));
        if (t.numel() == 0) return null;
        return (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
    }

    /// <summary>The pointer of an optional tensor, or null.</summary>
    public static unsafe float* PtrOrNull(Tensor? t) => t is null ? null : Ptr(t);

    /// <summary>
    /// How many worker threads the kernels use: libtorch's intra-op setting (so a user who limits torch limits
    /// us too), never more than the machine has.
    /// </summary>
    public static int Threads => Math.Max(1, Math.Min(torch.get_num_threads(), Environment.ProcessorCount));

    /// <summary>
    /// Splits <paramref name="channels"/> into contiguous groups so that batch × groups gives every thread a few
    /// items to balance uneven finishing times, without making items so small that scheduling dominates.
    /// </summary>
    public static int GroupCount(long batch, long channels, int threads, long workPerChannel)
    {
        // Below ~64k units of work the thread hand-off costs more than it saves.
        if (threads <= 1 || batch * channels * workPerChannel < 65536) return 1;
        long wanted = (4L * threads + batch - 1) / batch;
        return (int)Math.Clamp(wanted, 1, channels);
    }

    /// <summary>Runs <paramref name="body"/> for 0..count-1, in parallel when worth it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void For(int count, int threads, Action<int> body)
    {
        if (count == 1 || threads <= 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }
}
