using System.Numerics;
using System.Runtime.CompilerServices;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// Raw pointers and sizes for one selective-scan call. Every pointer addresses a contiguous float32 buffer in the
/// layout documented on <c>Jamba.Ops.SelectiveScan</c>; optional inputs are null.
/// </summary>
internal unsafe struct ScanBuffers
{
    public float* X, Delta, A, B, C, D, Z, H0;
    public int Batch, Channels, Length, State, Chunk;

    /// <summary>Number of checkpoint chunks along the length.</summary>
    public readonly int Chunks => (Length + Chunk - 1) / Chunk;
}

/// <summary>
/// The fused CPU selective scan. Each (batch, channel) row is an independent recurrence over time whose state
/// (a vector of length <c>State</c>) lives in registers or L1; rows are spread over threads. Nothing of size
/// batch × length × channels × state is ever allocated: the backward pass keeps one state per chunk of
/// <c>Chunk</c> steps and recomputes the states inside a chunk when it walks back through it.
/// </summary>
internal static unsafe class SelectiveScanCpu
{
    /// <summary>Steps between stored states in the training forward; bounds backward memory and recompute.</summary>
    public const int DefaultChunk = 64;

    // A property, not a cached field, so the JIT sees a constant (AggressiveOptimization methods skip static-readonly folding).
    static int W { [MethodImpl(CpuKernelSupport.Hot)] get => Vector<float>.Count; }

    /// <summary>
    /// Forward scan. Writes y [batch, channels, length] and the final state [batch, channels, state]; when
    /// <paramref name="checkpoints"/> is not null also the state entering each chunk,
    /// [batch, channels, chunks, state], for the backward pass.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(ScanBuffers p, float* y, float* finalState, float* checkpoints, int threads)
    {
        int groups = CpuKernelSupport.GroupCount(p.Batch, p.Channels, threads, (long)p.Length * p.State);
        int perGroup = (p.Channels + groups - 1) / groups;
        CpuKernelSupport.For(p.Batch * groups, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (item) =>
        {
            int b = item / groups, g = item % groups;
            int d0 = g * perGroup, d1 = Math.Min(p.Channels, d0 + perGroup);
            float* h = stackalloc float[p.State];
            for (int d = d0; d < d1; d++) ForwardRow(p, b, d, h, y, finalState, checkpoints);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ForwardRow(in ScanBuffers p, int b, int d, float* h, float* yOut, float* finalState, float* checkpoints)
    {
        int n = p.State, L = p.Length;
        long bd = (long)b * p.Channels + d;
        long row = bd * L;
        float* xr = p.X + row, dr = p.Delta + row, yr = yOut + row;
        float* zr = p.Z == null ? null : p.Z + row;
        float* bm = p.B + (long)b * L * n, cm = p.C + (long)b * L * n;
        float* a = p.A + (long)d * n;
        float dd = p.D[d];
        if (p.H0 != null) new Span<float>(p.H0 + bd * n, n).CopyTo(new Span<float>(h, n));
        else new Span<float>(h, n).Clear();
        float* ck = checkpoints == null ? null : checkpoints + bd * p.Chunks * n;

        for (int c = 0, t0 = 0; t0 < L; c++, t0 += p.Chunk)
        {
            if (ck != null) new Span<float>(h, n).CopyTo(new Span<float>(ck + (long)c * n, n));
            int t1 = Math.Min(L, t0 + p.Chunk);
            if (n == 2 * W) ForwardSpanTwoVectors(h, a, xr, dr, yr, bm, cm, t0, t1);
            else ForwardSpanGeneric(n, h, a, xr, dr, yr, bm, cm, t0, t1);
        }
        new Span<float>(h, n).CopyTo(new Span<float>(finalState + bd * n, n));
        SkipAndGate(yr, xr, zr, dd, L);
    }

    // State 16 with 8-wide vectors is Jamba's shape: keep the whole state and A in registers across steps.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ForwardSpanTwoVectors(float* h, float* a, float* xr, float* dr, float* yr,
        float* bm, float* cm, int t0, int t1)
    {
        int n = 2 * W;
        var a0 = Vector.Load(a); var a1 = Vector.Load(a + W);
        var h0 = Vector.Load(h); var h1 = Vector.Load(h + W);
        for (int t = t0; t < t1; t++)
        {
            float dt = dr[t], dtx = dt * xr[t];
            float* bt = bm + (long)t * n; float* ct = cm + (long)t * n;
            h0 = MambaRecurrence.Advance(h0, MambaRecurrence.Decay(a0, dt), Vector.Load(bt), dtx);
            h1 = MambaRecurrence.Advance(h1, MambaRecurrence.Decay(a1, dt), Vector.Load(bt + W), dtx);
            yr[t] = Vector.Sum(Vector.Load(ct) * h0 + Vector.Load(ct + W) * h1);
        }
        h0.Store(h); h1.Store(h + W);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ForwardSpanGeneric(int n, float* h, float* a, float* xr, float* dr, float* yr,
        float* bm, float* cm, int t0, int t1)
    {
        for (int t = t0; t < t1; t++)
        {
            float dt = dr[t];
            yr[t] = MambaRecurrence.Step(n, h, h, a, dt, dt * xr[t], bm + (long)t * n, cm + (long)t * n, null);
        }
    }

    /// <summary>
    /// y ← (y + D x) · SiLU(z) over a whole row. Done as a separate vectorised pass because a scalar exp per
    /// step inside the recurrence cost as much as the recurrence itself.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SkipAndGate(float* yr, float* xr, float* zr, float dd, int length)
    {
        int t = 0;
        var dv = new Vector<float>(dd);
        for (; t <= length - W; t += W)
        {
            var v = Vector.FusedMultiplyAdd(Vector.Load(xr + t), dv, Vector.Load(yr + t));
            if (zr != null) v *= VectorMath.Silu(Vector.Load(zr + t));
            v.Store(yr + t);
        }
        for (; t < length; t++)
        {
            float v = yr[t] + dd * xr[t];
            yr[t] = zr == null ? v : v * Silu(zr[t]);
        }
    }

    /// <summary>
    /// Gradient buffers for <see cref="Backward"/>. Per-row results (x, Δ, z, initial state) are written
    /// directly; A and D are written per batch ([batch, channels, state], [batch, channels]) and B, C per
    /// channel group ([groups, batch, length, state]) so that no two threads ever add into the same element;
    /// the caller sums those partials.
    /// </summary>
    public struct Grads
    {
        public float* GradY, GradFinalState;                 // inputs (GradFinalState may be null)
        public float* X, Delta, Z, InitialState;              // outputs, full size (Z only when z given)
        public float* APerBatch, DPerBatch, BPerGroup, CPerGroup;
    }

    /// <summary>Channel groups the backward pass uses for these sizes; the B/C partial buffers need this many slices.</summary>
    public static int BackwardGroups(in ScanBuffers p, int threads)
    {
        int groups = CpuKernelSupport.GroupCount(p.Batch, p.Channels, threads, (long)p.Length * p.State * 3);
        // Each group owns a full [batch, length, state] slice of the B and C gradients; keep the pair under
        // ~256 MiB (and inside one span) by giving up some load balancing on very long inputs.
        long slice = Math.Max(1L, (long)p.Batch * p.Length * p.State);
        return (int)Math.Max(1L, Math.Min(groups, (32L << 20) / slice));
    }

    /// <summary>Backward scan from the checkpoints written by <see cref="Forward"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(ScanBuffers p, float* checkpoints, Grads g, int threads)
    {
        int groups = BackwardGroups(p, threads);
        int perGroup = (p.Channels + groups - 1) / groups;
        int n = p.State, k = p.Chunk;
        long bcSlice = (long)p.Length * n;
        new Span<float>(g.BPerGroup, checked((int)(groups * p.Batch * bcSlice))).Clear();
        new Span<float>(g.CPerGroup, checked((int)(groups * p.Batch * bcSlice))).Clear();
        CpuKernelSupport.For(p.Batch * groups, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (item) =>
        {
            int b = item / groups, grp = item % groups;
            int d0 = grp * perGroup, d1 = Math.Min(p.Channels, d0 + perGroup);
            var scratch = new float[(2 * k + 3) * n + k];
            fixed (float* s = scratch)
            {
                float* gB = g.BPerGroup + ((long)grp * p.Batch + b) * bcSlice;
                float* gC = g.CPerGroup + ((long)grp * p.Batch + b) * bcSlice;
                for (int d = d0; d < d1; d++) BackwardRow(p, checkpoints, g, b, d, gB, gC, s);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BackwardRow(in ScanBuffers p, float* checkpoints, in Grads g, int b, int d, float* gB, float* gC, float* scratch)
    {
        int n = p.State, L = p.Length, K = p.Chunk, nv = n - n % W;
        float* hs = scratch;                    // (K + 1) × n: states entering and leaving each step of the chunk
        float* decay = hs + (K + 1) * n;        // K × n: exp(Δ A) of each step, reused by the reverse walk
        float* gh = decay + K * n;              // n: dLoss/dstate flowing backwards
        float* gA = gh + n;                     // n: this row's contribution to dLoss/dA
        float* gyc = gA + n;                    // K: dLoss/d(ungated y) of each step of the chunk
        long bd = (long)b * p.Channels + d, row = bd * L;
        float* xr = p.X + row, dr = p.Delta + row, zr = p.Z == null ? null : p.Z + row, gyr = g.GradY + row;
        float* gxr = g.X + row, gdr = g.Delta + row, gzr = g.Z == null ? null : g.Z + row;
        float* bm = p.B + (long)b * L * n, cm = p.C + (long)b * L * n;
        float* a = p.A + (long)d * n;
        float dd = p.D[d], gD = 0f;
        if (g.GradFinalState != null) new Span<float>(g.GradFinalState + bd * n, n).CopyTo(new Span<float>(gh, n));
        else new Span<float>(gh, n).Clear();
        new Span<float>(gA, n).Clear();
        float* ck = checkpoints + bd * p.Chunks * n;

        for (int c = p.Chunks - 1; c >= 0; c--)
        {
            int t0 = c * K, len = Math.Min(K, L - t0);
            new Span<float>(ck + (long)c * n, n).CopyTo(new Span<float>(hs, n));
            for (int i = 0; i < len; i++)
            {
                int t = t0 + i;
                float dt = dr[t];
                float* hp = hs + i * n;
                gyc[i] = MambaRecurrence.Step(n, hp, hp + n, a, dt, dt * xr[t], bm + (long)t * n, cm + (long)t * n, decay + i * n);
            }
            GateBackward(gyc, xr + t0, zr == null ? null : zr + t0, gyr + t0, gzr == null ? null : gzr + t0, dd, len);
            for (int i = len - 1; i >= 0; i--)
            {
                int t = t0 + i;
                float dt = dr[t], xt = xr[t], dtx = dt * xt, gy = gyc[i];
                float* bt = bm + (long)t * n, ct = cm + (long)t * n, hp = hs + i * n, hn = hp + n, da = decay + i * n;
                float* gbt = gB + (long)t * n, gct = gC + (long)t * n;
                gD += gy * xt;
                var sumDecay = Vector<float>.Zero; var sumB = Vector<float>.Zero;
                int j = 0;
                for (; j < nv; j += W)
                {
                    var ghv = Vector.Load(gh + j) + Vector.Load(ct + j) * gy;
                    (Vector.Load(gct + j) + Vector.Load(hn + j) * gy).Store(gct + j);
                    var e = Vector.Load(da + j);
                    var gLog = ghv * Vector.Load(hp + j) * e;       // dLoss / d(Δ A) for this step
                    sumDecay += gLog * Vector.Load(a + j);
                    (Vector.Load(gA + j) + gLog * dt).Store(gA + j);
                    (Vector.Load(gbt + j) + ghv * dtx).Store(gbt + j);
                    sumB += ghv * Vector.Load(bt + j);
                    (ghv * e).Store(gh + j);
                }
                float sDecay = Vector.Sum(sumDecay), sB = Vector.Sum(sumB);
                for (; j < n; j++)
                {
                    float ghs = gh[j] + ct[j] * gy;
                    gct[j] += hn[j] * gy;
                    float gLog = ghs * hp[j] * da[j];
                    sDecay += gLog * a[j];
                    gA[j] += gLog * dt;
                    gbt[j] += ghs * dtx;
                    sB += ghs * bt[j];
                    gh[j] = ghs * da[j];
                }
                gdr[t] = sDecay + xt * sB;
                gxr[t] = gy * dd + dt * sB;
            }
        }
        new Span<float>(gh, n).CopyTo(new Span<float>(g.InitialState + bd * n, n));
        new Span<float>(gA, n).CopyTo(new Span<float>(g.APerBatch + bd * n, n));
        g.DPerBatch[bd] = gD;
    }

    /// <summary>
    /// Turns the chunk's C·state values in <paramref name="buf"/> into dLoss/d(ungated y) and writes dLoss/dz.
    /// The forward did not keep the ungated output, so the recompute rebuilt its C·state part; this adds D x and
    /// differentiates the SiLU gate for the whole chunk at once, out of the sequential loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void GateBackward(float* buf, float* xr, float* zr, float* gyr, float* gzr, float dd, int len)
    {
        if (zr == null) { new Span<float>(gyr, len).CopyTo(new Span<float>(buf, len)); return; }
        var one = Vector<float>.One; var dv = new Vector<float>(dd);
        int i = 0;
        for (; i <= len - W; i += W)
        {
            var zv = Vector.Load(zr + i); var gv = Vector.Load(gyr + i);
            var sg = one / (one + VectorMath.Exp(-zv));
            var ypre = Vector.FusedMultiplyAdd(Vector.Load(xr + i), dv, Vector.Load(buf + i));
            (gv * ypre * sg * (one + zv * (one - sg))).Store(gzr + i);
            (gv * zv * sg).Store(buf + i);
        }
        for (; i < len; i++)
        {
            float zt = zr[i], sg = 1f / (1f + MathF.Exp(-zt)), ypre = buf[i] + dd * xr[i];
            gzr[i] = gyr[i] * ypre * sg * (1f + zt * (1f - sg));
            buf[i] = gyr[i] * zt * sg;
        }
    }

    /// <summary>
    /// One decode step for every (batch, channel): state ← exp(Δ A) state + Δ B x, y = C · state + D x, gated.
    /// x, Δ, z, y: [batch, channels]; B, C: [batch, state]; state updated in place.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Step(float* state, float* x, float* delta, float* A, float* B, float* C, float* D, float* z,
        float* y, int batch, int channels, int n, int threads)
    {
        // A decode step is a few microseconds of work; only very wide models are worth waking other threads for.
        int groups = CpuKernelSupport.GroupCount(batch, channels, threads, n / 4 + 1);
        int perGroup = (channels + groups - 1) / groups;
        CpuKernelSupport.For(batch * groups, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (item) =>
        {
            int b = item / groups, g = item % groups;
            int d1 = Math.Min(channels, (g + 1) * perGroup);
            float* bt = B + (long)b * n, ct = C + (long)b * n;
            for (int d = g * perGroup; d < d1; d++)
            {
                long bd = (long)b * channels + d;
                float* h = state + bd * n;
                float dt = delta[bd], xt = x[bd];
                float yt = MambaRecurrence.Step(n, h, h, A + (long)d * n, dt, dt * xt, bt, ct, null);
                yt += D[d] * xt;
                if (z != null) yt *= Silu(z[bd]);
                y[bd] = yt;
            }
        });
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    static float Silu(float v) => v / (1f + MathF.Exp(-v));
}
