using System.Numerics;
using System.Runtime.CompilerServices;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// The SwiGLU feed-forward of a few rows in two passes over the weights: h = SiLU(x W_gateᵀ) ⊙ (x W_upᵀ) with the
/// gate and up rows read side by side, then y (+)= scale · h W_downᵀ. Each pass splits its outputs across the cores
/// like <see cref="DecodeLinearCpu"/>; h stays in float32 between them (the Modeling MLP rounds it to the model dtype).
/// </summary>
internal static unsafe class SwiGluCpu
{
    /// <summary>
    /// x32 [rows, hidden] (float32), weights as float32 (<paramref name="bf16"/> false) or bfloat16 bits; h32 scratch
    /// [rows, inter]; y32 [rows, hidden] float32, overwritten (<paramref name="accumulate"/> false) or added to, each
    /// row's result multiplied by scale[r] (null: 1). With bfloat16 weights, xp [rows, hidden] and hp [rows, inter]
    /// are scratch for the inputs in the order <see cref="DecodeLinearCpu.PrepareBF16"/> gives them (else unused).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* x32, void* gate, void* up, void* down, bool bf16, float* h32, float* y32, float* scale,
        bool accumulate, int rows, int hidden, int inter, int threads, float* xp, float* hp)
    {
        float* xin = x32, hin = h32;
        if (bf16)
        {
            for (int r = 0; r < rows; r++) DecodeLinearCpu.PrepareBF16(x32 + (long)r * hidden, xp + (long)r * hidden, hidden);
            xin = xp;
            hin = hp;
        }
        int blocks = DecodeLinearCpu.BlockCount(3L * hidden * inter, Math.Min(hidden, inter), threads);
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            var (i0, i1) = DecodeLinearCpu.Range(block, blocks, inter);
            GateUp(gate, up, bf16, xin, rows, hidden, h32, inter, (int)i0, (int)i1);
        });
        if (bf16)
            for (int r = 0; r < rows; r++) DecodeLinearCpu.PrepareBF16(h32 + (long)r * inter, hp + (long)r * inter, inter);
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            var (o0, o1) = DecodeLinearCpu.Range(block, blocks, hidden);
            float* sums = stackalloc float[rows];
            var rowsOf = new Down
            {
                W = down, Bf16 = bf16, H = hin, Inter = inter, Rows = rows, Sums = sums, Y = y32, Hidden = hidden, Scale = scale, Accumulate = accumulate,
            };
            DecodeLinearCpu.ForHalves(o0, o1, ref rowsOf);
        });
    }

    /// <summary>The down projection's output o for every row, scaled and stored or added (see <see cref="Forward"/>).</summary>
    struct Down : DecodeLinearCpu.IRowKernel
    {
        public void* W;
        public bool Bf16, Accumulate;
        public float* H, Sums, Y, Scale;
        public int Inter, Rows, Hidden;

        public readonly bool Pairs => Rows == 1;

        [MethodImpl(CpuKernelSupport.Hot)]
        public void One(long o)
        {
            DotRows(W, Bf16, o * Inter, H, Inter, Rows, Sums, 1);
            for (int r = 0; r < Rows; r++) Store(r, o, Sums[r]);
        }

        [MethodImpl(CpuKernelSupport.Hot)]
        public void Pair(long a, long b)
        {
            var (sa, sb) = DotPair(W, Bf16, a * Inter, H, W, b * Inter, H, Inter);
            Store(0, a, sa);
            Store(0, b, sb);
        }

        [MethodImpl(CpuKernelSupport.Hot)]
        void Store(int r, long o, float sum)
        {
            float v = sum * (Scale == null ? 1f : Scale[r]);
            float* yo = Y + (long)r * Hidden + o;
            *yo = Accumulate ? *yo + v : v;
        }
    }

    /// <summary>
    /// One row through k experts at once, y32 [hidden] += Σ_e scale[e] · expert_e(x32): the same arithmetic as k
    /// calls of <see cref="Forward"/> accumulating in turn (each output adds the experts' terms in the given order),
    /// with two fork–joins in all instead of two per expert. gate/up/down hold the experts' weight pointers; h32 and
    /// hp are scratch [k, inter]; xp [hidden] as in <see cref="Forward"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardExperts(float* x32, void** gate, void** up, void** down, float* scale, int k, bool bf16, float* h32, float* y32,
        int hidden, int inter, int threads, float* xp, float* hp)
    {
        float* xin = x32, hin = h32;
        if (bf16)
        {
            DecodeLinearCpu.PrepareBF16(x32, xp, hidden);
            xin = xp;
            hin = hp;
        }
        int blocks = DecodeLinearCpu.BlockCount(3L * hidden * inter * k, Math.Min(hidden, inter), threads);
        long total = (long)inter * k;
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            // Expert e's intermediate units are j = e·inter … (e+1)·inter − 1 of the k·inter in all.
            var (j0, j1) = DecodeLinearCpu.Range(block, blocks, total);
            for (long j = j0; j < j1;)
            {
                int e = (int)(j / inter);
                long end = Math.Min(j1, (long)(e + 1) * inter);
                GateUp(gate[e], up[e], bf16, xin, 1, hidden, h32 + (long)e * inter, inter, (int)(j - (long)e * inter), (int)(end - (long)e * inter));
                j = end;
            }
        });
        if (bf16)
            for (int e = 0; e < k; e++) DecodeLinearCpu.PrepareBF16(h32 + (long)e * inter, hp + (long)e * inter, inter);
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            var (o0, o1) = DecodeLinearCpu.Range(block, blocks, hidden);
            for (long o = o0; o < o1; o++)
            {
                // Two experts' rows in one pass where there are two; each term is still added in the experts' order.
                int e = 0;
                for (; e + 2 <= k; e += 2)
                {
                    var (s0, s1) = DotPair(down[e], bf16, o * inter, hin + (long)e * inter, down[e + 1], o * inter, hin + (long)(e + 1) * inter, inter);
                    y32[o] += s0 * scale[e];
                    y32[o] += s1 * scale[e + 1];
                }
                for (; e < k; e++) y32[o] += Dot(down[e], bf16, o * inter, hin + (long)e * inter, inter) * scale[e];
            }
        });
    }

    /// <summary>
    /// h[r, i] = SiLU(x_r · gate_i) · (x_r · up_i) for <paramref name="rows"/> rows x [rows, hidden] and units [i0, i1),
    /// h's rows <paramref name="hStride"/> apart: the dots first (each unit's two weight rows read once for every row,
    /// see <see cref="DecodeLinearCpu.DotRowsF32"/>), then SiLU a vector at a time (a scalar exp per unit cost about as
    /// much as reading its two weight rows from cache).
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static void GateUp(void* gate, void* up, bool bf16, float* x, int rows, int hidden, float* h, long hStride, int i0, int i1)
    {
        // The up sums of a chunk of units for every row stay on the stack until SiLU combines them with the gate sums.
        int chunk = Math.Max(Vector<float>.Count, Chunk / rows);
        float* u = stackalloc float[rows * chunk];
        for (int c0 = i0; c0 < i1; c0 += chunk)
        {
            int c1 = Math.Min(i1, c0 + chunk);
            for (int i = c0; i < c1; i++)
            {
                if (rows == 1)
                {
                    // A unit's gate and up rows in one pass: eight FMA chains instead of four (see DecodeLinearCpu.ForHalves).
                    (h[i], u[i - c0]) = DotPair(gate, bf16, (long)i * hidden, x, up, (long)i * hidden, x, hidden);
                    continue;
                }
                DotRows(gate, bf16, (long)i * hidden, x, hidden, rows, h + i, hStride);
                DotRows(up, bf16, (long)i * hidden, x, hidden, rows, u + i - c0, chunk);
            }
            for (int r = 0; r < rows; r++) VectorMath.Silu(h + r * hStride + c0, u + r * chunk, h + r * hStride + c0, c1 - c0);
        }
    }

    /// <summary>Units per pass of <see cref="GateUp"/>, all rows together: their up-projection sums stay on the stack.</summary>
    const int Chunk = 1024;

    [MethodImpl(CpuKernelSupport.Hot)]
    static void DotRows(void* w, bool bf16, long offset, float* x, int n, int rows, float* y, long yStride)
    {
        if (bf16) DecodeLinearCpu.DotRowsBF16Prepared((ushort*)w + offset, x, n, rows, y, yStride);
        else DecodeLinearCpu.DotRowsF32((float*)w + offset, x, n, rows, y, yStride);
    }

    /// <summary>Row a of wa with xa and row b of wb with xb in one pass, each summed as <see cref="Dot"/> sums it.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static (float, float) DotPair(void* wa, bool bf16, long a, float* xa, void* wb, long b, float* xb, int n) =>
        bf16 ? DecodeLinearCpu.DotBF16PreparedPair((ushort*)wa + a, xa, (ushort*)wb + b, xb, n)
             : DecodeLinearCpu.DotF32Pair((float*)wa + a, xa, (float*)wb + b, xb, n);

    [MethodImpl(CpuKernelSupport.Hot)]
    static float Dot(void* w, bool bf16, long offset, float* x, int n) =>
        bf16 ? DecodeLinearCpu.DotBF16Prepared((ushort*)w + offset, x, n) : DecodeLinearCpu.DotF32((float*)w + offset, x, n);
}
