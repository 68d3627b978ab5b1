using System.Runtime.CompilerServices;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// <see cref="SwiGluCpu"/> with weight-only quantized gate, up and down projections (<see cref="QuantizedMatrix"/>):
/// the same two passes over the weights, the same split across the cores, h in float32 between them; only the row
/// dots differ (dequantize-and-dot fused at one row, dequantized once into L1 and shared at several).
/// </summary>
internal static unsafe class QuantizedSwiGluCpu
{
    /// <summary>
    /// x32 [rows, hidden]; h32 scratch [rows, inter]; y32 [rows, hidden], overwritten (<paramref name="accumulate"/>
    /// false) or added to, each row's result multiplied by scale[r] (null: 1).
    /// </summary>
    public static void Forward(float* x32, QuantizedMatrix gate, QuantizedMatrix up, QuantizedMatrix down, float* h32, float* y32, float* scale,
        bool accumulate, int rows, int hidden, int inter, int threads) =>
        Forward(x32, default, gate, up, down, h32, null, y32, scale, accumulate, rows, hidden, inter, threads);

    /// <summary>
    /// As above, with integer activations where the projections take them (<see cref="IntegerDot"/>): gate and up read
    /// <paramref name="xq"/>, x32 quantized once for both, unless it has no rows; down reads h quantized between the
    /// passes into <paramref name="hBuffer"/> (<see cref="Int8Activations.Bytes"/> of [rows, inter]) unless that is null.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* x32, Int8Activations xq, QuantizedMatrix gate, QuantizedMatrix up, QuantizedMatrix down, float* h32, byte* hBuffer,
        float* y32, float* scale, bool accumulate, int rows, int hidden, int inter, int threads)
    {
        Check(xq, rows, gate, up, down, hidden, hBuffer != null);
        int blocks = DecodeLinearCpu.BlockCount(3L * hidden * inter, Math.Min(hidden, inter), threads);
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            var (i0, i1) = DecodeLinearCpu.Range(block, blocks, inter);
            if (xq.Rows > 0) GateUp(gate, up, xq, h32, inter, (int)i0, (int)i1);
            else GateUp(gate, up, x32, rows, hidden, h32, inter, (int)i0, (int)i1);
        });
        if (hBuffer != null)
        {
            var h = Int8Activations.Quantize(h32, rows, inter, hBuffer);
            SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
            {
                var (o0, o1) = DecodeLinearCpu.Range(block, blocks, hidden);
                var kernel = new IntegerDown { W = down, H = h, Y = y32, Hidden = hidden, Scale = scale, Accumulate = accumulate };
                DecodeLinearCpu.ForHalves(o0, o1, ref kernel);
            });
            return;
        }
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            var (o0, o1) = DecodeLinearCpu.Range(block, blocks, hidden);
            float* sums = stackalloc float[rows];
            int size = rows > 1 ? inter : 0;
            float[]? heap = size > 1 << 14 ? new float[size] : null;
            float* stack = stackalloc float[heap is null ? size : 0];
            fixed (float* pinned = heap)
            {
                var kernel = new Down
                {
                    W = down, H = h32, Rows = rows, Sums = sums, Y = y32, Hidden = hidden, Scale = scale, Accumulate = accumulate,
                    Buffer = heap is null ? stack : pinned,
                };
                DecodeLinearCpu.ForHalves(o0, o1, ref kernel);
            }
        });
    }

    /// <summary>The down projection's output o for every row, scaled and stored or added.</summary>
    struct Down : DecodeLinearCpu.IRowKernel
    {
        public QuantizedMatrix W;
        public bool Accumulate;
        public float* H, Sums, Y, Scale, Buffer;
        public int Rows, Hidden;

        public readonly bool Pairs => Rows == 1;

        [MethodImpl(CpuKernelSupport.Hot)]
        public void One(long o)
        {
            if (Rows == 1) Sums[0] = W.Dot(o, H);
            else W.DotRows(o, H, Rows, Sums, 1, Buffer);
            for (int r = 0; r < Rows; r++) Store(r, o, Sums[r]);
        }

        [MethodImpl(CpuKernelSupport.Hot)]
        public void Pair(long a, long b)
        {
            var (sa, sb) = QuantizedMatrix.DotPair(W, a, H, W, b, H);
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
    /// One row through k experts at once, y32 [hidden] += Σ_e scale[e] · expert_e(x32), as
    /// <see cref="SwiGluCpu.ForwardExperts"/>: gate/up/down hold the experts' matrices; h32 is scratch [k, inter].
    /// </summary>
    public static void ForwardExperts(float* x32, QuantizedMatrix* gate, QuantizedMatrix* up, QuantizedMatrix* down, float* scale, int k, float* h32,
        float* y32, int hidden, int inter, int threads) =>
        ForwardExperts(x32, default, gate, up, down, scale, k, h32, null, y32, hidden, inter, threads);

    /// <summary>
    /// As above, with integer activations where the experts take them: gate and up read <paramref name="xq"/> (the token
    /// quantized once for all k experts) unless it has no rows; down reads h [k, inter] quantized into
    /// <paramref name="hBuffer"/> (<see cref="Int8Activations.Bytes"/> of [k, inter]) unless that is null.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardExperts(float* x32, Int8Activations xq, QuantizedMatrix* gate, QuantizedMatrix* up, QuantizedMatrix* down, float* scale, int k,
        float* h32, byte* hBuffer, float* y32, int hidden, int inter, int threads)
    {
        for (int e = 0; e < k; e++) Check(xq, 1, gate[e], up[e], down[e], hidden, hBuffer != null);
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
                if (xq.Rows > 0) GateUp(gate[e], up[e], xq, h32 + (long)e * inter, inter, (int)(j - (long)e * inter), (int)(end - (long)e * inter));
                else GateUp(gate[e], up[e], x32, 1, hidden, h32 + (long)e * inter, inter, (int)(j - (long)e * inter), (int)(end - (long)e * inter));
                j = end;
            }
        });
        var h = hBuffer != null ? Int8Activations.Quantize(h32, k, inter, hBuffer) : default;
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            var (o0, o1) = DecodeLinearCpu.Range(block, blocks, hidden);
            for (long o = o0; o < o1; o++)
            {
                // Two experts' rows in one pass where there are two; each term is still added in the experts' order.
                int e = 0;
                if (hBuffer != null)
                {
                    // Two experts' rows in one pass, each term added in the experts' order as below.
                    for (; e + 2 <= k; e += 2)
                    {
                        var (s0, s1) = IntegerDot.DotPair(down[e], o, h.Row(e), down[e + 1], o, h.Row(e + 1));
                        y32[o] += s0 * scale[e];
                        y32[o] += s1 * scale[e + 1];
                    }
                    for (; e < k; e++) y32[o] += IntegerDot.Dot(down[e], o, h.Row(e)) * scale[e];
                    continue;
                }
                for (; e + 2 <= k; e += 2)
                {
                    var (s0, s1) = QuantizedMatrix.DotPair(down[e], o, h32 + (long)e * inter, down[e + 1], o, h32 + (long)(e + 1) * inter);
                    y32[o] += s0 * scale[e];
                    y32[o] += s1 * scale[e + 1];
                }
                for (; e < k; e++) y32[o] += down[e].Dot(o, h32 + (long)e * inter) * scale[e];
            }
        });
    }

    /// <summary>
    /// h[r, i] = SiLU(x_r · gate_i) · (x_r · up_i) for rows x [rows, hidden] and units [i0, i1), h's rows
    /// <paramref name="hStride"/> apart (see <see cref="SwiGluCpu"/>'s GateUp).
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static void GateUp(in QuantizedMatrix gate, in QuantizedMatrix up, float* x, int rows, int hidden, float* h, long hStride, int i0, int i1)
    {
        int chunk = Math.Max(System.Numerics.Vector<float>.Count, Chunk / rows);
        float* u = stackalloc float[rows * chunk];
        int size = rows > 1 ? hidden : 0;
        float[]? heap = size > 1 << 14 ? new float[size] : null;
        float* stack = stackalloc float[heap is null ? size : 0];
        fixed (float* pinned = heap)
        {
            float* buffer = heap is null ? stack : pinned;
            for (int c0 = i0; c0 < i1; c0 += chunk)
            {
                int c1 = Math.Min(i1, c0 + chunk);
                for (int i = c0; i < c1; i++)
                {
                    if (rows == 1)
                    {
                        (h[i], u[i - c0]) = QuantizedMatrix.DotPair(gate, i, x, up, i, x);
                        continue;
                    }
                    gate.DotRows(i, x, rows, h + i, hStride, buffer);
                    up.DotRows(i, x, rows, u + i - c0, chunk, buffer);
                }
                for (int r = 0; r < rows; r++) VectorMath.Silu(h + r * hStride + c0, u + r * chunk, h + r * hStride + c0, c1 - c0);
            }
        }
    }

    /// <summary>The shapes and layouts integer activations need, else a clear error.</summary>
    static void Check(Int8Activations xq, int rows, in QuantizedMatrix gate, in QuantizedMatrix up, in QuantizedMatrix down, int hidden, bool intDown)
    {
        if (xq.Rows > 0 && (xq.Rows != rows || xq.Length != hidden || !IntegerDot.Supports(gate) || !IntegerDot.Supports(up)))
            throw new ArgumentException($"int8 inputs [{xq.Rows}, {xq.Length}] do not fit {rows} rows of gate/up projections of in_features {gate.InFeatures}, group sizes {gate.GroupSize}/{up.GroupSize}", nameof(xq));
        if (intDown && !IntegerDot.Supports(down))
            throw new ArgumentException($"integer activations do not take a down projection of in_features {down.InFeatures}, group size {down.GroupSize}", nameof(down));
    }

    /// <summary>h[r, i] = SiLU(x_r · gate_i) · (x_r · up_i) for units [i0, i1) with int8 x, h's rows <paramref name="hStride"/> apart.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static void GateUp(in QuantizedMatrix gate, in QuantizedMatrix up, Int8Activations x, float* h, long hStride, int i0, int i1)
    {
        int rows = x.Rows;
        int chunk = Math.Max(System.Numerics.Vector<float>.Count, Chunk / rows);
        float* u = stackalloc float[rows * chunk];
        for (int c0 = i0; c0 < i1; c0 += chunk)
        {
            int c1 = Math.Min(i1, c0 + chunk);
            for (int i = c0; i < c1; i++)
                for (int r = 0; r < rows; r++)
                {
                    var row = x.Row(r);
                    (h[r * hStride + i], u[r * chunk + i - c0]) = IntegerDot.DotPair(gate, i, row, up, i, row);
                }
            for (int r = 0; r < rows; r++) VectorMath.Silu(h + r * hStride + c0, u + r * chunk, h + r * hStride + c0, c1 - c0);
        }
    }

    /// <summary>The down projection's output o for every int8 row of h, scaled and stored or added.</summary>
    struct IntegerDown : DecodeLinearCpu.IRowKernel
    {
        public QuantizedMatrix W;
        public Int8Activations H;
        public bool Accumulate;
        public float* Y, Scale;
        public int Hidden;

        public readonly bool Pairs => true;

        [MethodImpl(CpuKernelSupport.Hot)]
        public void One(long o)
        {
            for (int r = 0; r < H.Rows; r++) Store(r, o, IntegerDot.Dot(W, o, H.Row(r)));
        }

        [MethodImpl(CpuKernelSupport.Hot)]
        public void Pair(long a, long b)
        {
            for (int r = 0; r < H.Rows; r++)
            {
                var row = H.Row(r);
                var (sa, sb) = IntegerDot.DotPair(W, a, row, W, b, row);
                Store(r, a, sa);
                Store(r, b, sb);
            }
        }

        [MethodImpl(CpuKernelSupport.Hot)]
        void Store(int r, long o, float sum)
        {
            float v = sum * (Scale == null ? 1f : Scale[r]);
            float* yo = Y + (long)r * Hidden + o;
            *yo = Accumulate ? *yo + v : v;
        }
    }

    /// <summary>Units per pass of GateUp, all rows together: their up-projection sums stay on the stack.</summary>
    const int Chunk = 1024;
}
