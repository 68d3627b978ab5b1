using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// Where the eight weights k … k + 7 of every row lie, for one k (a multiple of 8): computed once per column block and
/// shared by the panel's rows, so no row pays the division by the group size.
/// </summary>
/// <param name="Offset">Element offset in a row's storage: bytes for int8 and q4, bfloat16 values for bfloat16.</param>
/// <param name="Group">The q4 group (the index of its scale in the row); 0 otherwise.</param>
/// <param name="High">Whether the eight are the high nibbles of their bytes (q4 only).</param>
internal readonly record struct GemmColumn(int Offset, int Group, bool High);

/// <summary>
/// A weight matrix [out, in] as <see cref="GemmCpu"/> reads it: a few weights of a row at a time, dequantized to
/// float32. Each implementation gives every weight the value the tensor path's dequantized matrix holds
/// (<see cref="Ops.Dequantize.Reference"/>, or the bfloat16 value widened), so the product differs from the tensor
/// path's only by the order of the sums.
/// </summary>
internal interface IGemmWeights
{
    /// <summary>Row length (in_features).</summary>
    int InFeatures { get; }

    /// <summary>Where inputs k … k + 7 lie (k a multiple of 8).</summary>
    GemmColumn At(int k);

    /// <summary>Weights k … k + 7 of row <paramref name="row"/>, located by <paramref name="column"/> (needs AVX2).</summary>
    Vector256<float> Load8(long row, GemmColumn column);

    /// <summary>Weight k of row <paramref name="row"/> (the scalar path and the tails).</summary>
    float Load1(long row, int k);
}

/// <summary>int8 weights, one float32 scale per row: w = q · s.</summary>
internal readonly unsafe struct Int8GemmWeights(QuantizedMatrix m) : IGemmWeights
{
    readonly sbyte* weight = (sbyte*)m.Weight;
    readonly float* scale = m.Scale;
    readonly int n = m.InFeatures;

    public int InFeatures => n;

    [MethodImpl(CpuKernelSupport.Hot)]
    public GemmColumn At(int k) => new(k, 0, false);

    [MethodImpl(CpuKernelSupport.Hot)]
    public Vector256<float> Load8(long row, GemmColumn column) =>
        Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(weight + row * n + column.Offset)) * Vector256.Create(scale[row]);

    [MethodImpl(CpuKernelSupport.Hot)]
    public float Load1(long row, int k) => weight[row * n + k] * scale[row];
}

/// <summary>
/// q4 weights (<see cref="QuantizedMatrix"/>'s layout): in a group of G, byte j holds element j in its low nibble and
/// element j + G/2 in its high nibble, as q + 8; w = q · s of the group.
/// </summary>
internal readonly unsafe struct Q4GemmWeights(QuantizedMatrix m) : IGemmWeights
{
    readonly byte* weight = (byte*)m.Weight;
    readonly float* scale = m.Scale;
    readonly int n = m.InFeatures, group = m.GroupSize, groups = m.InFeatures / m.GroupSize;

    public int InFeatures => n;

    /// <summary>Eight consecutive elements lie in one half of one group, because a half is a multiple of 8 long.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public GemmColumn At(int k)
    {
        int g = k / group, e = k - g * group, half = group / 2;
        bool high = e >= half;
        return new(g * half + (high ? e - half : e), g, high);
    }

    /// <summary>
    /// One FMA per eight weights, nibble · s + (−8 s): its exact value is (nibble − 8) · s, rounded once, so the same
    /// bits as the tensor path's product.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public Vector256<float> Load8(long row, GemmColumn column)
    {
        var bytes = Avx2.ConvertToVector256Int32(weight + row * (n / 2) + column.Offset);
        var nibbles = column.High ? Vector256.ShiftRightLogical(bytes, 4) : bytes & Vector256.Create(15);
        float s = scale[row * groups + column.Group];
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(nibbles), Vector256.Create(s), Vector256.Create(-8f * s));
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    public float Load1(long row, int k)
    {
        int g = k / group, e = k - g * group, half = group / 2;
        byte b = weight[row * (n / 2) + g * half + (e < half ? e : e - half)];
        return ((e < half ? b & 15 : b >> 4) - 8) * scale[row * groups + g];
    }
}

/// <summary>bfloat16 weights (bit patterns), widened exactly.</summary>
internal readonly unsafe struct BFloat16GemmWeights(ushort* weight, int inFeatures) : IGemmWeights
{
    public int InFeatures => inFeatures;

    [MethodImpl(CpuKernelSupport.Hot)]
    public GemmColumn At(int k) => new(k, 0, false);

    [MethodImpl(CpuKernelSupport.Hot)]
    public Vector256<float> Load8(long row, GemmColumn column) =>
        Vector256.ShiftLeft(Avx2.ConvertToVector256Int32(weight + row * inFeatures + column.Offset), 16).AsSingle();

    [MethodImpl(CpuKernelSupport.Hot)]
    public float Load1(long row, int k) => BFloat16.ToSingle(weight[row * inFeatures + k]);
}
