using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// y = x Wᵀ + b for many rows (a prompt's prefill, scoring): x [rows, in] and y [rows, out] float32, W [out, in] stored
/// int8, q4 or bfloat16 and never held in float32 as a whole. A matrix–matrix product is bound by arithmetic, not by
/// memory, so this is a blocked GEMM in the classic layout:
/// <list type="bullet">
/// <item>x is copied once into strips of <see cref="MR"/> rows, interleaved by input ([k][MR]), the last strip padded with zeros;</item>
/// <item>a panel of <see cref="NR"/> weight rows × <see cref="KC"/> inputs is dequantized to float32 and transposed
/// ([k][NR], 16 KiB, in L1) once, then used by every strip of the <see cref="MC"/> rows whose slice of x stays in L2;</item>
/// <item>a 6 × 16 register tile (twelve AVX2 accumulators, two weight vectors and a broadcast input: fifteen of the
/// sixteen registers) adds one input's products per step, two FMAs per load.</item>
/// </list>
/// Threads take blocks of <see cref="NC"/> outputs, each with its own panels. Every output is its bias plus the sums of
/// the <see cref="KC"/>-blocks in input order, each block summed in input order: batch size, thread count and blocking
/// of rows or outputs never change a result's bits. Without AVX2 and FMA a plain scalar loop computes the same values
/// (summed in another order).
/// </summary>
internal static unsafe class GemmCpu
{
    /// <summary>Rows of x per register tile.</summary>
    const int MR = 6;
    /// <summary>Outputs (weight rows) per register tile and panel: two vectors of 8.</summary>
    const int NR = 16;
    /// <summary>Inputs per panel: NR × KC float32 is 16 KiB, half of L1.</summary>
    const int KC = 256;
    /// <summary>Rows of x per block: MC × KC float32 (144 KiB) stays in L2 while the panels go by.</summary>
    const int MC = 144;
    /// <summary>Outputs per work item: y's slice MC × NC (144 KiB) stays in L2 across the input blocks.</summary>
    const int NC = 256;
    /// <summary>Products below this many multiply-adds run on one thread.</summary>
    const long ParallelThreshold = 1 << 18;

    /// <summary>Whether the blocked kernel runs here (else <see cref="ForwardScalar{T}"/>).</summary>
    public static bool Vectorized => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>int8 or q4 weights: x [rows, in], bias [out] or null, y [rows, out].</summary>
    public static void Forward(float* x, QuantizedMatrix w, float* bias, float* y, int rows, int outF, int threads)
    {
        if (w.IsQ4) Forward(new Q4GemmWeights(w), x, bias, y, rows, outF, threads);
        else Forward(new Int8GemmWeights(w), x, bias, y, rows, outF, threads);
    }

    /// <summary>bfloat16 weights (bit patterns) [out, in]: x [rows, in], bias [out] or null, y [rows, out], all float32.</summary>
    public static void ForwardBF16(float* x, ushort* w, float* bias, float* y, int rows, int inF, int outF, int threads) =>
        Forward(new BFloat16GemmWeights(w, inF), x, bias, y, rows, outF, threads);

    /// <summary>The scalar path, callable on any machine (the tests compare it with the tensor path).</summary>
    internal static void ForwardScalar(float* x, QuantizedMatrix w, float* bias, float* y, int rows, int outF)
    {
        if (w.IsQ4) ForwardScalar(new Q4GemmWeights(w), x, bias, y, rows, outF);
        else ForwardScalar(new Int8GemmWeights(w), x, bias, y, rows, outF);
    }

    static void Forward<T>(T w, float* x, float* bias, float* y, int rows, int outF, int threads) where T : struct, IGemmWeights
    {
        if (rows <= 0 || outF <= 0) return;
        if (!Vectorized)
        {
            ForwardScalar(w, x, bias, y, rows, outF);
            return;
        }
        int inF = w.InFeatures, strips = (rows + MR - 1) / MR;
        var packed = (float*)NativeMemory.AlignedAlloc((nuint)((long)strips * MR * Math.Max(inF, 1) * sizeof(float)), 64);
        try
        {
            PackRows(x, packed, rows, inF);
            int items = (outF + NC - 1) / NC;
            if (threads <= 1 || (long)rows * inF * outF < ParallelThreshold) threads = 1;
            SpinPool.Shared.For(items, threads, item =>
            {
                int n0 = item * NC;
                Block(w, packed, bias, y, rows, n0, Math.Min(NC, outF - n0), outF);
            });
        }
        finally
        {
            NativeMemory.AlignedFree(packed);
        }
    }

    /// <summary>Outputs [n0, n0 + nc) for every row: y initialised with the bias, then each (rows, inputs) block added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block<T>(T w, float* xPacked, float* bias, float* y, int rows, int n0, int nc, int outF) where T : struct, IGemmWeights
    {
        int inF = w.InFeatures;
        for (int r = 0; r < rows; r++)
        {
            float* yr = y + (long)r * outF + n0;
            if (bias == null) new Span<float>(yr, nc).Clear();
            else new ReadOnlySpan<float>(bias + n0, nc).CopyTo(new Span<float>(yr, nc));
        }
        byte* panelBytes = stackalloc byte[NR * KC * sizeof(float) + 64];
        float* panel = (float*)(((nint)panelBytes + 63) & ~(nint)63);
        float* tile = stackalloc float[MR * NR];
        for (int m0 = 0; m0 < rows; m0 += MC)
        {
            int mc = Math.Min(MC, rows - m0);
            for (int k0 = 0; k0 < inF; k0 += KC)
            {
                int kc = Math.Min(KC, inF - k0);
                for (int j = 0; j < nc; j += NR)
                {
                    int nr = Math.Min(NR, nc - j);
                    PackPanel(ref w, n0 + j, nr, k0, kc, panel);
                    for (int i = 0; i < mc; i += MR)
                    {
                        int mr = Math.Min(MR, mc - i);
                        // Strip (m0 + i) / MR: MC is a multiple of MR, so strips never straddle blocks.
                        float* a = xPacked + (long)(m0 + i) * inF + (long)k0 * MR;
                        float* c = y + (long)(m0 + i) * outF + n0 + j;
                        if (mr == MR && nr == NR) Kernel(a, panel, kc, c, outF);
                        else
                        {
                            // A partial tile goes through a full one on the stack: the padded rows and repeated outputs are dropped.
                            for (int r = 0; r < mr; r++)
                                for (int q = 0; q < nr; q++) tile[r * NR + q] = c[(long)r * outF + q];
                            Kernel(a, panel, kc, tile, NR);
                            for (int r = 0; r < mr; r++)
                                for (int q = 0; q < nr; q++) c[(long)r * outF + q] = tile[r * NR + q];
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// x [rows, in] into strips of MR rows, each [in][MR] (input-major), rows past the end zero: the tile's six
    /// broadcasts then read consecutive floats.
    /// </summary>
    static void PackRows(float* x, float* packed, int rows, int inF)
    {
        for (int s = 0; s * MR < rows; s++)
        {
            float* dst = packed + (long)s * MR * inF;
            for (int r = 0; r < MR; r++)
            {
                int row = s * MR + r;
                if (row >= rows)
                {
                    for (int k = 0; k < inF; k++) dst[(long)k * MR + r] = 0f;
                    continue;
                }
                float* src = x + (long)row * inF;
                for (int k = 0; k < inF; k++) dst[(long)k * MR + r] = src[k];
            }
        }
    }

    /// <summary>
    /// Weight rows [n, n + nr) × inputs [k0, k0 + kc) dequantized into <paramref name="panel"/> [kc][NR]: eight rows by
    /// eight inputs at a time, transposed in registers. Past the last row (nr &lt; NR) the last row is repeated; those
    /// outputs are computed and dropped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackPanel<T>(ref T w, long n, int nr, int k0, int kc, float* panel) where T : struct, IGemmWeights
    {
        long* row = stackalloc long[NR];
        for (int r = 0; r < NR; r++) row[r] = n + Math.Min(r, nr - 1);
        int k = 0;
        for (; k <= kc - 8; k += 8)
        {
            var column = w.At(k0 + k);
            for (int h = 0; h < NR; h += 8)
                Transpose8(w.Load8(row[h], column), w.Load8(row[h + 1], column), w.Load8(row[h + 2], column), w.Load8(row[h + 3], column),
                    w.Load8(row[h + 4], column), w.Load8(row[h + 5], column), w.Load8(row[h + 6], column), w.Load8(row[h + 7], column),
                    panel + (long)k * NR + h);
        }
        for (; k < kc; k++)
            for (int r = 0; r < NR; r++) panel[(long)k * NR + r] = w.Load1(row[r], k0 + k);
    }

    /// <summary>Rows r0 … r7 (eight inputs each) stored transposed: input j's eight values at dst + j · NR.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static void Transpose8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* dst)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).Store(dst);
        Avx.Permute2x128(u1, u5, 0x20).Store(dst + NR);
        Avx.Permute2x128(u2, u6, 0x20).Store(dst + 2 * NR);
        Avx.Permute2x128(u3, u7, 0x20).Store(dst + 3 * NR);
        Avx.Permute2x128(u0, u4, 0x31).Store(dst + 4 * NR);
        Avx.Permute2x128(u1, u5, 0x31).Store(dst + 5 * NR);
        Avx.Permute2x128(u2, u6, 0x31).Store(dst + 6 * NR);
        Avx.Permute2x128(u3, u7, 0x31).Store(dst + 7 * NR);
    }

    /// <summary>
    /// c[6, 16] (row stride <paramref name="ldc"/>) += a · b over <paramref name="kc"/> inputs, a a strip [kc][6] and b a
    /// panel [kc][16]: each input's six broadcasts times the panel's two vectors into twelve accumulators.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel(float* a, float* b, int kc, float* c, long ldc)
    {
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
        var c00 = Avx.LoadVector256(c); var c01 = Avx.LoadVector256(c + 8);
        var c10 = Avx.LoadVector256(c1); var c11 = Avx.LoadVector256(c1 + 8);
        var c20 = Avx.LoadVector256(c2); var c21 = Avx.LoadVector256(c2 + 8);
        var c30 = Avx.LoadVector256(c3); var c31 = Avx.LoadVector256(c3 + 8);
        var c40 = Avx.LoadVector256(c4); var c41 = Avx.LoadVector256(c4 + 8);
        var c50 = Avx.LoadVector256(c5); var c51 = Avx.LoadVector256(c5 + 8);
        for (int k = 0; k < kc; k++, a += MR, b += NR)
        {
            var b0 = Avx.LoadVector256(b); var b1 = Avx.LoadVector256(b + 8);
            var x = Avx.BroadcastScalarToVector256(a);
            c00 = Fma.MultiplyAdd(x, b0, c00); c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Avx.BroadcastScalarToVector256(a + 1);
            c10 = Fma.MultiplyAdd(x, b0, c10); c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Avx.BroadcastScalarToVector256(a + 2);
            c20 = Fma.MultiplyAdd(x, b0, c20); c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Avx.BroadcastScalarToVector256(a + 3);
            c30 = Fma.MultiplyAdd(x, b0, c30); c31 = Fma.MultiplyAdd(x, b1, c31);
            x = Avx.BroadcastScalarToVector256(a + 4);
            c40 = Fma.MultiplyAdd(x, b0, c40); c41 = Fma.MultiplyAdd(x, b1, c41);
            x = Avx.BroadcastScalarToVector256(a + 5);
            c50 = Fma.MultiplyAdd(x, b0, c50); c51 = Fma.MultiplyAdd(x, b1, c51);
        }
        c00.Store(c); c01.Store(c + 8);
        c10.Store(c1); c11.Store(c1 + 8);
        c20.Store(c2); c21.Store(c2 + 8);
        c30.Store(c3); c31.Store(c3 + 8);
        c40.Store(c4); c41.Store(c4 + 8);
        c50.Store(c5); c51.Store(c5 + 8);
    }

    /// <summary>Without AVX2 and FMA: each weight row dequantized once, then dotted with every row of x.</summary>
    static void ForwardScalar<T>(T w, float* x, float* bias, float* y, int rows, int outF) where T : struct, IGemmWeights
    {
        int inF = w.InFeatures;
        var row = new float[inF];
        for (int o = 0; o < outF; o++)
        {
            for (int k = 0; k < inF; k++) row[k] = w.Load1(o, k);
            for (int r = 0; r < rows; r++)
            {
                float* xr = x + (long)r * inF;
                float sum = 0f;
                for (int k = 0; k < inF; k++) sum += row[k] * xr[k];
                y[(long)r * outF + o] = (bias == null ? 0f : bias[o]) + sum;
            }
        }
    }
}
