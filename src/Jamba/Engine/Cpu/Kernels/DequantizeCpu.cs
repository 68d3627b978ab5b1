using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// A whole quantized matrix to float32 or bfloat16 [out, in], w = q · s computed in float32 (then rounded to
/// bfloat16, to nearest even): what a prefill's matrix–matrix product multiplies, where the product itself is
/// compute-bound and libtorch's. Rows are split across the threads.
/// </summary>
internal static unsafe class DequantizeCpu
{
    /// <summary>Rows below this many weights in all are dequantized by one thread.</summary>
    const long ParallelThreshold = 1 << 16;

    /// <summary>w [out, in] into float32 <paramref name="y"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToFloat32(QuantizedMatrix w, int outF, float* y, int threads)
    {
        int n = w.InFeatures;
        For(w, outF, threads, (o0, o1) =>
        {
            for (long o = o0; o < o1; o++) w.DequantizeRow(o, y + o * n);
        });
    }

    /// <summary>w [out, in] into bfloat16 bits <paramref name="y"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToBFloat16(QuantizedMatrix w, int outF, ushort* y, int threads)
    {
        int n = w.InFeatures;
        For(w, outF, threads, (o0, o1) =>
        {
            float[]? heap = n > 1 << 14 ? new float[n] : null;
            float* stack = stackalloc float[heap is null ? n : 0];
            fixed (float* pinned = heap)
            {
                float* row = heap is null ? stack : pinned;
                for (long o = o0; o < o1; o++)
                {
                    w.DequantizeRow(o, row);
                    Narrow(row, y + o * n, n);
                }
            }
        });
    }

    static void For(QuantizedMatrix w, int outF, int threads, Action<long, long> rows)
    {
        int blocks = threads <= 1 || (long)w.InFeatures * outF < ParallelThreshold ? 1 : Math.Min(threads, outF);
        SpinPool.Shared.For(blocks, threads, block => rows((long)outF * block / blocks, (long)outF * (block + 1) / blocks));
    }

    /// <summary>float32 to bfloat16 bits, rounded to nearest even (<see cref="BFloat16.FromSingle"/>, a vector at a time).</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static void Narrow(float* x, ushort* y, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
            {
                // Dequantized weights are finite, so the NaN case of FromSingle does not arise here.
                var lo = Round(Vector256.Load(x + i).AsUInt32());
                var hi = Round(Vector256.Load(x + i + 8).AsUInt32());
                Vector256.Narrow(lo, hi).Store(y + i);
            }
        for (; i < n; i++) y[i] = BFloat16.FromSingle(x[i]);
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<uint> Round(Vector256<uint> u) =>
        Vector256.ShiftRightLogical(u + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(u, 16) & Vector256.Create(1u)), 16);
}
