using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// y = x Wᵀ + b for many rows (a prompt's prefill, scoring): x [rows, in] and y [rows, out] float32, W [out, in] stored
/// int8, q4 or bfloat16 and never held in float32 as a whole. A matrix–matrix product is bound by arithmetic, not by
/// memory, so this is a blocked GEMM:
/// <list type="bullet">
/// <item>x is copied once into strips of <see cref="MR"/> rows, interleaved by input ([k][MR]), the last strip padded with zeros;</item>
/// <item>a thread's work item is up to <see cref="NC"/> outputs; for each block of <see cref="KC"/> inputs its weight
/// rows are dequantized to float32 into panels of <see cref="NR"/> rows (together in L2), then each strip of x
/// (16 KiB, in L1) goes past every panel;</item>
/// <item>a register tile of 16 rows × 6 outputs (twelve AVX2 accumulators, two vectors of x and a broadcast weight:
/// fifteen of the sixteen registers) adds one input's products per step, two FMAs per load.</item>
/// </list>
/// The tile runs along the rows of x, so the weights need no transposing: dequantizing a panel is one pass over its
/// bytes, which matters because every weight is dequantized once per product while a 64-row product does only 128
/// flops with it. The tile's sums land transposed in a per-item buffer [out][rows], written to y with the bias once
/// per block of rows. Work items are equal shares of the outputs, a multiple of the thread count. Every output is the
/// sum of its <see cref="KC"/>-blocks in input order, each summed in input order, plus the bias: batch size, thread
/// count and blocking never change a result's bits. Without AVX2 and FMA a plain scalar loop computes the same values
/// (summed in another order).
/// </summary>
internal static unsafe class GemmCpu
{
    /// <summary>Rows of x per register tile: two vectors of 8.</summary>
    const int MR = 16;
    /// <summary>Outputs (weight rows) per register tile and panel.</summary>
    const int NR = 6;
    /// <summary>Inputs per block: a strip of x, MR × KC float32, is 16 KiB (half of L1); a panel NR × KC is 6 KiB.</summary>
    const int KC = 256;
    /// <summary>Rows of x per block (a multiple of MR): the weights are dequantized once per block.</summary>
    const int MC = 512;
    /// <summary>Most outputs per work item (a multiple of NR): the item's panels, NC × KC float32 (192 KiB), stay in L2.</summary>
    const int NC = 192;
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
            // Equal shares of whole panels, as many as the threads or a multiple of them, so no thread waits for a last odd item.
            int panels = (outF + NR - 1) / NR;
            if (threads <= 1 || (long)rows * inF * outF < ParallelThreshold) threads = 1;
            int items = (panels * NR + NC - 1) / NC;
            items = Math.Min(panels, (items + threads - 1) / threads * threads);
            SpinPool.Shared.For(items, threads, item =>
            {
                int p0 = (int)((long)panels * item / items), p1 = (int)((long)panels * (item + 1) / items);
                int n0 = p0 * NR, n1 = Math.Min(outF, p1 * NR);
                Block(w, packed, bias, y, rows, n0, n1 - n0, outF);
            });
        }
        finally
        {
            NativeMemory.AlignedFree(packed);
        }
    }

    /// <summary>
    /// Outputs [n0, n0 + nc) for every row, a block of MC rows at a time: for each block of KC inputs, all the item's
    /// panels are dequantized (into L2), then each strip of x, loaded into L1 once, goes past every panel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block<T>(T w, float* xPacked, float* bias, float* y, int rows, int n0, int nc, int outF) where T : struct, IGemmWeights
    {
        int inF = w.InFeatures, panels = (nc + NR - 1) / NR;
        // The transposed sums [output][row], rows padded to MR (a block's rows are at most MC).
        long ldc = Math.Min(MC, (rows + MR - 1) / MR * MR);
        var sums = (float*)NativeMemory.AlignedAlloc((nuint)(panels * NR * ldc * sizeof(float)), 64);
        var packed = (float*)NativeMemory.AlignedAlloc((nuint)(panels * NR * KC * sizeof(float)), 64);
        try
        {
            for (int m0 = 0; m0 < rows; m0 += MC)
            {
                int mc = Math.Min(MC, rows - m0), mcPadded = (mc + MR - 1) / MR * MR;
                new Span<float>(sums, (int)(panels * NR * ldc)).Clear();
                for (int k0 = 0; k0 < inF; k0 += KC)
                {
                    int kc = Math.Min(KC, inF - k0);
                    if (k0 == 0)
                        for (int r = 0; r < nc; r++) w.Prefetch(n0 + r, 0, kc);
                    for (int j = 0; j < panels; j++)
                        PackPanel(ref w, n0 + j * NR, Math.Min(NR, nc - j * NR), k0, kc, Math.Min(KC, inF - k0 - kc), packed + (long)j * NR * KC);
                    // Strip (m0 + i) / MR: MC is a multiple of MR, so strips never straddle blocks.
                    for (int i = 0; i < mcPadded; i += MR)
                    {
                        float* strip = xPacked + (long)(m0 + i) * inF + (long)k0 * MR;
                        for (int j = 0; j < panels; j++)
                            Kernel(strip, packed + (long)j * NR * KC, kc, sums + j * NR * ldc + i, ldc);
                    }
                }
                for (int r = 0; r < mc; r++)
                {
                    float* yr = y + (long)(m0 + r) * outF + n0;
                    for (int j = 0; j < nc; j++) yr[j] = sums[j * ldc + r] + (bias == null ? 0f : bias[n0 + j]);
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(packed);
            NativeMemory.AlignedFree(sums);
        }
    }

    /// <summary>
    /// x [rows, in] into strips of MR rows, each [in][MR] (input-major), rows past the end zero: the tile's two loads of
    /// x per input are then consecutive.
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
    /// Weight rows [n, n + nr) × inputs [k0, k0 + kc) dequantized into <paramref name="panel"/> [NR][KC]. Past the last
    /// row (nr &lt; NR) the last row is repeated; those outputs are computed and dropped. Each row's next
    /// <paramref name="next"/> inputs are prefetched: a row's block is a few cache lines, one row length away from the
    /// next row's, a pattern the hardware prefetchers do not follow, and without the hint every block waited for memory.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackPanel<T>(ref T w, long n, int nr, int k0, int kc, int next, float* panel) where T : struct, IGemmWeights
    {
        for (int r = 0; r < NR; r++)
        {
            w.DequantizeRow(n + Math.Min(r, nr - 1), k0, kc, panel + r * KC);
            if (r < nr && next > 0) w.Prefetch(n + r, k0 + kc, next);
        }
    }

    /// <summary>
    /// c[6 outputs, 16 rows] (output stride <paramref name="ldc"/>) += b · aᵀ over <paramref name="kc"/> inputs, a a
    /// strip of x [kc][16] and b a panel [6][KC]: each input's two vectors of x times six broadcast weights into twelve
    /// accumulators.
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
        for (int k = 0; k < kc; k++, a += MR, b++)
        {
            var x0 = Avx.LoadVector256(a); var x1 = Avx.LoadVector256(a + 8);
            var w = Avx.BroadcastScalarToVector256(b);
            c00 = Fma.MultiplyAdd(w, x0, c00); c01 = Fma.MultiplyAdd(w, x1, c01);
            w = Avx.BroadcastScalarToVector256(b + KC);
            c10 = Fma.MultiplyAdd(w, x0, c10); c11 = Fma.MultiplyAdd(w, x1, c11);
            w = Avx.BroadcastScalarToVector256(b + 2 * KC);
            c20 = Fma.MultiplyAdd(w, x0, c20); c21 = Fma.MultiplyAdd(w, x1, c21);
            w = Avx.BroadcastScalarToVector256(b + 3 * KC);
            c30 = Fma.MultiplyAdd(w, x0, c30); c31 = Fma.MultiplyAdd(w, x1, c31);
            w = Avx.BroadcastScalarToVector256(b + 4 * KC);
            c40 = Fma.MultiplyAdd(w, x0, c40); c41 = Fma.MultiplyAdd(w, x1, c41);
            w = Avx.BroadcastScalarToVector256(b + 5 * KC);
            c50 = Fma.MultiplyAdd(w, x0, c50); c51 = Fma.MultiplyAdd(w, x1, c51);
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
