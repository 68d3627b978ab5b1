using System.Runtime.CompilerServices;

namespace Jamba.Kernels;

/// <summary>
/// The SwiGLU feed-forward of a few rows in two passes over the weights: h = SiLU(x W_gateᵀ) ⊙ (x W_upᵀ) with the
/// gate and up rows read side by side, then y (+)= scale · h W_downᵀ. Each pass splits its outputs across the cores
/// like <see cref="DecodeLinearCpu"/>; h stays in float32 between them (the tensor path rounds it to the model dtype).
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
        int blocks = threads <= 1 || (long)hidden * inter < 1 << 16 ? 1 : DecodeLinearCpu.BlocksPerThread * threads;
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            int i0 = (int)((long)inter * block / blocks), i1 = (int)((long)inter * (block + 1) / blocks);
            for (int i = i0; i < i1; i++)
                for (int r = 0; r < rows; r++)
                {
                    float* xr = xin + (long)r * hidden;
                    float g = Dot(gate, bf16, (long)i * hidden, xr, hidden), u = Dot(up, bf16, (long)i * hidden, xr, hidden);
                    h32[(long)r * inter + i] = g / (1f + MathF.Exp(-g)) * u;
                }
        });
        if (bf16)
            for (int r = 0; r < rows; r++) DecodeLinearCpu.PrepareBF16(h32 + (long)r * inter, hp + (long)r * inter, inter);
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            int o0 = (int)((long)hidden * block / blocks), o1 = (int)((long)hidden * (block + 1) / blocks);
            for (int o = o0; o < o1; o++)
                for (int r = 0; r < rows; r++)
                {
                    float v = Dot(down, bf16, (long)o * inter, hin + (long)r * inter, inter) * (scale == null ? 1f : scale[r]);
                    float* yo = y32 + (long)r * hidden + o;
                    *yo = accumulate ? *yo + v : v;
                }
        });
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
        int blocks = threads <= 1 || (long)hidden * inter * k < 1 << 16 ? 1 : DecodeLinearCpu.BlocksPerThread * threads;
        long total = (long)inter * k;
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            for (long j = total * block / blocks; j < total * (block + 1) / blocks; j++)
            {
                int e = (int)(j / inter), i = (int)(j % inter);
                float g = Dot(gate[e], bf16, (long)i * hidden, xin, hidden), u = Dot(up[e], bf16, (long)i * hidden, xin, hidden);
                h32[j] = g / (1f + MathF.Exp(-g)) * u;
            }
        });
        if (bf16)
            for (int e = 0; e < k; e++) DecodeLinearCpu.PrepareBF16(h32 + (long)e * inter, hp + (long)e * inter, inter);
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            int o0 = (int)((long)hidden * block / blocks), o1 = (int)((long)hidden * (block + 1) / blocks);
            for (int o = o0; o < o1; o++)
                for (int e = 0; e < k; e++)
                    y32[o] += Dot(down[e], bf16, (long)o * inter, hin + (long)e * inter, inter) * scale[e];
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Dot(void* w, bool bf16, long offset, float* x, int n) =>
        bf16 ? DecodeLinearCpu.DotBF16Prepared((ushort*)w + offset, x, n) : DecodeLinearCpu.DotF32((float*)w + offset, x, n);
}
