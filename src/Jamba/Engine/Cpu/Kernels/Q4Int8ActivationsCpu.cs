using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// A q4 GEMV with integer activations (group size 32): each input row is quantized to int8 per block of 32, t = r · s_x
/// with s_x = max|x_block| / 127 and r = round(x / s_x), and each group's dot Σ q·r is summed in integers — on AVX2
/// by <c>vpmaddubsw</c> (nibble × int8 pairs) and <c>vpmaddwd</c>, four instructions on the arithmetic ports per 32
/// weights where <see cref="QuantizedMatrix"/>'s float32 path needs fourteen, which is what bounds a q4 product there.
/// It changes the numerics — x is rounded to about 1/254 of its block's largest value — so it is a separate choice
/// with its own twin (<see cref="Reference"/>), not what the engine's decode step runs.
/// </summary>
internal static unsafe class Q4Int8ActivationsCpu
{
    /// <summary>The block of inputs sharing one int8 scale: the q4 group size this kernel takes.</summary>
    public const int Block = 32;

    /// <summary>
    /// x [n] (n a multiple of <see cref="Block"/>) to int8 r [n], per block k the scale s[k] = max|x| / 127 and
    /// c[k] = 8 · s[k] · Σ r (the nibbles' offset of 8, taken out of the integer dot once per block).
    /// </summary>
    public static void QuantizeActivations(float* x, int n, sbyte* r, float* s, float* c)
    {
        for (int k = 0; k < n / Block; k++)
        {
            float* xb = x + k * Block;
            float max = 0f;
            for (int i = 0; i < Block; i++) max = MathF.Max(max, MathF.Abs(xb[i]));
            float scale = max / 127f, inverse = max > 0 ? 127f / max : 0f;
            int sum = 0;
            for (int i = 0; i < Block; i++)
            {
                int q = (int)MathF.Round(xb[i] * inverse, MidpointRounding.AwayFromZero);
                r[k * Block + i] = (sbyte)Math.Clamp(q, -127, 127);
                sum += r[k * Block + i];
            }
            s[k] = scale;
            c[k] = 8f * scale * sum;
        }
    }

    /// <summary>
    /// y [rows, out] = x [rows, in] Wᵀ (+ bias, float32) for a q4 matrix of group size 32, x quantized per row by
    /// <see cref="QuantizeActivations"/>; outputs split across threads as <see cref="QuantizedLinearCpu"/> splits them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* x, QuantizedMatrix w, float* bias, float* y, int rows, int outF, int threads)
    {
        int n = w.InFeatures, blocks = n / Block;
        if (!w.IsQ4 || w.GroupSize != Block) throw new ArgumentException($"integer activations take q4 weights in groups of {Block}, got group size {w.GroupSize}", nameof(w));
        var r = new sbyte[rows * n];
        var s = new float[rows * blocks * 2];
        fixed (sbyte* rp = r)
        fixed (float* sp = s)
        {
            sbyte* rq = rp;
            float* xs = sp, xc = sp + rows * blocks;
            for (int row = 0; row < rows; row++)
                QuantizeActivations(x + (long)row * n, n, rq + (long)row * n, xs + row * blocks, xc + row * blocks);
            int parts = DecodeLinearCpu.BlockCount((long)n * outF, outF, threads);
            SpinPool.Shared.For(parts, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (part) =>
            {
                var (o0, o1) = DecodeLinearCpu.Range(part, parts, outF);
                byte* wq = (byte*)w.Weight;
                long half = n / 2;
                for (int row = 0; row < rows; row++)
                {
                    sbyte* rr = rq + (long)row * n;
                    float* ss = xs + row * blocks, cc = xc + row * blocks, yr = y + (long)row * outF;
                    long o = o0;
                    for (; o + 2 <= o1; o += 2)
                        (yr[o], yr[o + 1]) = DotPair(wq + o * half, w.Scale + o * blocks, wq + (o + 1) * half, w.Scale + (o + 1) * blocks, rr, ss, cc, blocks);
                    if (o < o1) yr[o] = Dot(wq + o * half, w.Scale + o * blocks, rr, ss, cc, blocks);
                    if (bias != null)
                        for (o = o0; o < o1; o++) yr[o] += bias[o];
                }
            });
        }
    }

    /// <summary>Nibbles of 16 bytes as 32 unsigned bytes in element order: the low nibbles (elements 0–15), then the high.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<byte> Nibbles(byte* p)
    {
        var b = Vector128.Load(p);
        var mask = Vector128.Create((byte)15);
        return Vector256.Create(b & mask, Vector128.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & mask);
    }

    /// <summary>Σ_k s_w[k] · s_x[k] · Σ_i n_i r_i − Σ_k s_w[k] · c[k] for one row of <paramref name="groups"/> groups.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Dot(byte* w, float* sw, sbyte* r, float* sx, float* c, int groups)
    {
        if (!Avx2.IsSupported) return DotScalar(w, sw, r, sx, c, groups);
        var ones = Vector256.Create((short)1);
        var acc = Vector256<float>.Zero;
        float offset = 0f;
        for (int k = 0; k < groups; k++)
        {
            var products = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Nibbles(w + 16 * k), Vector256.Load(r + 32 * k)), ones);
            acc = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(products), Vector256.Create(sw[k] * sx[k]), acc);
            offset += sw[k] * c[k];
        }
        return Vector256.Sum(acc) - offset;
    }

    /// <summary><see cref="Dot"/> of two weight rows with one input row in one pass, each in exactly its order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static (float, float) DotPair(byte* a, float* sa, byte* b, float* sb, sbyte* r, float* sx, float* c, int groups)
    {
        if (!Avx2.IsSupported) return (DotScalar(a, sa, r, sx, c, groups), DotScalar(b, sb, r, sx, c, groups));
        var ones = Vector256.Create((short)1);
        Vector256<float> accA = Vector256<float>.Zero, accB = accA;
        float offA = 0f, offB = 0f;
        for (int k = 0; k < groups; k++)
        {
            var x = Vector256.Load(r + 32 * k);
            var pa = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Nibbles(a + 16 * k), x), ones);
            var pb = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Nibbles(b + 16 * k), x), ones);
            accA = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(pa), Vector256.Create(sa[k] * sx[k]), accA);
            accB = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(pb), Vector256.Create(sb[k] * sx[k]), accB);
            offA += sa[k] * c[k];
            offB += sb[k] * c[k];
        }
        return (Vector256.Sum(accA) - offA, Vector256.Sum(accB) - offB);
    }

    /// <summary>Without AVX2: the same sums one weight at a time.</summary>
    static float DotScalar(byte* w, float* sw, sbyte* r, float* sx, float* c, int groups)
    {
        float sum = 0f, offset = 0f;
        for (int k = 0; k < groups; k++)
        {
            int dot = 0;
            for (int j = 0; j < 16; j++)
            {
                dot += (w[16 * k + j] & 15) * r[32 * k + j];
                dot += (w[16 * k + j] >> 4) * r[32 * k + 16 + j];
            }
            sum += dot * (sw[k] * sx[k]);
            offset += sw[k] * c[k];
        }
        return sum - offset;
    }

    /// <summary>
    /// The twin: y[r, o] = Σ_i w_i · t_i in float64 from the definition — w = (nibble − 8) · s_w, t = r · s_x with r
    /// from <see cref="QuantizeActivations"/> — one weight at a time.
    /// </summary>
    public static float[] Reference(float[] x, byte[] weight, float[] scale, float[]? bias, int rows, int inF, int outF)
    {
        var y = new float[rows * outF];
        var r = new sbyte[inF];
        var s = new float[inF / Block];
        var c = new float[inF / Block];
        for (int row = 0; row < rows; row++)
        {
            fixed (float* xp = x, sp = s, cp = c)
            fixed (sbyte* rp = r)
                QuantizeActivations(xp + row * inF, inF, rp, sp, cp);
            for (int o = 0; o < outF; o++)
            {
                double sum = 0;
                for (int i = 0; i < inF; i++)
                {
                    double w = QuantizedReference.Weight(weight, scale, inF, Block, o, i);
                    sum += w * (r[i] * (double)s[i / Block]);
                }
                y[row * outF + o] = (float)sum + (bias is null ? 0f : bias[o]);
            }
        }
        return y;
    }
}
