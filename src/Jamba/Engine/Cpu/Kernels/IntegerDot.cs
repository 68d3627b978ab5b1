using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// Row · x of a <see cref="QuantizedMatrix"/> with x quantized to int8 (<see cref="Int8Row"/>): integer sums of
/// q · r over eight lanes, exact, then float32 FMAs by the scales. On AVX2 the integer part is a handful of
/// instructions — int8: <c>vpsignb</c> moves r's signs onto the weights so <c>vpmaddubsw</c> can take |r| as its unsigned
/// operand; q4: the nibbles are the unsigned operand as they are, and their offset of 8 comes out with the row's
/// precomputed 8 · Σ r — then <c>vpmaddwd</c>, one conversion and one FMA. The float32-activation path
/// (<see cref="QuantizedMatrix"/>) widens every weight to float32 and needs an FMA per eight, which binds the product
/// to the arithmetic rather than to memory. |q| and |r| ≤ 127 (the format's range) keep the int16 pair sums of
/// <c>vpmaddubsw</c> from saturating. The loops walk pointers and load x in the layout each weight format needs
/// (<see cref="Int8Row"/>), because at these rates the instruction count, not the multipliers, is what binds.
/// AVX-VNNI and AVX-512 VNNI would fuse the two multiplies; there is no such path here (nothing to test it on).
/// <para>
/// The float32 order is fixed, so <see cref="Reference"/> gives the same bits one input at a time. Eight lanes of
/// exact integer sums L_j are added into two accumulators by FMA, even steps into one and odd steps into the other,
/// and the sixteen lanes are summed as <see cref="Reduce"/> does:
/// <list type="bullet">
/// <item>int8, step = block k: lane j sums inputs 4j … 4j + 3; acc_j += L_j · s_x[k]; the row scale multiplies the result.</item>
/// <item>q4 G = 32, step = the pair of groups (2p, 2p + 1) (one 32-byte load): lanes 0–3 are group 2p and lanes 4–7
/// group 2p + 1, lane j of a group summing inputs 4j … 4j + 3 and 16 + 4j … 16 + 4j + 3 (the low and the high nibbles of
/// its bytes 4j … 4j + 3); acc_j += L_j · d with d = s_w · s_x of the lane's group, rounded first (s_w the float16
/// scale, widened exactly). An odd last group is a pair whose second group is zeros.</item>
/// <item>q4 G = 64, step = group g (blocks 2g and 2g + 1, the low and the high nibbles of its 32 bytes): lane j of
/// each block sums inputs 4j … 4j + 3; t_j = L_j(2g) · s_x[2g], t_j = t_j + L_j(2g + 1) · s_x[2g + 1] (an FMA),
/// acc_j += t_j · s_w[g].</item>
/// </list>
/// </para>
/// </summary>
internal static unsafe class IntegerDot
{
    /// <summary>
    /// How far ahead of a weight stream the loops ask for its cache lines. The hardware prefetchers alone leave a q4
    /// product short of the memory's rate: its loop is dense enough in instructions that a late line stalls it.
    /// </summary>
    const int PrefetchBytes = 1024;

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
        ushort* s = w.GroupScale + o * (n / w.GroupSize);
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
        ushort* wa = ma.GroupScale + a * groups, wb = mb.GroupScale + b * groups;
        return ma.GroupSize == 32 ? Q4G32Pair(qa, wa, xa, qb, wb, xb, blocks) : Q4G64Pair(qa, wa, xa, qb, wb, xb, blocks);
    }

    // ---- int8 weights: a step is one block of 32 (32 bytes) ----

    /// <summary>acc + L · s for the block at w, with its x at v (r), m (|r|) and s (spread scale).</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> Int8Step(sbyte* w, sbyte* v, byte* m, float* s, Vector256<float> acc, Vector256<short> ones) =>
        Vector256.FusedMultiplyAdd(
            Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(
                Avx2.MultiplyAddAdjacent(Vector256.Load(m), Avx2.Sign(Vector256.Load(w), Vector256.Load(v))), ones)),
            Vector256.Load(s), acc);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Int8(sbyte* w, Int8Row x, int blocks)
    {
        var ones = Vector256.Create((short)1);
        var acc0 = Vector256<float>.Zero; var acc1 = acc0;
        sbyte* v = x.Values; byte* m = x.Magnitudes; float* s = x.BlockScales;
        for (sbyte* end = w + 32 * (blocks & ~1); w < end; w += 64, v += 64, m += 64, s += 16)
        {
            Sse.Prefetch0(w + PrefetchBytes);
            acc0 = Int8Step(w, v, m, s, acc0, ones);
            acc1 = Int8Step(w + 32, v + 32, m + 32, s + 8, acc1, ones);
        }
        if ((blocks & 1) != 0) acc0 = Int8Step(w, v, m, s, acc0, ones);
        return Reduce(acc0, acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (float, float) Int8Pair(sbyte* a, Int8Row xa, sbyte* b, Int8Row xb, int blocks)
    {
        var ones = Vector256.Create((short)1);
        var a0 = Vector256<float>.Zero; var a1 = a0; var b0 = a0; var b1 = a0;
        sbyte* va = xa.Values, vb = xb.Values; byte* ma = xa.Magnitudes, mb = xb.Magnitudes; float* sa = xa.BlockScales, sb = xb.BlockScales;
        for (sbyte* end = a + 32 * (blocks & ~1); a < end; a += 64, b += 64, va += 64, vb += 64, ma += 64, mb += 64, sa += 16, sb += 16)
        {
            Sse.Prefetch0(a + PrefetchBytes);
            Sse.Prefetch0(b + PrefetchBytes);
            a0 = Int8Step(a, va, ma, sa, a0, ones);
            b0 = Int8Step(b, vb, mb, sb, b0, ones);
            a1 = Int8Step(a + 32, va + 32, ma + 32, sa + 8, a1, ones);
            b1 = Int8Step(b + 32, vb + 32, mb + 32, sb + 8, b1, ones);
        }
        if ((blocks & 1) != 0)
        {
            a0 = Int8Step(a, va, ma, sa, a0, ones);
            b0 = Int8Step(b, vb, mb, sb, b0, ones);
        }
        return (Reduce(a0, a1), Reduce(b0, b1));
    }

    /// <summary>
    /// The q4 steps' constants, made once per row by the caller: the JIT rematerialises a constant inside an inlined
    /// step on every call, which costs the loop a load and a copy each.
    /// </summary>
    readonly struct Constants(Vector256<byte> mask, Vector256<short> ones, Vector256<int> spread, Vector256<int> interleave)
    {
        /// <summary>The low nibble of each byte.</summary>
        public readonly Vector256<byte> Mask = mask;
        /// <summary>The int16 ones that <c>vpmaddwd</c> sums pairs with.</summary>
        public readonly Vector256<short> Ones = ones;
        /// <summary>Lane 0 into lanes 0–3 and lane 1 into lanes 4–7 (a pair's two scales).</summary>
        public readonly Vector256<int> Spread = spread;
        /// <summary>Even lanes into the low half and odd lanes into the high half (four pairs' scales).</summary>
        public readonly Vector256<int> Interleave = interleave;

        [MethodImpl(CpuKernelSupport.Hot)]
        public static Constants Create() => new(Vector256.Create((byte)15), Vector256.Create((short)1),
            Vector256.Create(0, 0, 0, 0, 1, 1, 1, 1), Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7));
    }

    // ---- q4 weights in groups of 32: a step is a pair of groups (32 bytes) ----

    /// <summary>
    /// acc + L · d for the pair of groups whose nibbles are <paramref name="bytes"/>, with its x at v
    /// (<see cref="Int8Row.Pairs"/>) and off, and d the pair's s_w · s_x (lanes 0–3 the first group's, 4–7 the second's).
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> G32Step(Vector256<byte> bytes, Vector256<float> d, sbyte* v, int* off, Vector256<float> acc, in Constants k)
    {
        var mask = k.Mask;
        var low = bytes & mask;
        var high = Vector256.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & mask;
        // Each lane of the two products belongs to one group, so their int16 sums (|·| ≤ 2 · 2 · 15 · 127) add as they are.
        var sums = Avx2.MultiplyAddAdjacent(low, Vector256.Load(v)) + Avx2.MultiplyAddAdjacent(high, Vector256.Load(v + 32));
        var lanes = Avx2.MultiplyAddAdjacent(sums, k.Ones) - Vector256.Load(off);
        return Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(lanes), d, acc);
    }

    /// <summary>
    /// Four pairs' d from their eight float16 weight scales at sw and x's scales at xs: the products s_w · s_x of the
    /// eight groups, even groups in the low half and odd in the high, so that <see cref="Of"/> spreads pair j's with one
    /// in-lane shuffle.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> FourPairs(ushort* sw, float* xs, in Constants k) =>
        Avx2.PermuteVar8x32(Float16.Widen8(sw) * Vector256.Load(xs), k.Interleave);

    /// <summary>Pair j's d of <see cref="FourPairs"/>: its first group's product in lanes 0–3, the second's in 4–7.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> Of(Vector256<float> four, [ConstantExpected] byte j) => Avx.Permute(four, j);

    /// <summary>One pair's d from its two float16 weight scales and x's two scales.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> OnePair(ushort* sw, float* xs, in Constants k)
    {
        var w = Float16.Widen4(Sse41.ConvertToVector128Int32(Vector128.CreateScalarUnsafe(*(uint*)sw).AsUInt16()));
        return Avx2.PermuteVar8x32((w * Vector128.CreateScalarUnsafe(*(double*)xs).AsSingle()).ToVector256Unsafe(), k.Spread);
    }

    /// <summary>The d of the last group of an odd count, taken as a pair whose second group is zeros.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> LastPair(ushort* sw, float* xs, in Constants k) =>
        Avx2.PermuteVar8x32((Vector128.CreateScalar(Float16.ToSingle(*sw)) * Vector128.CreateScalar(*xs)).ToVector256Unsafe(), k.Spread);

    /// <summary>The 16 bytes of that last group (the upper half is never multiplied by anything but zeros).</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<byte> LastBytes(byte* w) => Vector128.Load(w).ToVector256Unsafe();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Q4G32(byte* w, ushort* sw, Int8Row x, int blocks)
    {
        var k = Constants.Create();
        var acc0 = Vector256<float>.Zero; var acc1 = acc0;
        sbyte* v = x.Pairs; int* off = x.PairOffsets; float* xs = x.Scales;
        int pairs = blocks / 2, p = 0;
        for (; p + 4 <= pairs; p += 4, w += 128, sw += 8, xs += 8, v += 256, off += 32)
        {
            Sse.Prefetch0(w + PrefetchBytes);
            Sse.Prefetch0(w + PrefetchBytes + 64);
            var d = FourPairs(sw, xs, k);
            acc0 = G32Step(Vector256.Load(w), Of(d, 0x00), v, off, acc0, k);
            acc1 = G32Step(Vector256.Load(w + 32), Of(d, 0x55), v + 64, off + 8, acc1, k);
            acc0 = G32Step(Vector256.Load(w + 64), Of(d, 0xAA), v + 128, off + 16, acc0, k);
            acc1 = G32Step(Vector256.Load(w + 96), Of(d, 0xFF), v + 192, off + 24, acc1, k);
        }
        // The remaining pairs alternate too; after each, acc0 is the next step's accumulator (the final sum commutes).
        for (; p < pairs; p++, w += 32, sw += 2, xs += 2, v += 64, off += 8)
        {
            acc0 = G32Step(Vector256.Load(w), OnePair(sw, xs, k), v, off, acc0, k);
            (acc0, acc1) = (acc1, acc0);
        }
        if ((blocks & 1) != 0) acc0 = G32Step(LastBytes(w), LastPair(sw, xs, k), v, off, acc0, k);
        return Reduce(acc0, acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (float, float) Q4G32Pair(byte* a, ushort* sa, Int8Row xa, byte* b, ushort* sb, Int8Row xb, int blocks)
    {
        var k = Constants.Create();
        var a0 = Vector256<float>.Zero; var a1 = a0; var b0 = a0; var b1 = a0;
        sbyte* va = xa.Pairs, vb = xb.Pairs; int* oa = xa.PairOffsets, ob = xb.PairOffsets; float* xsa = xa.Scales, xsb = xb.Scales;
        int pairs = blocks / 2, p = 0;
        for (; p + 4 <= pairs; p += 4, a += 128, b += 128, sa += 8, sb += 8, xsa += 8, xsb += 8, va += 256, vb += 256, oa += 32, ob += 32)
        {
            Sse.Prefetch0(a + PrefetchBytes);
            Sse.Prefetch0(a + PrefetchBytes + 64);
            Sse.Prefetch0(b + PrefetchBytes);
            Sse.Prefetch0(b + PrefetchBytes + 64);
            var da = FourPairs(sa, xsa, k);
            var db = FourPairs(sb, xsb, k);
            a0 = G32Step(Vector256.Load(a), Of(da, 0x00), va, oa, a0, k);
            b0 = G32Step(Vector256.Load(b), Of(db, 0x00), vb, ob, b0, k);
            a1 = G32Step(Vector256.Load(a + 32), Of(da, 0x55), va + 64, oa + 8, a1, k);
            b1 = G32Step(Vector256.Load(b + 32), Of(db, 0x55), vb + 64, ob + 8, b1, k);
            a0 = G32Step(Vector256.Load(a + 64), Of(da, 0xAA), va + 128, oa + 16, a0, k);
            b0 = G32Step(Vector256.Load(b + 64), Of(db, 0xAA), vb + 128, ob + 16, b0, k);
            a1 = G32Step(Vector256.Load(a + 96), Of(da, 0xFF), va + 192, oa + 24, a1, k);
            b1 = G32Step(Vector256.Load(b + 96), Of(db, 0xFF), vb + 192, ob + 24, b1, k);
        }
        for (; p < pairs; p++, a += 32, b += 32, sa += 2, sb += 2, xsa += 2, xsb += 2, va += 64, vb += 64, oa += 8, ob += 8)
        {
            a0 = G32Step(Vector256.Load(a), OnePair(sa, xsa, k), va, oa, a0, k);
            b0 = G32Step(Vector256.Load(b), OnePair(sb, xsb, k), vb, ob, b0, k);
            (a0, a1) = (a1, a0);
            (b0, b1) = (b1, b0);
        }
        if ((blocks & 1) != 0)
        {
            a0 = G32Step(LastBytes(a), LastPair(sa, xsa, k), va, oa, a0, k);
            b0 = G32Step(LastBytes(b), LastPair(sb, xsb, k), vb, ob, b0, k);
        }
        return (Reduce(a0, a1), Reduce(b0, b1));
    }

    // ---- q4 weights in groups of 64: a step is a group (32 bytes, blocks 2g and 2g + 1) ----

    /// <summary>acc + (L(2g) · s_x[2g] + L(2g + 1) · s_x[2g + 1]) · s_w for the group at w, with its x at v (r), off and s.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> G64Step(byte* w, float* sw, sbyte* v, int* off, float* s, Vector256<float> acc, in Constants k)
    {
        var mask = k.Mask;
        var ones = k.Ones;
        var bytes = Vector256.Load(w);
        var low = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(bytes & mask, Vector256.Load(v)), ones) - Vector256.Load(off);
        var high = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & mask, Vector256.Load(v + 32)), ones) - Vector256.Load(off + 8);
        var t = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(high), Vector256.Load(s + 8), Avx.ConvertToVector256Single(low) * Vector256.Load(s));
        return Vector256.FusedMultiplyAdd(t, Vector256.Create(*sw), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Q4G64(byte* w, ushort* scales, Int8Row x, int blocks)
    {
        var k = Constants.Create();
        var acc0 = Vector256<float>.Zero; var acc1 = acc0;
        int groups = blocks / 2, g = 0;
        // The row's scales widened once: a step broadcasts one of them.
        float* buffer = stackalloc float[groups];
        float* sw = Float16.Widen(scales, buffer, groups);
        sbyte* v = x.Values; int* off = x.Offsets; float* s = x.BlockScales;
        for (; g + 2 <= groups; g += 2, w += 64, sw += 2, v += 128, off += 32, s += 32)
        {
            Sse.Prefetch0(w + PrefetchBytes);
            acc0 = G64Step(w, sw, v, off, s, acc0, k);
            acc1 = G64Step(w + 32, sw + 1, v + 64, off + 16, s + 16, acc1, k);
        }
        if (g < groups) acc0 = G64Step(w, sw, v, off, s, acc0, k);
        return Reduce(acc0, acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (float, float) Q4G64Pair(byte* a, ushort* scalesA, Int8Row xa, byte* b, ushort* scalesB, Int8Row xb, int blocks)
    {
        var k = Constants.Create();
        var a0 = Vector256<float>.Zero; var a1 = a0; var b0 = a0; var b1 = a0;
        int groups = blocks / 2, g = 0;
        float* buffer = stackalloc float[2 * groups];
        float* sa = Float16.Widen(scalesA, buffer, groups), sb = Float16.Widen(scalesB, buffer + groups, groups);
        sbyte* va = xa.Values, vb = xb.Values; int* oa = xa.Offsets, ob = xb.Offsets; float* xsa = xa.BlockScales, xsb = xb.BlockScales;
        for (; g + 2 <= groups; g += 2, a += 64, b += 64, sa += 2, sb += 2, va += 128, vb += 128, oa += 32, ob += 32, xsa += 32, xsb += 32)
        {
            Sse.Prefetch0(a + PrefetchBytes);
            Sse.Prefetch0(b + PrefetchBytes);
            a0 = G64Step(a, sa, va, oa, xsa, a0, k);
            b0 = G64Step(b, sb, vb, ob, xsb, b0, k);
            a1 = G64Step(a + 32, sa + 1, va + 64, oa + 16, xsa + 16, a1, k);
            b1 = G64Step(b + 32, sb + 1, vb + 64, ob + 16, xsb + 16, b1, k);
        }
        if (g < groups)
        {
            a0 = G64Step(a, sa, va, oa, xsa, a0, k);
            b0 = G64Step(b, sb, vb, ob, xsb, b0, k);
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
        if (!w.IsQ4)
        {
            for (int k = 0; k < blocks; k++)
                for (int j = 0; j < 8; j++)
                    acc[k % 2 * 8 + j] = MathF.FusedMultiplyAdd(Lane(w, o, x, 32 * k + 4 * j, 4), x.Scales[k], acc[k % 2 * 8 + j]);
            return Sum(acc) * w.Scale[o];
        }
        ushort* sw = w.GroupScale + o * (n / w.GroupSize);
        if (w.GroupSize == 32)
        {
            for (int p = 0; p < (blocks + 1) / 2; p++)
                for (int j = 0; j < 8; j++)
                {
                    int k = 2 * p + j / 4, e = 32 * k + 4 * (j % 4);
                    int lane = k < blocks ? Lane(w, o, x, e, 4) + Lane(w, o, x, e + 16, 4) : 0;
                    float d = k < blocks ? Float16.ToSingle(sw[k]) * x.Scales[k] : 0f;
                    acc[p % 2 * 8 + j] = MathF.FusedMultiplyAdd(lane, d, acc[p % 2 * 8 + j]);
                }
        }
        else
        {
            for (int g = 0; g < blocks / 2; g++)
                for (int j = 0; j < 8; j++)
                {
                    float t = Lane(w, o, x, 64 * g + 4 * j, 4) * x.Scales[2 * g];
                    t = MathF.FusedMultiplyAdd(Lane(w, o, x, 64 * g + 32 + 4 * j, 4), x.Scales[2 * g + 1], t);
                    acc[g % 2 * 8 + j] = MathF.FusedMultiplyAdd(t, Float16.ToSingle(sw[g]), acc[g % 2 * 8 + j]);
                }
        }
        return Sum(acc);
    }

    /// <summary>Σ q r over inputs e … e + count − 1 (exact).</summary>
    static int Lane(in QuantizedMatrix w, long o, in Int8Row x, int e, int count)
    {
        int sum = 0;
        for (int i = e; i < e + count; i++) sum += Weight(w, o, i) * x.Values[i];
        return sum;
    }

    /// <summary><see cref="Reduce"/> of sixteen lanes held as floats.</summary>
    static float Sum(float* acc)
    {
        float* u = stackalloc float[4];
        for (int j = 0; j < 4; j++) u[j] = (acc[j] + acc[8 + j]) + (acc[4 + j] + acc[12 + j]);
        return (u[0] + u[2]) + (u[1] + u[3]);
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
