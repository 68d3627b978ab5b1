using System.Numerics;
using System.Runtime.CompilerServices;

namespace Jamba.Kernels;

/// <summary>
/// The tensors one Mamba decode step reads and writes, as raw pointers (see <see cref="MambaStepCpu"/>). Activations
/// and the SSM state are float32; the parameters are float32 or, with <see cref="Bf16Params"/>, bfloat16 bits.
/// </summary>
internal unsafe struct MambaStepBuffers
{
    /// <summary>Sizes: batch rows, channels (d_inner), SSM state (d_state), Δ rank, conv width.</summary>
    public int Batch, Channels, State, DtRank, ConvWidth;
    /// <summary>in_proj's two halves for this token, x and gate, [batch, channels] each, rows <see cref="XStride"/> apart.</summary>
    public float* X, Gate;
    /// <summary>Distance between batch rows of <see cref="X"/> and <see cref="Gate"/> (2 · channels for a fused in_proj output).</summary>
    public long XStride;
    /// <summary>Rolling conv window [batch, channels, K] and SSM state [batch, channels, N], both updated in place.</summary>
    public float* ConvState, SsmState;
    /// <summary>The conv window as bfloat16 bits instead (a bf16 model's cache); <see cref="ConvState"/> is then null.</summary>
    public ushort* ConvState16;
    /// <summary>Whether the parameters below are bfloat16 (else float32).</summary>
    public bool Bf16Params;
    /// <summary>Depthwise conv weight [channels, K] and bias [channels] (null: none).</summary>
    public void* ConvWeight, ConvBias;
    /// <summary>x_proj weight [R + 2N, channels].</summary>
    public void* XProj;
    /// <summary>RMSNorm weights of Δ [R], B [N] and C [N]; null when the model has no inner norms.</summary>
    public void* DtNorm, BNorm, CNorm;
    /// <summary>The norms' epsilon.</summary>
    public float Eps;
    /// <summary>dt_proj weight [channels, R] and bias [channels].</summary>
    public void* DtProj, DtBias;
    /// <summary>A_log [channels, N] and the skip D [channels].</summary>
    public void* ALog, D;
    /// <summary>Output y [batch, channels], gated, ready for out_proj.</summary>
    public float* Y;
}

/// <summary>
/// Everything of one Mamba decode step between in_proj and out_proj, in one pass per row: conv window roll + dot +
/// SiLU, x_proj, the Δ/B/C RMSNorms, dt_proj + softplus, the recurrent update with A = −exp(A_log), the D skip and
/// the SiLU gate. As separate tensor operations this is some forty small calls per layer, each costing more in
/// dispatch and allocation than its arithmetic; here it is a few microseconds of arithmetic. The same formulas as
/// <c>MambaMixer</c>'s tensor path, which is the twin it is tested against.
/// </summary>
internal static unsafe class MambaStepCpu
{
    static int W { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector<float>.Count; }

    /// <summary>Runs the step for every row; rows run in parallel when there are several.</summary>
    public static void Step(MambaStepBuffers p, int threads)
    {
        int projected = p.DtRank + 2 * p.State;
        CpuKernelSupport.For(p.Batch, Math.Min(threads, p.Batch), b =>
        {
            // Per-row scratch: u (conv output), the x_proj output (Δ, B, C) and Δ after dt_proj; on the stack, so
            // a decode step allocates nothing here.
            int size = 2 * p.Channels + projected;
            if (size <= 1 << 15)
            {
                float* s = stackalloc float[size];
                Row(p, b, s, s + p.Channels, s + p.Channels + projected);
            }
            else
            {
                var heap = new float[size];
                fixed (float* s = heap) Row(p, b, s, s + p.Channels, s + p.Channels + projected);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Row(in MambaStepBuffers p, int b, float* u, float* ssm, float* delta)
    {
        int d = p.Channels, n = p.State, r = p.DtRank, k = p.ConvWidth;
        bool bf = p.Bf16Params;
        float* x = p.X + b * p.XStride, gate = p.Gate + b * p.XStride, y = p.Y + (long)b * d;

        // Causal conv: shift the window, append x, dot with the channel's kernel, SiLU.
        if (p.ConvState16 == null)
        {
            float* window = p.ConvState + (long)b * d * k;
            for (int c = 0; c < d; c++)
            {
                float* wnd = window + (long)c * k;
                long w = (long)c * k;
                float acc = p.ConvBias == null ? 0f : At(p.ConvBias, bf, c);
                for (int i = 0; i < k - 1; i++) { wnd[i] = wnd[i + 1]; acc += wnd[i] * At(p.ConvWeight, bf, w + i); }
                wnd[k - 1] = x[c];
                acc += x[c] * At(p.ConvWeight, bf, w + k - 1);
                u[c] = acc / (1f + MathF.Exp(-acc));
            }
        }
        else
        {
            // x came from a bfloat16 in_proj, so storing it as bfloat16 is exact.
            ushort* window = p.ConvState16 + (long)b * d * k;
            for (int c = 0; c < d; c++)
            {
                ushort* wnd = window + (long)c * k;
                long w = (long)c * k;
                float acc = p.ConvBias == null ? 0f : At(p.ConvBias, bf, c);
                for (int i = 0; i < k - 1; i++) { wnd[i] = wnd[i + 1]; acc += BFloat16.ToSingle(wnd[i]) * At(p.ConvWeight, bf, w + i); }
                wnd[k - 1] = BFloat16.FromSingle(x[c]);
                acc += x[c] * At(p.ConvWeight, bf, w + k - 1);
                u[c] = acc / (1f + MathF.Exp(-acc));
            }
        }

        // x_proj to (Δ, B, C), each RMS-normed.
        for (int j = 0; j < r + 2 * n; j++) ssm[j] = Dot(p.XProj, bf, (long)j * d, u, d);
        if (p.DtNorm != null)
        {
            RmsNorm(ssm, p.DtNorm, bf, r, p.Eps);
            RmsNorm(ssm + r, p.BNorm, bf, n, p.Eps);
            RmsNorm(ssm + r + n, p.CNorm, bf, n, p.Eps);
        }
        float* dt = ssm, B = ssm + r, C = ssm + r + n;

        // Δ = softplus(dt_proj(dt)), with libtorch's threshold: above 20 softplus(v) is v to float precision.
        for (int c = 0; c < d; c++)
        {
            float v = Dot(p.DtProj, bf, (long)c * r, dt, r) + At(p.DtBias, bf, c);
            delta[c] = v > 20f ? v : MathF.Log(1f + MathF.Exp(v));
        }

        // h ← exp(Δ A) h + Δ B u; y = C · h + D u, gated by SiLU(gate). A = −exp(A_log).
        int nv = n - n % W;
        float* state = p.SsmState + (long)b * d * n;
        float* aRow = stackalloc float[n];
        for (int c = 0; c < d; c++)
        {
            float* h = state + (long)c * n, aLog = aRow;
            for (int j2 = 0; j2 < n; j2++) aRow[j2] = At(p.ALog, bf, (long)c * n + j2);
            float dtc = delta[c], uc = u[c], dtu = dtc * uc;
            var acc = Vector<float>.Zero;
            int j = 0;
            for (; j < nv; j += W)
            {
                var a = -VectorMath.Exp(Vector.Load(aLog + j));
                var hv = VectorMath.Exp(a * dtc) * Vector.Load(h + j) + Vector.Load(B + j) * dtu;
                hv.Store(h + j);
                acc += Vector.Load(C + j) * hv;
            }
            float yc = Vector.Sum(acc);
            for (; j < n; j++)
            {
                h[j] = MathF.Exp(-MathF.Exp(aLog[j]) * dtc) * h[j] + B[j] * dtu;
                yc += C[j] * h[j];
            }
            yc += At(p.D, bf, c) * uc;
            float g = gate[c];
            y[c] = yc * (g / (1f + MathF.Exp(-g)));
        }
    }

    /// <summary>Element i of a float32 or bfloat16 parameter, as float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float At(void* t, bool bf16, long i) => bf16 ? BFloat16.ToSingle(((ushort*)t)[i]) : ((float*)t)[i];

    /// <summary>Row·x for a float32 or bfloat16 weight matrix, starting at element <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Dot(void* w, bool bf16, long offset, float* x, int count) =>
        bf16 ? DecodeLinearCpu.DotBF16((ushort*)w + offset, x, count) : DecodeLinearCpu.DotF32((float*)w + offset, x, count);

    static void RmsNorm(float* v, void* weight, bool bf16, int count, float eps)
    {
        float sq = 0f;
        for (int i = 0; i < count; i++) sq += v[i] * v[i];
        float scale = 1f / MathF.Sqrt(sq / count + eps);
        for (int i = 0; i < count; i++) v[i] = At(weight, bf16, i) * (v[i] * scale);
    }
}
