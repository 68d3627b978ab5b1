using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// Row · x of a <see cref="QuantizedMatrix"/> with x quantized to int8 (<see cref="Int8Row"/>): per block b of 32 inputs
/// the integer sum Σ q_i r_i, exact, then the float32 sum Σ_b d_b · (that sum), d_b = s_x[b] for int8 weights (whose
/// row scale multiplies the result once) and s_w[group] · s_x[b] for q4. On AVX2 a block is a handful of integer
/// instructions — int8: <c>vpsignb</c> moves r's signs onto the weights so <c>vpmaddubsw</c> can take |r| as its unsigned
/// operand; q4: the nibbles are the unsigned operand as they are, and their offset of 8 comes out with the row's
/// precomputed 8 · Σ r — then <c>vpmaddwd</c> and one float FMA, where the float32-activation path
/// (<see cref="QuantizedMatrix"/>) widens every weight to float32 and needs an FMA per eight, which on AVX2 binds the
/// product to the arithmetic rather than to memory. |q| and |r| ≤ 127 (the format's range) keep the int16 pair sums
/// of <c>vpmaddubsw</c> from saturating. AVX-VNNI and AVX-512 VNNI would fuse the two multiplies; there is no such path
/// here (nothing to test it on).
/// <para>
/// The float32 order is fixed, so <see cref="Reference"/> gives the same bits one input at a time: a block's integer
/// sums are kept as eight lanes (inputs 4j … 4j + 3 in lane j), even blocks go to one accumulator and odd blocks to
/// another (each lane by one FMA, d_b rounded first), and the sixteen lanes are summed as <see cref="Reduce"/> does.
/// </para>
/// </summary>
internal static unsafe class IntegerDot
{
    /// <summary>Whether the kernels take <paramref name="w"/> with int8 inputs: in_features a multiple of 32, int8 or q4 in groups of 32 or 64.</summary>
    public static bool Supports(in QuantizedMatrix w) =>
        w.InFeatures % Int8Activations.Block == 0 && (!w.IsQ4 || w.GroupSize is 32 or 64);

    /// <summary>Row <paramref name="o"/> · x.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static float Dot(in QuantizedMatrix w, long o, in Int8Row x)
    {
        if (!Avx2.IsSupported) return Reference(w, o, x);
        int n = w.InFeatures, blocks = n / Int8Activations.Block;
        if (!w.IsQ4) return Int8((sbyte*)w.Weight + o * n, x, blocks) * w.Scale[o];
        byte* q = (byte*)w.Weight + o * (n / 2);
        float* s = w.Scale + o * (n / w.GroupSize);
        return w.GroupSize == 32 ? Q4G32(q, s, x, blocks) : Q4G64(q, s, x, blocks);
    }

    /// <summary>
    /// Row <paramref name="a"/> of <paramref name="ma"/> · xa and row <paramref name="b"/> of <paramref name="mb"/> · xb in
    /// one pass where the matrices have one layout (two weight streams, four accumulator chains); the same bits as two
    /// <see cref="Dot"/> calls.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static (float, float) DotPair(in QuantizedMatrix ma, long a, in Int8Row xa, in QuantizedMatrix mb, long b, in Int8Row xb)
    {
        int n = ma.InFeatures;
        if (!Avx2.IsSupported || n != mb.InFeatures || ma.GroupSize != mb.GroupSize) return (Dot(ma, a, xa), Dot(mb, b, xb));
        int blocks = n / Int8Activations.Block;
        if (!ma.IsQ4)
        {
            var (sa, sb) = Int8Pair((sbyte*)ma.Weight + a * n, xa, (sbyte*)mb.Weight + b * n, xb, blocks);
            return (sa * ma.Scale[a], sb * mb.Scale[b]);
        }
        int groups = n / ma.GroupSize;
        byte* qa = (byte*)ma.Weight + a * (n / 2), qb = (byte*)mb.Weight + b * (n / 2);
        float* wa = ma.Scale + a * groups, wb = mb.Scale + b * groups;
        return ma.GroupSize == 32 ? Q4G32Pair(qa, wa, xa, qb, wb, xb, blocks) : Q4G64Pair(qa, wa, xa, qb, wb, xb, blocks);
    }

    // ---- int8 weights ----

    /// <summary>Block k's eight lane sums Σ q r of int8 weights w (the block's 32 bytes).</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<int> Int8Block(sbyte* w, in Int8Row x, int k) =>
        Avx2.MultiplyAddAdjacent(
            Avx2.MultiplyAddAdjacent(Vector256.Load(x.Magnitudes + 32 * k), Avx2.Sign(Vector256.Load(w + 32 * k), Vector256.Load(x.Values + 32 * k))),
            Vector256.Create((short)1));

    /// <summary>acc + lanes · d, one rounding per lane.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> Add(Vector256<int> lanes, Vector256<float> d, Vector256<float> acc) =>
        Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(lanes), d, acc);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Int8(sbyte* w, Int8Row x, int blocks)
    {
        var acc0 = Vector256<float>.Zero; var acc1 = acc0;
        int k = 0;
        for (; k + 2 <= blocks; k += 2)
        {
            acc0 = Add(Int8Block(w, x, k), Vector256.Create(x.Scales[k]), acc0);
            acc1 = Add(Int8Block(w, x, k + 1), Vector256.Create(x.Scales[k + 1]), acc1);
        }
        if (k < blocks) acc0 = Add(Int8Block(w, x, k), Vector256.Create(x.Scales[k]), acc0);
        return Reduce(acc0, acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (float, float) Int8Pair(sbyte* a, Int8Row xa, sbyte* b, Int8Row xb, int blocks)
    {
        var a0 = Vector256<float>.Zero; var a1 = a0; var b0 = a0; var b1 = a0;
        int k = 0;
        for (; k + 2 <= blocks; k += 2)
        {
            a0 = Add(Int8Block(a, xa, k), Vector256.Create(xa.Scales[k]), a0);
            b0 = Add(Int8Block(b, xb, k), Vector256.Create(xb.Scales[k]), b0);
            a1 = Add(Int8Block(a, xa, k + 1), Vector256.Create(xa.Scales[k + 1]), a1);
            b1 = Add(Int8Block(b, xb, k + 1), Vector256.Create(xb.Scales[k + 1]), b1);
        }
        if (k < blocks)
        {
            a0 = Add(Int8Block(a, xa, k), Vector256.Create(xa.Scales[k]), a0);
            b0 = Add(Int8Block(b, xb, k), Vector256.Create(xb.Scales[k]), b0);
        }
        return (Reduce(a0, a1), Reduce(b0, b1));
    }

    // ---- q4 weights ----

    /// <summary>Lane sums Σ n r − 8 Σ r = Σ (n − 8) r of 32 nibbles (element order) with block k of x.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<int> Q4Block(Vector256<byte> nibbles, in Int8Row x, int k) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(nibbles, Vector256.Load(x.Values + 32 * k)), Vector256.Create((short)1))
        - Vector256.Load(x.Offsets + 8 * k);

    /// <summary>A group of 32 (16 bytes): the low nibbles are elements 0–15, the high ones 16–31.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<byte> Nibbles32(byte* p)
    {
        var b = Vector128.Load(p);
        return Vector256.Create(b, Vector128.ShiftRightLogical(b.AsUInt16(), 4).AsByte()) & Vector256.Create((byte)15);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Q4G32(byte* w, float* sw, Int8Row x, int blocks)
    {
        var acc0 = Vector256<float>.Zero; var acc1 = acc0;
        int k = 0;
        for (; k + 2 <= blocks; k += 2)
        {
            acc0 = Add(Q4Block(Nibbles32(w + 16 * k), x, k), Vector256.Create(sw[k] * x.Scales[k]), acc0);
            acc1 = Add(Q4Block(Nibbles32(w + 16 * k + 16), x, k + 1), Vector256.Create(sw[k + 1] * x.Scales[k + 1]), acc1);
        }
        if (k < blocks) acc0 = Add(Q4Block(Nibbles32(w + 16 * k), x, k), Vector256.Create(sw[k] * x.Scales[k]), acc0);
        return Reduce(acc0, acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (float, float) Q4G32Pair(byte* a, float* sa, Int8Row xa, byte* b, float* sb, Int8Row xb, int blocks)
    {
        var a0 = Vector256<float>.Zero; var a1 = a0; var b0 = a0; var b1 = a0;
        int k = 0;
        for (; k + 2 <= blocks; k += 2)
        {
            a0 = Add(Q4Block(Nibbles32(a + 16 * k), xa, k), Vector256.Create(sa[k] * xa.Scales[k]), a0);
            b0 = Add(Q4Block(Nibbles32(b + 16 * k), xb, k), Vector256.Create(sb[k] * xb.Scales[k]), b0);
            a1 = Add(Q4Block(Nibbles32(a + 16 * k + 16), xa, k + 1), Vector256.Create(sa[k + 1] * xa.Scales[k + 1]), a1);
            b1 = Add(Q4Block(Nibbles32(b + 16 * k + 16), xb, k + 1), Vector256.Create(sb[k + 1] * xb.Scales[k + 1]), b1);
        }
        if (k < blocks)
        {
            a0 = Add(Q4Block(Nibbles32(a + 16 * k), xa, k), Vector256.Create(sa[k] * xa.Scales[k]), a0);
            b0 = Add(Q4Block(Nibbles32(b + 16 * k), xb, k), Vector256.Create(sb[k] * xb.Scales[k]), b0);
        }
        return (Reduce(a0, a1), Reduce(b0, b1));
    }

    /// <summary>
    /// Groups of 64 (32 bytes each, blocks 2g and 2g + 1): the low nibbles of the 32 bytes are the even block, the
    /// high ones the odd block, each already in element order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Q4G64(byte* w, float* sw, Int8Row x, int blocks)
    {
        var mask = Vector256.Create((byte)15);
        var acc0 = Vector256<float>.Zero; var acc1 = acc0;
        for (int g = 0; g < blocks / 2; g++)
        {
            var bytes = Vector256.Load(w + 32 * g);
            acc0 = Add(Q4Block(bytes & mask, x, 2 * g), Vector256.Create(sw[g] * x.Scales[2 * g]), acc0);
            acc1 = Add(Q4Block(Vector256.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & mask, x, 2 * g + 1), Vector256.Create(sw[g] * x.Scales[2 * g + 1]), acc1);
        }
        return Reduce(acc0, acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (float, float) Q4G64Pair(byte* a, float* sa, Int8Row xa, byte* b, float* sb, Int8Row xb, int blocks)
    {
        var mask = Vector256.Create((byte)15);
        var a0 = Vector256<float>.Zero; var a1 = a0; var b0 = a0; var b1 = a0;
        for (int g = 0; g < blocks / 2; g++)
        {
            var ba = Vector256.Load(a + 32 * g);
            var bb = Vector256.Load(b + 32 * g);
            a0 = Add(Q4Block(ba & mask, xa, 2 * g), Vector256.Create(sa[g] * xa.Scales[2 * g]), a0);
            b0 = Add(Q4Block(bb & mask, xb, 2 * g), Vector256.Create(sb[g] * xb.Scales[2 * g]), b0);
            a1 = Add(Q4Block(Vector256.ShiftRightLogical(ba.AsUInt16(), 4).AsByte() & mask, xa, 2 * g + 1), Vector256.Create(sa[g] * xa.Scales[2 * g + 1]), a1);
            b1 = Add(Q4Block(Vector256.ShiftRightLogical(bb.AsUInt16(), 4).AsByte() & mask, xb, 2 * g + 1), Vector256.Create(sb[g] * xb.Scales[2 * g + 1]), b1);
        }
        return (Reduce(a0, a1), Reduce(b0, b1));
    }

    /// <summary>
    /// The sixteen lanes of the two accumulators summed in a fixed order: v = acc0 + acc1; u_j = v_j + v_{j+4};
    /// (u_0 + u_2) + (u_1 + u_3).
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static float Reduce(Vector256<float> acc0, Vector256<float> acc1)
    {
        var v = acc0 + acc1;
        var u = v.GetLower() + v.GetUpper();
        var t = u + Vector128.Shuffle(u, Vector128.Create(2, 3, 0, 1));
        return t.ToScalar() + t.GetElement(1);
    }

    /// <summary>
    /// The scalar twin (and the path without AVX2): row <paramref name="o"/> · x one input at a time from the layout's
    /// definition, in the kernels' float32 order (see the class summary), so the bits are theirs.
    /// </summary>
    public static float Reference(in QuantizedMatrix w, long o, in Int8Row x)
    {
        int n = w.InFeatures, blocks = n / Int8Activations.Block;
        float* acc = stackalloc float[16];
        for (int i = 0; i < 16; i++) acc[i] = 0f;
        for (int b = 0; b < blocks; b++)
        {
            float d = w.IsQ4 ? w.Scale[o * (n / w.GroupSize) + b * Int8Activations.Block / w.GroupSize] * x.Scales[b] : x.Scales[b];
            for (int j = 0; j < 8; j++)
            {
                int lane = 0;
                for (int e = 0; e < 4; e++)
                {
                    int i = b * Int8Activations.Block + 4 * j + e;
                    lane += Weight(w, o, i) * x.Values[i];
                }
                acc[b % 2 * 8 + j] = MathF.FusedMultiplyAdd(lane, d, acc[b % 2 * 8 + j]);
            }
        }
        float* u = stackalloc float[4];
        for (int j = 0; j < 4; j++) u[j] = (acc[j] + acc[8 + j]) + (acc[4 + j] + acc[12 + j]);
        float sum = (u[0] + u[2]) + (u[1] + u[3]);
        return w.IsQ4 ? sum : sum * w.Scale[o];
    }

    /// <summary>The integer weight q (int8) or nibble − 8 (q4) at (o, i).</summary>
    static int Weight(in QuantizedMatrix w, long o, int i)
    {
        int n = w.InFeatures;
        if (!w.IsQ4) return ((sbyte*)w.Weight)[o * n + i];
        int g = w.GroupSize, half = g / 2, k = i / g, e = i % g;
        byte b = ((byte*)w.Weight)[o * (n / 2) + k * half + (e < half ? e : e - half)];
        return (e < half ? b & 15 : b >> 4) - 8;
    }
}
