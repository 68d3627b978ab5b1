using System.Numerics;
using System.Runtime.CompilerServices;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>bfloat16 bit patterns (the upper 16 bits of a float32) to and from float32.</summary>
internal static class BFloat16
{
    /// <summary>The exact float32 value of a bfloat16.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>n bfloat16 values widened into <paramref name="row"/> (a vector at a time); returns <paramref name="row"/>.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static unsafe float* Widen(ushort* bits, float* row, int n)
    {
        int i = 0, w = Vector<ushort>.Count;
        for (; i <= n - w; i += w)
        {
            Vector.Widen(Vector.Load(bits + i), out Vector<uint> lo, out Vector<uint> hi);
            Vector.AsVectorSingle(Vector.ShiftLeft(lo, 16)).Store(row + i);
            Vector.AsVectorSingle(Vector.ShiftLeft(hi, 16)).Store(row + i + w / 2);
        }
        for (; i < n; i++) row[i] = ToSingle(bits[i]);
        return row;
    }

    /// <summary>Round to nearest even, as libtorch converts; NaN stays NaN.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static ushort FromSingle(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((u >> 16) | 0x40);
        u += 0x7FFFu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }
}
