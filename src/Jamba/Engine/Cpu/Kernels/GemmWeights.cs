using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// A weight matrix [out, in] as <see cref="GemmCpu"/> reads it: a block of a row at a time, dequantized to
/// float32. Each implementation gives every weight the value the tensor path's dequantized matrix holds
/// (<see cref="Ops.Dequantize.Reference"/>, or the bfloat16 value widened), so the product differs from the tensor
/// path's only by the order of the sums.
/// </summary>
internal unsafe interface IGemmWeights
{
    /// <summary>Row length (in_features).</summary>
    int InFeatures { get; }

    /// <summary>
    /// Weights [k0, k0 + count) of row <paramref name="row"/> into <paramref name="y"/>, eight at a time (needs AVX2;
    /// k0 and count multiples of 8 for q4, whose rows are multiples of 16 long).
    /// </summary>
    void DequantizeRow(long row, int k0, int count, float* y);

    /// <summary>Weight k of row <paramref name="row"/> (the scalar path and the tails).</summary>
    float Load1(long row, int k);

    /// <summary>
    /// Asks for the storage of weights [k0, k0 + count) of row <paramref name="row"/> to be brought into L2 (needs SSE).
    /// </summary>
    void Prefetch(long row, int k0, int count);
}

/// <summary>Software prefetch of a byte range, a cache line at a time.</summary>
internal static unsafe class GemmPrefetch
{
    /// <summary>Prefetches [p, p + bytes) into L2.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static void Range(byte* p, long bytes)
    {
        for (long i = 0; i < bytes; i += 64) Sse.Prefetch1(p + i);
    }
}

/// <summary>int8 weights, one float32 scale per row: w = q · s.</summary>
internal readonly unsafe struct Int8GemmWeights(QuantizedMatrix m) : IGemmWeights
{
    readonly sbyte* weight = (sbyte*)m.Weight;
    readonly float* scale = m.Scale;
    readonly int n = m.InFeatures;

    public int InFeatures => n;

    [MethodImpl(CpuKernelSupport.Hot)]
    public void DequantizeRow(long row, int k0, int count, float* y)
    {
        sbyte* q = weight + row * n + k0;
        float s = scale[row];
        var vs = Vector256.Create(s);
        int i = 0;
        for (; i <= count - 8; i += 8) (Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + i)) * vs).Store(y + i);
        for (; i < count; i++) y[i] = q[i] * s;
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    public float Load1(long row, int k) => weight[row * n + k] * scale[row];

    [MethodImpl(CpuKernelSupport.Hot)]
    public void Prefetch(long row, int k0, int count) => GemmPrefetch.Range((byte*)(weight + row * n + k0), count);
}

/// <summary>
/// q4 weights (<see cref="QuantizedMatrix"/>'s layout): in a group of G, byte j holds element j in its low nibble and
/// element j + G/2 in its high nibble, as q + 8; w = q · s of the group (a float16 scale).
/// </summary>
internal readonly unsafe struct Q4GemmWeights(QuantizedMatrix m) : IGemmWeights
{
    readonly byte* weight = (byte*)m.Weight;
    readonly ushort* scale = m.GroupScale;
    readonly int n = m.InFeatures, group = m.GroupSize, groups = m.InFeatures / m.GroupSize;

    public int InFeatures => n;

    /// <summary>
    /// Eight consecutive weights lie in one half of one group (a half is a multiple of 8 long): the low or the high
    /// nibbles of eight consecutive bytes. One FMA per eight, nibble · s + (−8 s): its exact value is (nibble − 8) · s,
    /// rounded once, so the same bits as the tensor path's product.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public void DequantizeRow(long row, int k0, int count, float* y)
    {
        byte* bytes = weight + row * (n / 2);
        ushort* rowScale = scale + row * groups;
        int half = group / 2, g = k0 / group, e = k0 - g * group;
        if (e == 0 && count % group == 0)
        {
            // Whole groups: each load of eight bytes gives eight weights of the low half and eight of the high half.
            for (byte* p = bytes + g * half; count > 0; count -= group, g++, p += half, y += group)
            {
                float sg = Float16.ToSingle(rowScale[g]);
                var vs = Vector256.Create(sg); var vm = Vector256.Create(-8f * sg);
                for (int j = 0; j < half; j += 8)
                {
                    var b = Avx2.ConvertToVector256Int32(p + j);
                    Fma.MultiplyAdd(Avx.ConvertToVector256Single(b & Vector256.Create(15)), vs, vm).Store(y + j);
                    Fma.MultiplyAdd(Avx.ConvertToVector256Single(Vector256.ShiftRightLogical(b, 4)), vs, vm).Store(y + half + j);
                }
            }
            return;
        }
        for (int i = 0; i < count; i += 8)
        {
            bool high = e >= half;
            var b = Avx2.ConvertToVector256Int32(bytes + g * half + (high ? e - half : e));
            var nibbles = high ? Vector256.ShiftRightLogical(b, 4) : b & Vector256.Create(15);
            float s = Float16.ToSingle(rowScale[g]);
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(nibbles), Vector256.Create(s), Vector256.Create(-8f * s)).Store(y + i);
            if ((e += 8) == group) { e = 0; g++; }
        }
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    public float Load1(long row, int k)
    {
        int g = k / group, e = k - g * group, half = group / 2;
        byte b = weight[row * (n / 2) + g * half + (e < half ? e : e - half)];
        return ((e < half ? b & 15 : b >> 4) - 8) * Float16.ToSingle(scale[row * groups + g]);
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    public void Prefetch(long row, int k0, int count)
    {
        GemmPrefetch.Range(weight + row * (n / 2) + k0 / 2, count / 2);
        GemmPrefetch.Range((byte*)(scale + row * groups + k0 / group), Math.Max(1, count / group) * sizeof(float));
    }
}

/// <summary>bfloat16 weights (bit patterns), widened exactly.</summary>
internal readonly unsafe struct BFloat16GemmWeights(ushort* weight, int inFeatures) : IGemmWeights
{
    public int InFeatures => inFeatures;

    [MethodImpl(CpuKernelSupport.Hot)]
    public void DequantizeRow(long row, int k0, int count, float* y)
    {
        ushort* p = weight + row * inFeatures + k0;
        int i = 0;
        for (; i <= count - 8; i += 8) Vector256.ShiftLeft(Avx2.ConvertToVector256Int32(p + i), 16).AsSingle().Store(y + i);
        for (; i < count; i++) y[i] = BFloat16.ToSingle(p[i]);
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    public float Load1(long row, int k) => BFloat16.ToSingle(weight[row * inFeatures + k]);

    [MethodImpl(CpuKernelSupport.Hot)]
    public void Prefetch(long row, int k0, int count) => GemmPrefetch.Range((byte*)(weight + row * inFeatures + k0), count * sizeof(ushort));
}
