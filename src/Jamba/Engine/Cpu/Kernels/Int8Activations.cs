using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// One input row quantized to int8 as <see cref="IntegerDot"/> reads it: per block of <see cref="Int8Activations.Block"/>
/// inputs a float32 scale s and values r, with t = r · s standing for x. Beside r the kernels keep, each in the layout one
/// weight format's kernel loads without shuffling: |r| (the unsigned operand of <c>vpmaddubsw</c> for int8 weights);
/// per four consecutive inputs 8 · Σ r (the q4 nibbles' offset of 8, taken out of the integer sums once per row instead
/// of once per weight row); s spread over eight lanes; and, for q4 in groups of 32, the values of two blocks interleaved
/// by halves with their offsets (see <see cref="Pairs"/>).
/// </summary>
internal readonly unsafe struct Int8Row(sbyte* values, byte* magnitudes, float* scales, int* offsets, float* blockScales, sbyte* pairs, int* pairOffsets)
{
    /// <summary>r [n].</summary>
    public readonly sbyte* Values = values;
    /// <summary>|r| [n].</summary>
    public readonly byte* Magnitudes = magnitudes;
    /// <summary>s [n / 32].</summary>
    public readonly float* Scales = scales;
    /// <summary>[n / 32, 8]: lane j of block k is 8 · (r[32k + 4j] + … + r[32k + 4j + 3]).</summary>
    public readonly int* Offsets = offsets;
    /// <summary>[n / 32, 8]: s of block k in all eight lanes.</summary>
    public readonly float* BlockScales = blockScales;
    /// <summary>
    /// [P, 2, 32] for the P = ⌈n / 64⌉ pairs of blocks (2p, 2p + 1): first r[0..15] of block 2p then r[0..15] of block
    /// 2p + 1, then the same for r[16..31] — the order of the low and the high nibbles of two q4 groups of 32 loaded
    /// as one 32-byte vector. A missing block 2p + 1 (n / 32 odd) reads as zeros.
    /// </summary>
    public readonly sbyte* Pairs = pairs;
    /// <summary>[P, 8]: lane j &lt; 4 is 8 · Σ r over inputs 4j … 4j + 3 and 16 + 4j … 16 + 4j + 3 of block 2p; lane 4 + j the same of block 2p + 1.</summary>
    public readonly int* PairOffsets = pairOffsets;
}

/// <summary>
/// A few input rows [rows, n] quantized to int8 per block of 32 (<see cref="Int8Row"/>), carved from a caller's
/// buffer of <see cref="Bytes"/>. The values are exactly those of <c>Quantizer.QuantizeActivations</c>, the tensor
/// definition: s = max|x| / 127 over the block, r = clamp(sign(x / s) · ⌊|x / s| + 0.5⌋, −127, 127) in float32
/// (ties away from zero), and a block of zeros has s = 0 and r = 0. Inputs are finite (a decode step's activations).
/// </summary>
internal readonly unsafe struct Int8Activations
{
    /// <summary>Inputs per scale (the format's <c>Quantizer.ActivationBlock</c>).</summary>
    public const int Block = 32;

    readonly byte* buffer;
    /// <summary>Rows and inputs per row (a multiple of <see cref="Block"/>).</summary>
    public readonly int Rows, Length;

    Int8Activations(byte* buffer, int rows, int length)
    {
        this.buffer = buffer;
        Rows = rows;
        Length = length;
    }

    /// <summary>Bytes of a buffer for <paramref name="rows"/> rows of <paramref name="n"/> inputs.</summary>
    public static long Bytes(int rows, int n) => (long)rows * RowBytes(n);

    // Per row: the four-byte arrays first (scales, offsets, block scales, pair offsets), so they stay 4-byte aligned,
    // then r, |r| and the pairs.
    static long RowBytes(int n)
    {
        int blocks = n / Block, pairs = (blocks + 1) / 2;
        return blocks * (4 + 32 + 32) + pairs * (32 + 64) + 2L * n;
    }

    /// <summary>Row <paramref name="r"/>.</summary>
    public Int8Row Row(int r)
    {
        byte* p = buffer + r * RowBytes(Length);
        int blocks = Length / Block, pairs = (blocks + 1) / 2;
        float* scales = (float*)p;
        int* offsets = (int*)(scales + blocks);
        float* blockScales = (float*)(offsets + 8 * blocks);
        int* pairOffsets = (int*)(blockScales + 8 * blocks);
        sbyte* values = (sbyte*)(pairOffsets + 8 * pairs);
        return new Int8Row(values, (byte*)values + Length, scales, offsets, blockScales, values + 2 * Length, pairOffsets);
    }

    /// <summary>Row <paramref name="r"/> alone, as one-row activations.</summary>
    public Int8Activations Slice(int r) => new(buffer + r * RowBytes(Length), 1, Length);

    /// <summary>Quantizes x [rows, n] into <paramref name="buffer"/> (at least <see cref="Bytes"/> long).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Int8Activations Quantize(float* x, int rows, int n, byte* buffer)
    {
        if (n % Block != 0) throw new ArgumentException($"in_features {n} is not a multiple of the activation block {Block}", nameof(n));
        var a = new Int8Activations(buffer, rows, n);
        for (int r = 0; r < rows; r++) QuantizeRow(x + (long)r * n, n, a.Row(r));
        return a;
    }

    /// <summary>One row x [n] into <paramref name="y"/>; vectorized on AVX2, else <see cref="QuantizeRowScalar"/> (the same values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeRow(float* x, int n, Int8Row y)
    {
        if (!Avx2.IsSupported) { QuantizeRowScalar(x, n, y); return; }
        var half = Vector256.Create(0.5f);
        var most = Vector256.Create(127f);
        var eights = Vector256.Create((byte)8);
        var ones = Vector256.Create((short)1);
        for (int k = 0; k < n / Block; k++)
        {
            float* xb = x + k * Block;
            float s = Scale(xb);
            // The twin divides (it does not multiply by 1/s: the two round differently).
            var divisor = Vector256.Create(s > 0 ? s : 1f);
            var r0 = Eight(xb, divisor, half, most, out var m0);
            var r1 = Eight(xb + 8, divisor, half, most, out var m1);
            var r2 = Eight(xb + 16, divisor, half, most, out var m2);
            var r3 = Eight(xb + 24, divisor, half, most, out var m3);
            // Narrowing keeps the element order (the values fit, so nothing saturates or wraps).
            var values = Vector256.Narrow(Vector256.Narrow(r0, r1), Vector256.Narrow(r2, r3));
            var magnitudes = Vector256.Narrow(Vector256.Narrow(m0, m1), Vector256.Narrow(m2, m3)).AsByte();
            values.Store(y.Values + k * Block);
            magnitudes.Store(y.Magnitudes + k * Block);
            y.Scales[k] = s;
            Vector256.Create(s).Store(y.BlockScales + 8 * k);
            Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(eights, values), ones).Store(y.Offsets + 8 * k);
        }
        for (int p = 0; p < (n / Block + 1) / 2; p++)
        {
            bool second = 2 * p + 1 < n / Block;
            var even = Vector256.Load(y.Values + 64 * p);
            var odd = second ? Vector256.Load(y.Values + 64 * p + 32) : Vector256<sbyte>.Zero;
            var low = Avx2.Permute2x128(even, odd, 0x20);
            var high = Avx2.Permute2x128(even, odd, 0x31);
            low.Store(y.Pairs + 64 * p);
            high.Store(y.Pairs + 64 * p + 32);
            // |8 Σ r| over eight inputs ≤ 8128: the int16 sums of the two halves do not overflow.
            Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(eights, low) + Avx2.MultiplyAddAdjacent(eights, high), ones).Store(y.PairOffsets + 8 * p);
        }
    }

    /// <summary>Eight inputs' r (returned) and |r| (<paramref name="m"/>) as int32.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<int> Eight(float* x, Vector256<float> divisor, Vector256<float> half, Vector256<float> most, out Vector256<int> m)
    {
        var t = Vector256.Load(x) / divisor;
        m = Avx.ConvertToVector256Int32WithTruncation(Vector256.Min(Avx.Floor(Vector256.Abs(t) + half), most));
        // r = −|r| where t < 0: (m ^ −1) + 1 there, m elsewhere.
        var negative = Vector256.LessThan(t, Vector256<float>.Zero).AsInt32();
        return (m ^ negative) - negative;
    }

    /// <summary>The scale of a block: max|x| / 127 in float32 (0 for a block of zeros).</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static float Scale(float* xb)
    {
        float max = 0f;
        for (int i = 0; i < Block; i++) max = MathF.Max(max, MathF.Abs(xb[i]));
        return max / 127f;
    }

    /// <summary>The scalar twin of <see cref="QuantizeRow"/>, one input at a time from the definition (and its path without AVX2).</summary>
    public static void QuantizeRowScalar(float* x, int n, Int8Row y)
    {
        for (int k = 0; k < n / Block; k++)
        {
            float* xb = x + k * Block;
            float s = Scale(xb), divisor = s > 0 ? s : 1f;
            for (int i = 0; i < Block; i++)
            {
                float t = xb[i] / divisor;
                float m = MathF.Min(MathF.Floor(MathF.Abs(t) + 0.5f), 127f);
                int r = t < 0 ? -(int)m : (int)m;
                y.Values[k * Block + i] = (sbyte)r;
                y.Magnitudes[k * Block + i] = (byte)(int)m;
            }
            y.Scales[k] = s;
            for (int j = 0; j < 8; j++)
            {
                int sum = 0;
                for (int i = 0; i < 4; i++) sum += y.Values[k * Block + 4 * j + i];
                y.Offsets[8 * k + j] = 8 * sum;
                y.BlockScales[8 * k + j] = s;
            }
        }
        int blocks = n / Block;
        for (int p = 0; p < (blocks + 1) / 2; p++)
            for (int h = 0; h < 2; h++)
            {
                int k = 2 * p + h;
                for (int half = 0; half < 2; half++)
                    for (int i = 0; i < 16; i++)
                        y.Pairs[64 * p + 32 * half + 16 * h + i] = k < blocks ? y.Values[k * Block + 16 * half + i] : (sbyte)0;
                for (int j = 0; j < 4; j++)
                {
                    int sum = 0;
                    for (int i = 0; i < 4; i++)
                        if (k < blocks) sum += y.Values[k * Block + 4 * j + i] + y.Values[k * Block + 16 + 4 * j + i];
                    y.PairOffsets[8 * p + 4 * h + j] = 8 * sum;
                }
            }
    }
}
