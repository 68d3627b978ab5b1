using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// IEEE float16 bit patterns, the dtype of q4 scales, to and from float32. Scales are finite and not negative, which
/// is all <see cref="ToSingle"/> and <see cref="Widen4"/> handle: the float16 bits shifted into a float32's place read
/// as the value times 2^−112 (subnormals included), and one multiplication by 2^112 — exact — restores it.
/// </summary>
internal static class Float16
{
    /// <summary>The largest finite float16; larger scales are clamped to it before rounding.</summary>
    public const float MaxValue = 65504f;

    const float Rebias = 5.192296858534828e33f; // 2^112

    /// <summary>The exact float32 value of a finite, non-negative float16.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static float ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 13) * Rebias;

    /// <summary>
    /// Round to nearest even (libtorch's conversion), after clamping to <see cref="MaxValue"/>. A value in float16's
    /// normal range, every scale of a real weight, is rounded inline (add half an ulp minus one, plus the kept bit's
    /// parity, then drop 13 bits and rebias); the rest go through <see cref="Half"/>'s conversion.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static ushort FromSingle(float value)
    {
        value = MathF.Min(value, MaxValue);
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (bits - MinNormalBits <= MaxValueBits - MinNormalBits)
            return (ushort)((bits + 0xFFFu + ((bits >> 13) & 1u) - RebiasBits) >> 13);
        return BitConverter.HalfToUInt16Bits((Half)value);
    }

    const uint MinNormalBits = 0x38800000;   // 2^-14, float16's least normal value, as float32 bits
    const uint MaxValueBits = 0x477FE000;    // 65504
    const uint RebiasBits = 112u << 23;      // float32's exponent bias minus float16's, in place

    /// <summary>Four non-negative float16 values (bits in the low 16 of each int32 lane) as float32.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static Vector128<float> Widen4(Vector128<int> bits) => Vector128.ShiftLeft(bits, 13).AsSingle() * Vector128.Create(Rebias);

    /// <summary>n non-negative float16 values widened into <paramref name="row"/> (eight at a time); returns <paramref name="row"/>.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static unsafe float* Widen(ushort* bits, float* row, int n)
    {
        int i = 0;
        if (Avx2.IsSupported)
            for (; i <= n - 8; i += 8) Widen8(bits + i).Store(row + i);
        for (; i < n; i++) row[i] = ToSingle(bits[i]);
        return row;
    }

    /// <summary>Eight non-negative float16 values at <paramref name="p"/> as float32 (AVX2).</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static unsafe Vector256<float> Widen8(ushort* p) =>
        Vector256.ShiftLeft(Avx2.ConvertToVector256Int32(p), 13).AsSingle() * Vector256.Create(Rebias);
}
