namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// The scalar twins of the quantized kernels (<see cref="QuantizedMatrix"/>, <see cref="QuantizedLinearCpu"/>,
/// <see cref="DequantizeCpu"/>): one weight at a time, straight from the layout's definition, for the tests to hold
/// the fast paths against.
/// </summary>
internal static class QuantizedReference
{
    /// <summary>
    /// Weight (o, i) of an int8 (<paramref name="group"/> 0, <paramref name="weight"/> the sbyte bits) or q4 matrix:
    /// q · s in float32.
    /// </summary>
    public static float Weight(byte[] weight, float[] scale, int inF, int group, long o, int i)
    {
        if (group == 0) return (sbyte)weight[o * inF + i] * scale[o];
        int k = i / group, e = i % group, half = group / 2;
        byte b = weight[o * (inF / 2) + k * half + (e < half ? e : e - half)];
        int q = (e < half ? b & 15 : b >> 4) - 8;
        return q * scale[o * (inF / group) + k];
    }

    /// <summary>The whole matrix [out, in] in float32.</summary>
    public static float[] Dequantize(byte[] weight, float[] scale, int inF, int outF, int group)
    {
        var y = new float[(long)outF * inF];
        for (long o = 0; o < outF; o++)
            for (int i = 0; i < inF; i++) y[o * inF + i] = Weight(weight, scale, inF, group, o, i);
        return y;
    }

    /// <summary>
    /// y [rows, out] = x [rows, in] Wᵀ + bias, summed in float64 from the float32 weights; with <paramref name="bf16"/>
    /// the bias is taken as given (already bfloat16 values) and each output is rounded to bfloat16.
    /// </summary>
    public static float[] Linear(float[] x, byte[] weight, float[] scale, float[]? bias, int rows, int inF, int outF, int group, bool bf16)
    {
        var y = new float[rows * outF];
        for (int r = 0; r < rows; r++)
            for (long o = 0; o < outF; o++)
            {
                double sum = 0;
                for (int i = 0; i < inF; i++) sum += (double)Weight(weight, scale, inF, group, o, i) * x[r * inF + i];
                float v = (float)sum + (bias is null ? 0f : bias[o]);
                y[r * outF + o] = bf16 ? BFloat16.ToSingle(BFloat16.FromSingle(v)) : v;
            }
        return y;
    }

    /// <summary>Σ_i |w_i x_i| for output (r, o): the scale of the rounding error any summation order may make.</summary>
    public static double AbsSum(float[] x, byte[] weight, float[] scale, int r, long o, int inF, int group)
    {
        double sum = 0;
        for (int i = 0; i < inF; i++) sum += Math.Abs((double)Weight(weight, scale, inF, group, o, i) * x[r * inF + i]);
        return sum;
    }
}
