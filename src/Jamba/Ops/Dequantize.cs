using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Ops;

/// <summary>
/// A quantized linear's stored weight back to a dense [out, in] matrix: q · s computed in float32, then cast to the
/// requested dtype. The stored weight's dtype says the scheme (see <see cref="Quantization.Quantizer"/>):
/// int8 [out, in] with a float32 scale [out] per row, or uint8 [out, in / 2] packed nibbles with a float16 scale
/// [out, in / G] per group of G inputs (G = in / scale columns).
/// </summary>
public static class Dequantize
{
    /// <summary>
    /// The dense weight [out, in] in <paramref name="dtype"/>: on the CPU, for float32 or bfloat16, by
    /// <see cref="DequantizeCpu"/> (the same values as <see cref="Reference"/>, bit for bit, rows split across the
    /// cores); elsewhere by <see cref="Reference"/>. The decode engine's kernels read the stored form directly and
    /// never call this; a prefill does, and hands the result to libtorch's matmul.
    /// </summary>
    public static unsafe Tensor Forward(Tensor weight, Tensor scale, ScalarType dtype)
    {
        var (rows, cols, groups) = Check(weight, scale);
        bool q4 = weight.dtype == ScalarType.Byte;
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16) || !CpuKernelSupport.AllOnCpu(weight, scale)
            || !weight.is_contiguous() || !scale.is_contiguous() || cols > int.MaxValue || rows > int.MaxValue
            || (q4 && !QuantizedMatrix.SupportsGroup((int)cols, (int)(cols / groups))))
            return Reference(weight, scale, dtype);
        var dense = empty(new[] { rows, cols }, dtype, weight.device);
        if (rows * cols == 0) return dense;
        var matrix = q4 ? QuantizedMatrix.Q4(CpuKernelSupport.Ptr8(weight), CpuKernelSupport.Ptr16(scale), (int)cols, (int)(cols / groups))
                        : QuantizedMatrix.Int8((sbyte*)CpuKernelSupport.Ptr8(weight), CpuKernelSupport.Ptr(scale), (int)cols);
        if (dtype == ScalarType.Float32) DequantizeCpu.ToFloat32(matrix, (int)rows, CpuKernelSupport.Ptr(dense), CpuKernelSupport.Threads);
        else DequantizeCpu.ToBFloat16(matrix, (int)rows, CpuKernelSupport.Ptr16(dense), CpuKernelSupport.Threads);
        GC.KeepAlive(weight);
        GC.KeepAlive(scale);
        return dense;
    }

    /// <summary>The slow twin: plain tensor operations on any device.</summary>
    public static Tensor Reference(Tensor weight, Tensor scale, ScalarType dtype)
    {
        var (rows, cols, groups) = Check(weight, scale);
        using var scope = NewDisposeScope();
        Tensor dense;
        if (weight.dtype == ScalarType.Int8)
            dense = weight.to_type(ScalarType.Float32) * scale.unsqueeze(1);                          // (out, in)
        else
        {
            long groupSize = cols / groups, half = groupSize / 2;
            var packed = weight.view(rows, groups, half);                                            // (out, in/G, G/2)
            var low = packed.bitwise_and(15).to_type(ScalarType.Float32).sub_(8);                    // elements [0, G/2)
            var high = packed.bitwise_right_shift(4).to_type(ScalarType.Float32).sub_(8);            // elements [G/2, G)
            dense = (cat(new[] { low, high }, 2) * scale.to_type(ScalarType.Float32).unsqueeze(2)).view(rows, cols);
        }
        return (dense.dtype == dtype ? dense : dense.to_type(dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>Rows, input features and groups of a stored weight and scale pair, after checking they fit together.</summary>
    internal static (long rows, long cols, long groups) Check(Tensor weight, Tensor scale)
    {
        if (weight.dim() != 2)
            throw new ArgumentException($"a quantized weight is 2-D, got [{string.Join(", ", weight.shape)}]", nameof(weight));
        long rows = weight.size(0);
        if (weight.dtype == ScalarType.Int8)
        {
            if (scale.dtype != ScalarType.Float32)
                throw new ArgumentException($"an int8 weight's weight_scale is float32, got {scale.dtype}", nameof(scale));
            if (scale.dim() != 1 || scale.size(0) != rows)
                throw new ArgumentException($"an int8 weight [{rows}, {weight.size(1)}] needs weight_scale [{rows}], got [{string.Join(", ", scale.shape)}]", nameof(scale));
            return (rows, weight.size(1), 1);
        }
        if (weight.dtype != ScalarType.Byte)
            throw new ArgumentException($"a quantized weight is int8 or uint8 (packed 4-bit), got {weight.dtype}", nameof(weight));
        if (scale.dtype != ScalarType.Float16)
            throw new ArgumentException($"a 4-bit weight's weight_scale is float16, got {scale.dtype}", nameof(scale));
        long cols = weight.size(1) * 2;
        if (scale.dim() != 2 || scale.size(0) != rows || scale.size(1) == 0 || cols % scale.size(1) != 0 || (cols / scale.size(1)) % 2 != 0)
            throw new ArgumentException($"a 4-bit weight [{rows}, {weight.size(1)}] ({cols} inputs) needs weight_scale [{rows}, {cols} / group size], got [{string.Join(", ", scale.shape)}]", nameof(scale));
        return (rows, cols, scale.size(1));
    }
}
