using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Jamba.Kernels;

/// <summary>
/// y = x Wᵀ + b for a handful of rows (a decode step), W [out, in] row-major in float32 or bfloat16. At batch 1 a
/// linear layer is a matrix–vector product: every weight byte is read once and used once, so the kernel's only job
/// is to stream W at the memory's full rate on every core. Outputs are split into one contiguous block per thread;
/// each weight row is read once and dotted with every input row while it is still in L1.
/// </summary>
internal static unsafe class DecodeLinearCpu
{
    /// <summary>Weights below this many elements are read by one thread: waking another costs more than it saves.</summary>
    const long ParallelThreshold = 1 << 16;

    /// <summary>float32 weights: x [rows, inF], w [outF, inF], bias [outF] or null, y [rows, outF].</summary>
    public static void ForwardF32(float* x, float* w, float* bias, float* y, int rows, int inF, int outF, int threads)
    {
        int blocks = BlockCount(inF, outF, threads);
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            var (o0, o1) = Range(block, blocks, outF);
            for (int o = o0; o < o1; o++)
            {
                float* row = w + (long)o * inF;
                float b = bias == null ? 0f : bias[o];
                for (int r = 0; r < rows; r++) y[(long)r * outF + o] = DotF32(row, x + (long)r * inF, inF) + b;
            }
        });
    }

    /// <summary>
    /// bfloat16 weights: x32 [rows, inF] is the input already widened to float32; products accumulate in float32 and
    /// each output is rounded to bfloat16 once (as libtorch's bf16 linear on CPU does), y [rows, outF] bfloat16 bits.
    /// </summary>
    public static void ForwardBF16(float* x32, ushort* w, ushort* bias, ushort* y, int rows, int inF, int outF, int threads)
    {
        int blocks = BlockCount(inF, outF, threads);
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            var (o0, o1) = Range(block, blocks, outF);
            for (int o = o0; o < o1; o++)
            {
                ushort* row = w + (long)o * inF;
                float b = bias == null ? 0f : BFloat16.ToSingle(bias[o]);
                for (int r = 0; r < rows; r++) y[(long)r * outF + o] = BFloat16.FromSingle(DotBF16(row, x32 + (long)r * inF, inF) + b);
            }
        });
    }

    static int BlockCount(int inF, int outF, int threads) =>
        threads <= 1 || (long)inF * outF < ParallelThreshold ? 1 : Math.Min(threads, outF);

    static (int, int) Range(int block, int blocks, int outF)
    {
        long o0 = (long)outF * block / blocks, o1 = (long)outF * (block + 1) / blocks;
        return ((int)o0, (int)o1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float DotF32(float* a, float* b, int n)
    {
        // Four independent accumulators hide the FMA latency; the loop is bound by the weight stream anyway.
        var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
            s1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), s1);
            s2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 16), Vector256.Load(b + i + 16), s2);
            s3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 24), Vector256.Load(b + i + 24), s3);
        }
        for (; i <= n - 8; i += 8) s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
        float sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float DotBF16(ushort* a, float* b, int n)
    {
        // bfloat16 is the top half of a float32: widening to 32 bits and shifting left by 16 is the exact conversion.
        var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            var w0 = Vector256.Load(a + i);
            var w1 = Vector256.Load(a + i + 16);
            s0 = Vector256.FusedMultiplyAdd(Widen(Vector256.WidenLower(w0)), Vector256.Load(b + i), s0);
            s1 = Vector256.FusedMultiplyAdd(Widen(Vector256.WidenUpper(w0)), Vector256.Load(b + i + 8), s1);
            s2 = Vector256.FusedMultiplyAdd(Widen(Vector256.WidenLower(w1)), Vector256.Load(b + i + 16), s2);
            s3 = Vector256.FusedMultiplyAdd(Widen(Vector256.WidenUpper(w1)), Vector256.Load(b + i + 24), s3);
        }
        float sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++) sum += BFloat16.ToSingle(a[i]) * b[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Widen(Vector256<uint> bits) => Vector256.ShiftLeft(bits, 16).AsSingle();
}

/// <summary>bfloat16 bit patterns (the upper 16 bits of a float32) to and from float32.</summary>
internal static class BFloat16
{
    /// <summary>The exact float32 value of a bfloat16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Round to nearest even, as libtorch converts; NaN stays NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((u >> 16) | 0x40);
        u += 0x7FFFu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }
}
