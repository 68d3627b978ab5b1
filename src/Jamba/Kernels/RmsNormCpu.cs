using System.Runtime.CompilerServices;
using System.Numerics;

namespace Jamba.Kernels;

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
    /// bfloat16 rows (bits) into y: normalised in float32, rounded to bfloat16, then scaled by the bfloat16 weight and
    /// rounded again: the reference's <c>weight * normed.to(dtype)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardBF16(ushort* x, ushort* weight, ushort* y, int rows, int size, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            ushort* xr = x + (long)r * size, yr = y + (long)r * size;
            float sq = 0f;
            for (int i = 0; i < size; i++) { float v = BFloat16.ToSingle(xr[i]); sq += v * v; }
            float scale = 1f / MathF.Sqrt(sq / size + eps);
            for (int i = 0; i < size; i++)
            {
                float normed = BFloat16.ToSingle(BFloat16.FromSingle(BFloat16.ToSingle(xr[i]) * scale));
                yr[i] = BFloat16.FromSingle(BFloat16.ToSingle(weight[i]) * normed);
            }
        }
    }

    /// <summary>
    /// <see cref="ForwardBF16"/> on rows kept widened in float32 (values that are exactly bfloat16): the same
    /// arithmetic and roundings, results stored widened.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardBF16Widened(float* x, ushort* weight, float* y, int rows, int size, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * size, yr = y + (long)r * size;
            float sq = 0f;
            for (int i = 0; i < size; i++) sq += xr[i] * xr[i];
            float scale = 1f / MathF.Sqrt(sq / size + eps);
            for (int i = 0; i < size; i++)
            {
                float normed = BFloat16.ToSingle(BFloat16.FromSingle(xr[i] * scale));
                yr[i] = BFloat16.ToSingle(BFloat16.FromSingle(BFloat16.ToSingle(weight[i]) * normed));
            }
        }
    }

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
