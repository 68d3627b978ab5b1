using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>Where one decode-attention call reads and writes: raw pointers and sizes (see <see cref="DecodeAttentionCpu"/>).</summary>
internal unsafe struct DecodeAttentionBuffers
{
    public int Batch, Heads, KvHeads, HeadDim, Capacity, Length;
    /// <summary>Queries [batch, heads, head_dim], float32.</summary>
    public float* Q;
    /// <summary>Cache buffers [batch, kv_heads, capacity, head_dim]: float32 in K/V, or bfloat16 bits in K16/V16.</summary>
    public float* K, V;
    public ushort* K16, V16;
    /// <summary>Additive bias [batch, length] in float32, or null.</summary>
    public float* Bias;
    /// <summary>Output [batch, heads, head_dim]: float32 into O, or bfloat16 bits into O16.</summary>
    public float* O;
    public ushort* O16;
    public float Scale;
}

/// <summary>
/// Attention of one new token over the cached keys and values, the decode step's share of attention:
/// softmax(q·Kᵀ·scale + bias)·V per query head, query head h reading KV head h / (heads / kv_heads) as the
/// reference's repeat_kv orders them. It is a pass over the cache, so the work is split the way flash-decoding
/// splits it: each (row, KV head) is cut into runs of positions, each run keeps its own running maximum, sum and
/// weighted values for every query head of the group, and the runs are merged at the end. The cache is read once
/// per group (not once per query head), in float32 or bfloat16, and nothing of size heads × length is allocated.
/// </summary>
internal static unsafe class DecodeAttentionCpu
{
    /// <summary>Longest run of positions one work item takes; its scores live on the worker's stack.</summary>
    const int MaxRun = 512;
    /// <summary>Shortest run worth a work item of its own.</summary>
    const int MinRun = 64;

    static int W { [MethodImpl(CpuKernelSupport.Hot)] get => Vector<float>.Count; }

    /// <summary>Runs a group's positions are cut into when the cache is long enough (see <see cref="RunLength"/>).</summary>
    const int RunsPerGroup = 4;

    /// <summary>
    /// Positions per run for a cache of <paramref name="length"/>: a quarter of it, none shorter than MinRun or longer
    /// than MaxRun. It depends on the length alone, never on the thread count: the runs are merged in a fixed order,
    /// so a result has the same bits on any number of threads (as the products', MLPs' and Mamba step's do).
    /// </summary>
    internal static int RunLength(int length) =>
        Math.Clamp((length + RunsPerGroup - 1) / RunsPerGroup, Math.Min(length, MinRun), MaxRun);

    /// <summary>Runs the attention described by <paramref name="a"/> on <paramref name="threads"/> threads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(DecodeAttentionBuffers a, int threads)
    {
        int groups = a.Batch * a.KvHeads, rep = a.Heads / a.KvHeads, d = a.HeadDim;
        int run = RunLength(a.Length);
        int runs = (a.Length + run - 1) / run;
        // Per (group, run, query head): max, sum, then head_dim weighted values.
        int stride = d + 2;
        int size = groups * runs * rep * stride;
        // The workers write into the caller's frame, which outlives them: For returns only when every item is done.
        float[]? heap = size > 1 << 14 ? new float[size] : null;
        float* stack = stackalloc float[heap is null ? size : 0];
        fixed (float* pinned = heap)
        {
            float* part = heap is null ? stack : pinned;
            float* p = part;
            SpinPool.Shared.For(groups * runs, groups * runs * (long)run * d < 1 << 14 ? 1 : threads,
                [MethodImpl(MethodImplOptions.AggressiveOptimization)] (item) =>
                {
                    int group = item / runs, r = item % runs;
                    int s0 = r * run, s1 = Math.Min(a.Length, s0 + run);
                    Run(a, group, s0, s1, p + (long)item * rep * stride);
                });
            for (int group = 0; group < groups; group++)
                Merge(a, group, runs, p + (long)group * runs * rep * stride);
        }
    }

    /// <summary>Positions widened and scored together: their rows stay in L1 while every query head of the group reads them.</summary>
    const int Block = 64;

    /// <summary>One run of positions [s0, s1) of one group: every query head's max, sum and weighted values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run(DecodeAttentionBuffers a, int group, int s0, int s1, float* result)
    {
        int rep = a.Heads / a.KvHeads, d = a.HeadDim, n = s1 - s0, b = group / a.KvHeads, stride = d + 2;
        long cacheBase = (long)group * a.Capacity * d + (long)s0 * d;
        float* q = a.Q + (long)group * rep * d;                  // the group's query heads are adjacent
        float* scores = stackalloc float[rep * n];
        float* rows = stackalloc float[a.K16 == null ? 0 : Block * d];
        for (int p0 = 0; p0 < n; p0 += Block)
        {
            int m = Math.Min(Block, n - p0);
            float* k = a.K16 == null ? a.K + cacheBase + (long)p0 * d : BFloat16.Widen(a.K16 + cacheBase + (long)p0 * d, rows, m * d);
            for (int h = 0; h < rep; h++) Scores(q + h * d, k, m, d, scores + h * n + p0);
        }
        for (int h = 0; h < rep; h++)
        {
            float* sc = scores + h * n;
            float max = ScaleAdd(sc, a.Scale, a.Bias == null ? null : a.Bias + (long)b * a.Length + s0, n);
            float sum = ExpShifted(sc, n, max);
            float* out_ = result + h * stride;
            out_[0] = max; out_[1] = sum;
            new Span<float>(out_ + 2, d).Clear();
        }
        for (int p0 = 0; p0 < n; p0 += Block)
        {
            int m = Math.Min(Block, n - p0);
            float* v = a.V16 == null ? a.V + cacheBase + (long)p0 * d : BFloat16.Widen(a.V16 + cacheBase + (long)p0 * d, rows, m * d);
            for (int h = 0; h < rep; h++) Accumulate(scores + h * n + p0, v, m, d, result + h * stride + 2);
        }
    }

    /// <summary>scores[s] = q · k_s for m rows of k [m, d]; eight rows at a time, reduced together, when d allows.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static void Scores(float* q, float* k, int m, int d, float* scores)
    {
        int s = 0;
        if (Avx.IsSupported && d % 8 == 0)
            for (; s <= m - 8; s += 8)
            {
                // Eight independent dot products hide the FMA latency that one chain would expose.
                float* k0 = k + (long)s * d;
                var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0; var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
                for (int i = 0; i < d; i += 8)
                {
                    var qi = Vector256.Load(q + i);
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Load(k0 + i), qi, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Load(k0 + d + i), qi, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Load(k0 + 2 * d + i), qi, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Load(k0 + 3 * d + i), qi, a3);
                    a4 = Vector256.FusedMultiplyAdd(Vector256.Load(k0 + 4 * d + i), qi, a4);
                    a5 = Vector256.FusedMultiplyAdd(Vector256.Load(k0 + 5 * d + i), qi, a5);
                    a6 = Vector256.FusedMultiplyAdd(Vector256.Load(k0 + 6 * d + i), qi, a6);
                    a7 = Vector256.FusedMultiplyAdd(Vector256.Load(k0 + 7 * d + i), qi, a7);
                }
                // Pairwise horizontal adds leave [s0..s3 | s0..s3 high halves], the lane swap folds them.
                var h0 = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
                var h1 = Avx.HorizontalAdd(Avx.HorizontalAdd(a4, a5), Avx.HorizontalAdd(a6, a7));
                var sum = Avx.Permute2x128(h0, h1, 0x20) + Avx.Permute2x128(h0, h1, 0x31);
                sum.Store(scores + s);
            }
        for (; s < m; s++) scores[s] = Dot(q, k + (long)s * d, d);
    }

    /// <summary>
    /// out[0..d) += Σ_s p[s] · v_s over m rows of v [m, d], 64 columns at a time in registers where d allows (eight
    /// independent FMA chains: with four, each position waited on the FMA latency), else 32. Each column is summed
    /// over s in order either way.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static void Accumulate(float* p, float* v, int m, int d, float* out_)
    {
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; c <= d - 64; c += 64)
            {
                var o0 = Vector256.Load(out_ + c); var o1 = Vector256.Load(out_ + c + 8);
                var o2 = Vector256.Load(out_ + c + 16); var o3 = Vector256.Load(out_ + c + 24);
                var o4 = Vector256.Load(out_ + c + 32); var o5 = Vector256.Load(out_ + c + 40);
                var o6 = Vector256.Load(out_ + c + 48); var o7 = Vector256.Load(out_ + c + 56);
                for (int s = 0; s < m; s++)
                {
                    var w = Vector256.Create(p[s]);
                    float* vs = v + (long)s * d + c;
                    o0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs), o0);
                    o1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs + 8), o1);
                    o2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs + 16), o2);
                    o3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs + 24), o3);
                    o4 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs + 32), o4);
                    o5 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs + 40), o5);
                    o6 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs + 48), o6);
                    o7 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs + 56), o7);
                }
                o0.Store(out_ + c); o1.Store(out_ + c + 8); o2.Store(out_ + c + 16); o3.Store(out_ + c + 24);
                o4.Store(out_ + c + 32); o5.Store(out_ + c + 40); o6.Store(out_ + c + 48); o7.Store(out_ + c + 56);
            }
        if (Vector256.IsHardwareAccelerated)
            for (; c <= d - 32; c += 32)
            {
                var o0 = Vector256.Load(out_ + c); var o1 = Vector256.Load(out_ + c + 8);
                var o2 = Vector256.Load(out_ + c + 16); var o3 = Vector256.Load(out_ + c + 24);
                for (int s = 0; s < m; s++)
                {
                    var w = Vector256.Create(p[s]);
                    float* vs = v + (long)s * d + c;
                    o0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs), o0);
                    o1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs + 8), o1);
                    o2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs + 16), o2);
                    o3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(vs + 24), o3);
                }
                o0.Store(out_ + c); o1.Store(out_ + c + 8); o2.Store(out_ + c + 16); o3.Store(out_ + c + 24);
            }
        if (c < d)
            for (int s = 0; s < m; s++) Axpy(p[s], v + (long)s * d + c, out_ + c, d - c);
    }

    /// <summary>x ← x · scale + bias (bias may be null) over n elements; returns the largest result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float ScaleAdd(float* x, float scale, float* bias, int n)
    {
        var sc = new Vector<float>(scale);
        var top = new Vector<float>(float.MinValue);
        int i = 0;
        for (; i <= n - W; i += W)
        {
            var y = Vector.Load(x + i) * sc;
            if (bias != null) y += Vector.Load(bias + i);
            y.Store(x + i);
            top = Vector.Max(top, y);
        }
        float max = float.MinValue;
        for (int j = 0; j < W; j++) max = MathF.Max(max, top[j]);
        for (; i < n; i++)
        {
            x[i] = x[i] * scale + (bias == null ? 0f : bias[i]);
            max = MathF.Max(max, x[i]);
        }
        return max;
    }

    /// <summary>Combines a group's runs: each run's values rescaled by e^(its max − the overall max).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Merge(DecodeAttentionBuffers a, int group, int runs, float* part)
    {
        int rep = a.Heads / a.KvHeads, d = a.HeadDim, stride = d + 2;
        float* acc = stackalloc float[d];
        for (int h = 0; h < rep; h++)
        {
            float max = float.MinValue;
            for (int r = 0; r < runs; r++) max = MathF.Max(max, part[(r * rep + h) * stride]);
            float sum = 0f;
            new Span<float>(acc, d).Clear();
            for (int r = 0; r < runs; r++)
            {
                float* p = part + (r * rep + h) * stride;
                float w = MathF.Exp(p[0] - max);
                sum += w * p[1];
                Axpy(w, p + 2, acc, d);
            }
            long o = ((long)group * rep + h) * d;
            float inv = 1f / sum;
            if (a.O16 == null) for (int i = 0; i < d; i++) a.O[o + i] = acc[i] * inv;
            else for (int i = 0; i < d; i++) a.O16[o + i] = BFloat16.FromSingle(acc[i] * inv);
        }
    }

    /// <summary>x ← e^(x − max) in place; returns the sum.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static float ExpShifted(float* x, int n, float max)
    {
        var m = new Vector<float>(max);
        var acc = Vector<float>.Zero;
        int i = 0;
        for (; i <= n - W; i += W)
        {
            var e = VectorMath.Exp(Vector.Load(x + i) - m);
            e.Store(x + i);
            acc += e;
        }
        float sum = Vector.Sum(acc);
        for (; i < n; i++) { x[i] = MathF.Exp(x[i] - max); sum += x[i]; }
        return sum;
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    static float Dot(float* a, float* b, int n)
    {
        var acc = Vector<float>.Zero;
        int i = 0;
        for (; i <= n - W; i += W) acc = Vector.FusedMultiplyAdd(Vector.Load(a + i), Vector.Load(b + i), acc);
        float sum = Vector.Sum(acc);
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>y += alpha · x.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static void Axpy(float alpha, float* x, float* y, int n)
    {
        var al = new Vector<float>(alpha);
        int i = 0;
        for (; i <= n - W; i += W) Vector.FusedMultiplyAdd(al, Vector.Load(x + i), Vector.Load(y + i)).Store(y + i);
        for (; i < n; i++) y[i] += alpha * x[i];
    }
}
