using System.Runtime.CompilerServices;
using System.Numerics;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// RMSNorm of a few rows (a decode step's hidden states) in one call: y = weight · x / sqrt(mean(x²) + eps), in
/// float32 as the reference computes it. In tensor operations this is eight small calls per norm and three norms
/// per layer; their dispatch costs more than the arithmetic on one row.
/// </summary>
internal static unsafe class RmsNormCpu
{
    /// <summary>float32 rows x [rows, size] into y, weight [size].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardF32(float* x, float* weight, float* y, int rows, int size, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * size, yr = y + (long)r * size;
            float scale = Scale(xr, size, eps);
            for (int i = 0; i < size; i++) yr[i] = weight[i] * (xr[i] * scale);
        }
    }

    /// <summary>
    /// bfloat16 rows kept widened in float32 (values that are exactly bfloat16) into y, weight as bfloat16 bits: the
    /// reference's <c>weight * normed.to(dtype)</c> — mean square in float32, normalised and rounded to bfloat16,
    /// scaled by the weight and rounded again — with results stored widened.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardBF16Widened(float* x, ushort* weight, float* y, int rows, int size, float eps)
    {
        int w = Vector<float>.Count;
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * size, yr = y + (long)r * size;
            float scale = Scale(xr, size, eps);
            var sc = new Vector<float>(scale);
            int i = 0;
            // Two vectors of weights widened from one load of bfloat16 bits: widening them one by one through memory
            // would stall on store forwarding once per vector.
            for (; i <= size - 2 * w; i += 2 * w)
            {
                Vector.Widen(Vector.Load(weight + i), out Vector<uint> low, out Vector<uint> high);
                var n0 = VectorMath.RoundToBFloat16(Vector.Load(xr + i) * sc);
                var n1 = VectorMath.RoundToBFloat16(Vector.Load(xr + i + w) * sc);
                VectorMath.RoundToBFloat16(Vector.AsVectorSingle(Vector.ShiftLeft(low, 16)) * n0).Store(yr + i);
                VectorMath.RoundToBFloat16(Vector.AsVectorSingle(Vector.ShiftLeft(high, 16)) * n1).Store(yr + i + w);
            }
            for (; i < size; i++)
            {
                float normed = BFloat16.ToSingle(BFloat16.FromSingle(xr[i] * scale));
                yr[i] = BFloat16.ToSingle(BFloat16.FromSingle(BFloat16.ToSingle(weight[i]) * normed));
            }
        }
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    static float Scale(float* x, int size, float eps)
    {
        var acc = Vector<float>.Zero;
        int i = 0, w = Vector<float>.Count;
        for (; i <= size - w; i += w) { var v = Vector.Load(x + i); acc += v * v; }
        float sq = Vector.Sum(acc);
        for (; i < size; i++) sq += x[i] * x[i];
        return 1f / MathF.Sqrt(sq / size + eps);
    }
}
