using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Quantization;

/// <summary>
/// Float weights to the stored quantized form (the inverse is <see cref="Ops.Dequantize"/>). Both schemes are
/// symmetric with round-half-away-from-zero, so |w − q·s| ≤ s/2 for every element:
/// <list type="bullet">
/// <item>Int8, per output row: s = max|w_row| / 127, q = clamp(round(w / s), −127, 127), int8 [out, in];
/// scale float32 [out].</item>
/// <item>Q4, per group of G consecutive inputs: s = max|w_group| / 7, q = clamp(round(w / s), −8, 7), stored as the
/// nibble q + 8; uint8 [out, in / 2], scale float32 [out, in / G]. Within a group's G/2 bytes, byte j holds element
/// j in its low nibble and element j + G/2 in its high nibble (llama.cpp's Q4_0 order), so a kernel gets a group's
/// first half from the low nibbles and its second half from the high nibbles.</item>
/// </list>
/// An all-zero row or group gets s = 0 and q = 0.
/// </summary>
public static class Quantizer
{
    /// <summary>
    /// The scheme a linear of <paramref name="inFeatures"/> inputs is stored in when <paramref name="requested"/> is
    /// asked: Q4 needs in_features to be a multiple of the group size, and becomes Int8 otherwise (the stored weight's
    /// dtype, I8 or U8, says which one a file holds).
    /// </summary>
    public static JambaQuantization SchemeFor(long inFeatures, JambaQuantization requested, int groupSize) =>
        requested == JambaQuantization.Q4 && inFeatures % groupSize != 0 ? JambaQuantization.Int8 : requested;

    /// <summary>Shape of the stored <c>weight</c> of an [out, in] linear.</summary>
    public static long[] WeightShape(long outFeatures, long inFeatures, JambaQuantization scheme) => scheme switch
    {
        JambaQuantization.Int8 => new[] { outFeatures, inFeatures },
        JambaQuantization.Q4 => new[] { outFeatures, inFeatures / 2 },
        _ => throw new ArgumentException($"not a quantized scheme: {scheme}", nameof(scheme)),
    };

    /// <summary>Shape of the stored <c>weight_scale</c> of an [out, in] linear.</summary>
    public static long[] ScaleShape(long outFeatures, long inFeatures, JambaQuantization scheme, int groupSize) => scheme switch
    {
        JambaQuantization.Int8 => new[] { outFeatures },
        JambaQuantization.Q4 => new[] { outFeatures, inFeatures / groupSize },
        _ => throw new ArgumentException($"not a quantized scheme: {scheme}", nameof(scheme)),
    };

    /// <summary>The stored <c>weight_scale</c>'s dtype: float32 for Int8 (one per row), float16 for Q4 (one per group).</summary>
    public static ScalarType ScaleDType(JambaQuantization scheme) => scheme == JambaQuantization.Q4 ? ScalarType.Float16 : ScalarType.Float32;

    /// <summary>The stored <c>weight</c>'s dtype: int8 for Int8, uint8 (two nibbles) for Q4.</summary>
    public static ScalarType WeightDType(JambaQuantization scheme) => scheme == JambaQuantization.Q4 ? ScalarType.Byte : ScalarType.Int8;

    /// <summary>Per-row int8 of <paramref name="weight"/> [out, in] (any float dtype): (int8 [out, in], float32 [out]).</summary>
    public static (Tensor weight, Tensor scale) QuantizeInt8(Tensor weight)
    {
        if (weight.dim() != 2) throw new ArgumentException($"expected a weight [out, in], got [{string.Join(", ", weight.shape)}]", nameof(weight));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = weight.to_type(ScalarType.Float32);
        var s = w.abs().amax(new long[] { 1 }) / 127.0;                                           // (out)
        var q = RoundHalfAway(w / SafeDivisor(s).unsqueeze(1)).clamp_(-127, 127).to_type(ScalarType.Int8);
        return (q.MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Grouped 4-bit of <paramref name="weight"/> [out, in] (any float dtype; in a multiple of
    /// <paramref name="groupSize"/>): (uint8 [out, in / 2], float16 [out, in / G]). The scale max|w| / 7 is clamped to
    /// float16's largest value and rounded to float16 (nearest even) before it divides, so q · s is the stored weight.
    /// </summary>
    public static (Tensor weight, Tensor scale) QuantizeQ4(Tensor weight, int groupSize)
    {
        if (weight.dim() != 2) throw new ArgumentException($"expected a weight [out, in], got [{string.Join(", ", weight.shape)}]", nameof(weight));
        if (groupSize <= 0 || groupSize % 2 != 0) throw new ArgumentException($"group size {groupSize} must be positive and even", nameof(groupSize));
        long rows = weight.size(0), cols = weight.size(1);
        if (cols % groupSize != 0) throw new ArgumentException($"in_features {cols} is not a multiple of the group size {groupSize}", nameof(weight));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long groups = cols / groupSize, half = groupSize / 2;
        var w = weight.to_type(ScalarType.Float32).reshape(rows, groups, groupSize);             // (out, in/G, G)
        var s = (w.abs().amax(new long[] { 2 }) / 7.0).clamp_max_(Float16.MaxValue).to_type(ScalarType.Float16);   // (out, in/G)
        var q = RoundHalfAway(w / SafeDivisor(s.to_type(ScalarType.Float32)).unsqueeze(2)).clamp_(-8, 7).add_(8).to_type(ScalarType.Byte);
        var packed = q.narrow(2, 0, half).bitwise_or(q.narrow(2, half, half).bitwise_left_shift(4));   // (out, in/G, G/2)
        return (packed.reshape(rows, cols / 2).MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Quantizes <paramref name="weight"/> [out, in] in <paramref name="scheme"/> (Int8 or Q4): a contiguous float32 or
    /// bfloat16 weight on the CPU by <c>QuantizeCpu</c> in one pass, the same bits as the
    /// tensor operations of <see cref="QuantizeInt8"/> and <see cref="QuantizeQ4"/> (its twins), which serve every
    /// other case.
    /// </summary>
    public static (Tensor weight, Tensor scale) Quantize(Tensor weight, JambaQuantization scheme, int groupSize)
    {
        if (scheme is not (JambaQuantization.Int8 or JambaQuantization.Q4))
            throw new ArgumentException($"not a quantized scheme: {scheme}", nameof(scheme));
        if (!CpuPathTakes(weight, scheme, groupSize))
            return scheme == JambaQuantization.Int8 ? QuantizeInt8(weight) : QuantizeQ4(weight, groupSize);
        long rows = weight.size(0), cols = weight.size(1);
        var q = empty(WeightShape(rows, cols, scheme), WeightDType(scheme));
        var s = empty(ScaleShape(rows, cols, scheme, groupSize), ScaleDType(scheme));
        QuantizeCpuInto(weight, scheme, groupSize, q, s);
        return (q, s);
    }

    /// <summary>
    /// Quantizes <paramref name="weight"/> [n, in] into <paramref name="q"/> and <paramref name="scale"/> (the stored
    /// layout of n rows, e.g. a block of a layer's rows), in place where <c>QuantizeCpu</c> takes the weight, through
    /// <see cref="Quantize"/> and a copy otherwise.
    /// </summary>
    public static void QuantizeInto(Tensor weight, JambaQuantization scheme, int groupSize, Tensor q, Tensor scale)
    {
        if (CpuPathTakes(weight, scheme, groupSize) && q.device_type == DeviceType.CPU && q.is_contiguous() && scale.is_contiguous()
            && q.dtype == WeightDType(scheme) && scale.dtype == ScaleDType(scheme)
            && q.shape.SequenceEqual(WeightShape(weight.size(0), weight.size(1), scheme))
            && scale.shape.SequenceEqual(ScaleShape(weight.size(0), weight.size(1), scheme, groupSize)))
        {
            QuantizeCpuInto(weight, scheme, groupSize, q, scale);
            return;
        }
        using var scope = NewDisposeScope();
        var (qq, ss) = Quantize(weight, scheme, groupSize);
        q.copy_(qq);
        scale.copy_(ss);
    }

    // QuantizeCpu takes a contiguous float32 or bfloat16 weight on the CPU; it gives the same bits as the tensor twins.
    private static bool CpuPathTakes(Tensor weight, JambaQuantization scheme, int groupSize) =>
        weight.dim() == 2 && weight.device_type == DeviceType.CPU && weight.is_contiguous()
        && weight.dtype is (ScalarType.Float32 or ScalarType.BFloat16)
        && weight.size(0) <= int.MaxValue && weight.size(1) <= int.MaxValue
        && (scheme == JambaQuantization.Int8 || (groupSize > 0 && groupSize % 2 == 0 && weight.size(1) % groupSize == 0));

    private static unsafe void QuantizeCpuInto(Tensor weight, JambaQuantization scheme, int groupSize, Tensor q, Tensor s)
    {
        int rows = (int)weight.size(0), cols = (int)weight.size(1);
        if (rows == 0 || cols == 0) return;
        bool bf16 = weight.dtype == ScalarType.BFloat16;
        void* w = bf16 ? CpuKernelSupport.Ptr16(weight) : CpuKernelSupport.Ptr(weight);
        int threads = CpuKernelSupport.Threads;
        if (scheme == JambaQuantization.Int8)
            QuantizeCpu.Int8(w, bf16, rows, cols, (sbyte*)CpuKernelSupport.Ptr8(q), CpuKernelSupport.Ptr(s), threads);
        else
            QuantizeCpu.Q4(w, bf16, rows, cols, groupSize, CpuKernelSupport.Ptr8(q), CpuKernelSupport.Ptr16(s), threads);
        GC.KeepAlive(weight);
        GC.KeepAlive(q);
        GC.KeepAlive(s);
    }

    /// <summary>Consecutive input features that share one scale under <see cref="ActivationQuantization.Int8"/>.</summary>
    public const int ActivationBlock = 32;

    /// <summary>
    /// Int8 activations of <paramref name="x"/> [..., in] (in a multiple of <see cref="ActivationBlock"/>; any float
    /// dtype, computed in float32): (int8 r [..., in], float32 s [..., in / 32]) with s = max|x_block| / 127 and
    /// r = clamp(round(x / s), −127, 127), ties away from zero; an all-zero block gets s = 0 and r = 0.
    /// </summary>
    public static (Tensor values, Tensor scale) QuantizeActivations(Tensor x)
    {
        long n = x.size(-1);
        if (n % ActivationBlock != 0) throw new ArgumentException($"in_features {n} is not a multiple of the activation block {ActivationBlock}", nameof(x));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var shape = x.shape;
        var blocks = shape.SkipLast(1).Append(n / ActivationBlock).Append(ActivationBlock).ToArray();
        var v = x.to_type(ScalarType.Float32).reshape(blocks);                                     // (..., in/32, 32)
        var s = v.abs().amax(new long[] { -1 }) / 127.0f;                                          // (..., in/32)
        var r = RoundHalfAway(v / SafeDivisor(s).unsqueeze(-1)).clamp_(-127, 127).to_type(ScalarType.Int8);
        return (r.reshape(shape).MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The activations <see cref="QuantizeActivations"/> makes of <paramref name="x"/>, as float32 values r · s
    /// [..., in]: what an integer product multiplies, in a form a floating-point matmul takes.
    /// </summary>
    public static Tensor FakeQuantizeActivations(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (r, s) = QuantizeActivations(x);
        var blocks = x.shape.SkipLast(1).Append(x.size(-1) / ActivationBlock).Append(ActivationBlock).ToArray();
        return (r.to_type(ScalarType.Float32).reshape(blocks) * s.unsqueeze(-1)).reshape(x.shape).MoveToOuterDisposeScope();
    }

    // round(x) with ties away from zero, as the format specifies (libtorch's round sends ties to even).
    private static Tensor RoundHalfAway(Tensor x) => x.abs().add_(0.5).floor_().mul_(x.sign());

    // A zero scale (an all-zero row or group) divides by 1 instead, which leaves those zeros at q = 0.
    private static Tensor SafeDivisor(Tensor s) => where(s > 0, s, ones_like(s));
}
