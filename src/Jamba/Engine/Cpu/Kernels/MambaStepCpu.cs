using System.Numerics;
using System.Runtime.CompilerServices;

namespace Jamba.Engine.Cpu.Kernels;

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
    /// <summary>x_proj weight-only quantized instead (then <see cref="XProj"/> is null); unset otherwise.</summary>
    public QuantizedMatrix XProjQuantized;
    /// <summary>Whether x_proj's input is quantized to int8 first (its linear quantizes activations; see <see cref="IntegerDot"/>).</summary>
    public bool XProjInt8Activations;
    /// <summary>RMSNorm weights of Δ [R], B [N] and C [N]; null when the model has no inner norms.</summary>
    public void* DtNorm, BNorm, CNorm;
    /// <summary>The norms' epsilon.</summary>
    public float Eps;
    /// <summary>dt_proj weight [channels, R] and bias [channels].</summary>
    public void* DtProj, DtBias;
    /// <summary>dt_proj weight-only quantized instead (then <see cref="DtProj"/> is null); unset otherwise.</summary>
    public QuantizedMatrix DtProjQuantized;
    /// <summary>Whether dt_proj's input is quantized to int8 first, as <see cref="XProjInt8Activations"/>.</summary>
    public bool DtProjInt8Activations;
    /// <summary>A_log [channels, N] and the skip D [channels].</summary>
    public void* ALog, D;
    /// <summary>
    /// A = −exp(A_log) [channels, N] as <see cref="MambaStepCpu.NegExp"/> computes it, or null to compute it from
    /// <see cref="ALog"/> in the step: the same bits either way.
    /// </summary>
    public float* A;
    /// <summary>Output y [batch, channels], gated, ready for out_proj.</summary>
    public float* Y;
}

/// <summary>
/// Everything of one Mamba decode step between in_proj and out_proj, in one pass per row: conv window roll + dot +
/// SiLU, x_proj, the Δ/B/C RMSNorms, dt_proj + softplus, the recurrent update with A = −exp(A_log), the D skip and
/// the SiLU gate. As separate tensor operations this is some forty small calls per layer, each costing more in
/// dispatch and allocation than its arithmetic; here it is a few microseconds of arithmetic. The same formulas as
/// <c>MambaMixer</c>'s forward, which is the twin it is tested against.
/// </summary>
internal static unsafe class MambaStepCpu
{
    static int W { [MethodImpl(CpuKernelSupport.Hot)] get => Vector<float>.Count; }

    /// <summary>
    /// Runs the step for every row. One row (batch-1 decoding) splits its channels across the threads for the conv
    /// and the recurrence; several rows run in parallel, one thread each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Step(MambaStepBuffers p, int threads)
    {
        int projected = p.DtRank + 2 * p.State;
        int rowThreads = p.Batch == 1 ? threads : 1;
        CpuKernelSupport.For(p.Batch, Math.Min(threads, p.Batch), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (b) =>
        {
            // Per-row scratch: u (conv output), the x_proj output (Δ, B, C) and Δ; on the stack, so a decode step
            // allocates nothing here.
            int size = 2 * p.Channels + projected;
            // The int8 forms of u and Δ's rank inputs, where x_proj or dt_proj take integer activations.
            int bytes = (int)((p.XProjInt8Activations ? Int8Activations.Bytes(1, p.Channels) : 0) + (p.DtProjInt8Activations ? Int8Activations.Bytes(1, p.DtRank) : 0));
            byte* q = stackalloc byte[bytes];
            if (size <= 1 << 15)
            {
                float* s = stackalloc float[size];
                Row(p, b, s, s + p.Channels, s + p.Channels + projected, q, rowThreads);
            }
            else
            {
                var heap = new float[size];
                fixed (float* s = heap) Row(p, b, s, s + p.Channels, s + p.Channels + projected, q, rowThreads);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Row(MambaStepBuffers p, int b, float* u, float* ssm, float* delta, byte* q, int threads)
    {
        int d = p.Channels, r = p.DtRank, n = p.State;
        // Channel blocks for the two channel-parallel phases; x_proj between them needs every channel's u.
        int blocks = threads > 1 && d >= 256 ? threads : 1;
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) => Conv(p, b, u, d * block / blocks, d * (block + 1) / blocks));
        bool bf = p.Bf16Params;
        // x_proj's rows split across the threads too: on one core its weight streams at half the machine's rate.
        int rows = r + 2 * n, rowBlocks = blocks > 1 ? Math.Min(blocks, rows) : 1;
        var uq = p.XProjInt8Activations ? Int8Activations.Quantize(u, 1, d, q).Row(0) : default;
        SpinPool.Shared.For(rowBlocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            if (p.XProjInt8Activations)
                for (int j = rows * block / rowBlocks; j < rows * (block + 1) / rowBlocks; j++) ssm[j] = IntegerDot.Dot(p.XProjQuantized, j, uq);
            else if (p.XProjQuantized.Weight != null)
                for (int j = rows * block / rowBlocks; j < rows * (block + 1) / rowBlocks; j++) ssm[j] = p.XProjQuantized.Dot(j, u);
            else
                for (int j = rows * block / rowBlocks; j < rows * (block + 1) / rowBlocks; j++) ssm[j] = Dot(p.XProj, bf, (long)j * d, u, d);
        });
        if (p.DtNorm != null)
        {
            RmsNorm(ssm, p.DtNorm, bf, r, p.Eps);
            RmsNorm(ssm + r, p.BNorm, bf, n, p.Eps);
            RmsNorm(ssm + r + n, p.CNorm, bf, n, p.Eps);
        }
        var dtq = p.DtProjInt8Activations ? Int8Activations.Quantize(ssm, 1, r, q + (p.XProjInt8Activations ? Int8Activations.Bytes(1, d) : 0)).Row(0) : default;
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) => Scan(p, b, u, ssm, dtq, delta, d * block / blocks, d * (block + 1) / blocks));
    }

    /// <summary>Causal conv of channels [c0, c1): shift the window, append x, dot with the channel's kernel, SiLU.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Conv(in MambaStepBuffers p, int b, float* u, int c0, int c1)
    {
        int d = p.Channels, k = p.ConvWidth;
        bool bf = p.Bf16Params;
        float* x = p.X + b * p.XStride;
        if (p.ConvState16 == null)
        {
            float* window = p.ConvState + (long)b * d * k;
            for (int c = c0; c < c1; c++)
            {
                float* wnd = window + (long)c * k;
                long w = (long)c * k;
                float acc = p.ConvBias == null ? 0f : At(p.ConvBias, bf, c);
                for (int i = 0; i < k - 1; i++) { wnd[i] = wnd[i + 1]; acc += wnd[i] * At(p.ConvWeight, bf, w + i); }
                wnd[k - 1] = x[c];
                u[c] = acc + x[c] * At(p.ConvWeight, bf, w + k - 1);
            }
        }
        else
        {
            // x came from a bfloat16 in_proj, so storing it as bfloat16 is exact.
            ushort* window = p.ConvState16 + (long)b * d * k;
            for (int c = c0; c < c1; c++)
            {
                ushort* wnd = window + (long)c * k;
                long w = (long)c * k;
                float acc = p.ConvBias == null ? 0f : At(p.ConvBias, bf, c);
                for (int i = 0; i < k - 1; i++) { wnd[i] = wnd[i + 1]; acc += BFloat16.ToSingle(wnd[i]) * At(p.ConvWeight, bf, w + i); }
                wnd[k - 1] = BFloat16.FromSingle(x[c]);
                u[c] = acc + x[c] * At(p.ConvWeight, bf, w + k - 1);
            }
        }
        VectorMath.Silu(u + c0, null, u + c0, c1 - c0);
    }

    /// <summary>
    /// Channels [c0, c1): Δ = softplus(dt_proj(dt)) (libtorch's threshold: above 20 it is the identity), then
    /// h ← exp(Δ A) h + Δ B u, y = (C · h + D u) · SiLU(gate), with A = −exp(A_log).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scan(in MambaStepBuffers p, int b, float* u, float* ssm, Int8Row dtq, float* delta, int c0, int c1)
    {
        int d = p.Channels, n = p.State, r = p.DtRank;
        bool bf = p.Bf16Params;
        float* dt = ssm, B = ssm + r, C = ssm + r + n;
        float* gate = p.Gate + b * p.XStride, y = p.Y + (long)b * d;
        if (p.DtProjInt8Activations)
        {
            // Two rows a call: a row of dt_proj is only dt_rank inputs long, so a call's fixed cost is much of its work.
            int c = c0;
            for (; c + 2 <= c1; c += 2)
            {
                var (d0, d1) = IntegerDot.DotPair(p.DtProjQuantized, c, dtq, p.DtProjQuantized, c + 1, dtq);
                delta[c] = d0 + At(p.DtBias, bf, c);
                delta[c + 1] = d1 + At(p.DtBias, bf, c + 1);
            }
            for (; c < c1; c++) delta[c] = IntegerDot.Dot(p.DtProjQuantized, c, dtq) + At(p.DtBias, bf, c);
        }
        else if (p.DtProjQuantized.Weight != null)
            for (int c = c0; c < c1; c++) delta[c] = p.DtProjQuantized.Dot(c, dt) + At(p.DtBias, bf, c);
        else
            for (int c = c0; c < c1; c++) delta[c] = Dot(p.DtProj, bf, (long)c * r, dt, r) + At(p.DtBias, bf, c);
        VectorMath.Softplus(delta + c0, c1 - c0);

        float* state = p.SsmState + (long)b * d * n;
        // A per channel: precomputed, or from A_log's row (widened when it is bfloat16) by NegExp's arithmetic.
        float* rowA = stackalloc float[p.A == null ? n : 0];
        int ch = c0;
        if (p.A != null)
            for (; ch + 2 <= c1; ch += 2)
            {
                float dt0 = delta[ch], u0 = u[ch], dt1 = delta[ch + 1], u1 = u[ch + 1];
                var (y0, y1) = MambaRecurrence.Step2(n, state + (long)ch * n, p.A + (long)ch * n, dt0, dt0 * u0,
                    state + (long)(ch + 1) * n, p.A + (long)(ch + 1) * n, dt1, dt1 * u1, B, C);
                y[ch] = y0 + At(p.D, bf, ch) * u0;
                y[ch + 1] = y1 + At(p.D, bf, ch + 1) * u1;
            }
        for (int c = ch; c < c1; c++)
        {
            float* h = state + (long)c * n;
            float* a = p.A != null ? p.A + (long)c * n : NegExp(p.ALog, bf, c, n, rowA);
            float dtc = delta[c], uc = u[c];
            y[c] = MambaRecurrence.Step(n, h, h, a, dtc, dtc * uc, B, C, null) + At(p.D, bf, c) * uc;
        }
        VectorMath.Silu(gate + c0, y + c0, y + c0, c1 - c0);
    }

    /// <summary>
    /// Row <paramref name="c"/> of A = −exp(A_log) into <paramref name="a"/> [n]; returns <paramref name="a"/>. A
    /// depends on the parameters alone, and its exponentials were half the recurrence's arithmetic, so a decode loop
    /// computes it once (see <see cref="MambaStepBuffers.A"/>); this is the one definition both forms use.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    internal static float* NegExp(void* aLog, bool bf16, long c, int n, float* a)
    {
        float* row = bf16 ? BFloat16.Widen((ushort*)aLog + c * n, a, n) : (float*)aLog + c * n;
        int i = 0;
        for (; i <= n - W; i += W) (-VectorMath.Exp(Vector.Load(row + i))).Store(a + i);
        for (; i < n; i++) a[i] = -MathF.Exp(row[i]);
        return a;
    }

    /// <summary>All of A = −exp(A_log) [channels, n] into <paramref name="a"/>, row by row as <see cref="NegExp"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void NegExpAll(void* aLog, bool bf16, int channels, int n, float* a)
    {
        for (int c = 0; c < channels; c++) NegExp(aLog, bf16, c, n, a + (long)c * n);
    }

    /// <summary>Element i of a float32 or bfloat16 parameter, as float32.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static float At(void* t, bool bf16, long i) => bf16 ? BFloat16.ToSingle(((ushort*)t)[i]) : ((float*)t)[i];

    /// <summary>Row·x for a float32 or bfloat16 weight matrix, starting at element <paramref name="offset"/>.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static float Dot(void* w, bool bf16, long offset, float* x, int count) =>
        bf16 ? DecodeLinearCpu.DotBF16((ushort*)w + offset, x, count) : DecodeLinearCpu.DotF32((float*)w + offset, x, count);

    [MethodImpl(CpuKernelSupport.Hot)]
    static void RmsNorm(float* v, void* weight, bool bf16, int count, float eps)
    {
        float sq = 0f;
        for (int i = 0; i < count; i++) sq += v[i] * v[i];
        float scale = 1f / MathF.Sqrt(sq / count + eps);
        for (int i = 0; i < count; i++) v[i] = At(weight, bf16, i) * (v[i] * scale);
    }
}
