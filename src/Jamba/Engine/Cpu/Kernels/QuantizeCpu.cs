using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// Float weights [out, in] (float32 or bfloat16) to the stored quantized form, row by row across the threads: the
/// same arithmetic as <see cref="Quantization.Quantizer"/>'s tensor operations, its twin, in float32 and in the same
/// order (s = max|w| / 127, or for q4 max|w| / 7 rounded to float16; q = round-half-away(w / s) clamped), so the two
/// agree to the bit. Quantizing while
/// loading is otherwise a dozen libtorch passes over every weight; here it is one read of the float weights.
/// </summary>
internal static unsafe class QuantizeCpu
{
    /// <summary>Per-row int8: <paramref name="w"/> [out, in] (float32, or bfloat16 bits when <paramref name="bf16"/>) into q [out, in], scale [out].</summary>
    public static void Int8(void* w, bool bf16, int outF, int inF, sbyte* q, float* scale, int threads) =>
        ForRows(w, bf16, outF, inF, threads, (o, x) => Int8Row(x, inF, q + o * inF, scale + o));

    /// <summary>
    /// Grouped 4-bit: <paramref name="w"/> [out, in] into packed nibbles [out, in / 2] (byte j of a group: element j low,
    /// element j + G/2 high, each stored as q + 8) and float16 scale [out, in / <paramref name="group"/>].
    /// </summary>
    public static void Q4(void* w, bool bf16, int outF, int inF, int group, byte* q, ushort* scale, int threads) =>
        ForRows(w, bf16, outF, inF, threads, (o, x) => Q4Row(x, inF, group, q + o * (inF / 2), scale + o * (inF / group)));

    // The row bodies are methods of their own, compiled optimised from the first call: as lambdas they would run their
    // first rows in the JIT's unoptimised tier, a noticeable share of quantizing a model while loading it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Int8Row(float* x, int inF, sbyte* qo, float* scale)
    {
        float s = AbsMax(x, inF) / 127f;
        *scale = s;
        float d = s > 0 ? s : 1f;
        int i = 0;
        if (Avx2.IsSupported)
        {
            var divisor = Vector256.Create(d);
            var lo = Vector256.Create(-127f); var hi = Vector256.Create(127f);
            for (; i <= inF - 32; i += 32)
            {
                var a = Vector256.Narrow(Round(x + i, divisor, lo, hi), Round(x + i + 8, divisor, lo, hi));
                var b = Vector256.Narrow(Round(x + i + 16, divisor, lo, hi), Round(x + i + 24, divisor, lo, hi));
                Vector256.Narrow(a, b).Store(qo + i);
            }
        }
        for (; i < inF; i++) qo[i] = (sbyte)Math.Clamp(RoundHalfAway(x[i] / d), -127f, 127f);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q4Row(float* x, int inF, int group, byte* q, ushort* scale)
    {
        int groups = inF / group, half = group / 2;
        var lo = Vector256.Create(-8f); var hi = Vector256.Create(7f);
        var eight = Vector256.Create(8);
        for (int g = 0; g < groups; g++)
        {
            float* xg = x + g * group;
            ushort bits = Float16.FromSingle(AbsMax(xg, group) / 7f);
            scale[g] = bits;
            float s = Float16.ToSingle(bits);
            float d = s > 0 ? s : 1f;
            byte* qg = q + g * half;
            int j = 0;
            if (Avx2.IsSupported && half % 8 == 0)
            {
                var divisor = Vector256.Create(d);
                for (; j < half; j += 8)
                {
                    // n = q + 8 of elements j … j + 7 (low nibbles) and j + G/2 … (high), as the bytes lo | hi << 4.
                    var bytes = Round(xg + j, divisor, lo, hi) + eight | (Round(xg + half + j, divisor, lo, hi) + eight) << 4;
                    var packed = Vector256.Narrow(Vector256.Narrow(bytes, bytes), Vector256<short>.Zero).AsByte();
                    *(ulong*)(qg + j) = packed.AsUInt64().ToScalar();
                }
            }
            for (; j < half; j++)
            {
                int l = (int)Math.Clamp(RoundHalfAway(xg[j] / d), -8f, 7f) + 8;
                int h = (int)Math.Clamp(RoundHalfAway(xg[j + half] / d), -8f, 7f) + 8;
                qg[j] = (byte)(l | h << 4);
            }
        }
    }

    /// <summary>One row of the float weights, widened to float32, and its index.</summary>
    delegate void RowBody(long o, float* x);

    /// <summary>Rows longer than this are staged on the heap instead of the stack.</summary>
    const int StackRow = 1 << 14;

    /// <summary>Weights below this many in all are quantized by one thread.</summary>
    const long ParallelThreshold = 1 << 16;

    /// <summary>
    /// Calls <paramref name="body"/> for every row of <paramref name="w"/>, the row widened to float32 in a per-thread
    /// buffer (on the stack, or the heap for long rows), rows split into one contiguous block per thread.
    /// </summary>
    static void ForRows(void* w, bool bf16, int outF, int inF, int threads, RowBody body)
    {
        int blocks = threads <= 1 || (long)inF * outF < ParallelThreshold ? 1 : Math.Min(threads, outF);
        SpinPool.Shared.For(blocks, threads, block =>
        {
            long o0 = (long)outF * block / blocks, o1 = (long)outF * (block + 1) / blocks;
            float* stack = stackalloc float[inF > StackRow ? 0 : inF];
            float[]? heap = inF > StackRow ? new float[inF] : null;
            fixed (float* pinned = heap)
            {
                float* x = heap is null ? stack : pinned;
                for (long o = o0; o < o1; o++)
                {
                    Load(w, bf16, o * inF, inF, x);
                    body(o, x);
                }
            }
        });
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    static void Load(void* w, bool bf16, long offset, int n, float* x)
    {
        if (bf16) BFloat16.Widen((ushort*)w + offset, x, n);
        else Buffer.MemoryCopy((float*)w + offset, x, (long)n * sizeof(float), (long)n * sizeof(float));
    }

    /// <summary>
    /// max |x_i| (NaN if any is NaN, as the twin's amax), a vector at a time where AVX2 allows. |x|'s bits order as
    /// integers the way its values do, and every NaN's lie above infinity's, so an integer maximum of the bits with the
    /// sign cleared is the float maximum, NaN included, at one instruction a vector and a three-step reduction.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static float AbsMax(float* x, int n)
    {
        int i = 0, m = 0;
        if (Avx2.IsSupported && n >= 8)
        {
            var magnitude = Vector256.Create(int.MaxValue);
            var v = Vector256<int>.Zero;
            for (; i <= n - 8; i += 8) v = Avx2.Max(v, Vector256.Load((int*)(x + i)) & magnitude);
            var h = Sse41.Max(v.GetLower(), v.GetUpper());
            h = Sse41.Max(h, Sse2.Shuffle(h, 0b_01_00_11_10));
            h = Sse41.Max(h, Sse2.Shuffle(h, 0b_10_11_00_01));
            m = h.ToScalar();
        }
        for (; i < n; i++) m = Math.Max(m, BitConverter.SingleToInt32Bits(x[i]) & int.MaxValue);
        return BitConverter.Int32BitsToSingle(m);
    }

    /// <summary>
    /// <see cref="RoundHalfAway"/>(x / d) clamped to [lo, hi], eight at a time, as int32: the same float32 operations
    /// in the same order (divide, |·| + 0.5, floor, the sign back, clamp), so the same values.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<int> Round(float* x, Vector256<float> d, Vector256<float> lo, Vector256<float> hi)
    {
        var t = Vector256.Load(x) / d;
        var r = Avx.Floor(Vector256.Abs(t) + Vector256.Create(0.5f));
        r = Vector256.ConditionalSelect(Vector256.LessThan(t, Vector256<float>.Zero), -r, r);
        // The native min, max and conversion (one instruction each): r is an integer-valued float, so they agree with
        // Math.Clamp and the cast for every finite weight.
        return Vector256.ConvertToInt32Native(Vector256.MinNative(Vector256.MaxNative(r, lo), hi));
    }

    /// <summary>The twin's round(x) with ties away from zero: floor(|x| + 0.5) with x's sign, each step in float32.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static float RoundHalfAway(float x)
    {
        float r = MathF.Floor(MathF.Abs(x) + 0.5f);
        return x < 0 ? -r : r;
    }
}
