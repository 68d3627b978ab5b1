using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// y = x Wᵀ + b for a handful of rows (a decode step), W [out, in] row-major in float32 or bfloat16. At batch 1 a
/// linear layer is a matrix–vector product: every weight byte is read once and used once, so the kernel's only job
/// is to stream W at the memory's full rate on every core. Outputs are split into one contiguous block per thread;
/// each weight row is read once and dotted with every input row while it is still in L1.
/// </summary>
internal static unsafe class DecodeLinearCpu
{
    /// <summary>Weights below this many elements are read by one thread: waking another costs more than it saves.</summary>
    const long ParallelThreshold = 1 << 16;

    /// <summary>float32 weights: x [rows, inF], w [outF, inF], bias [outF] or null, y [rows, outF].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardF32(float* x, float* w, float* bias, float* y, int rows, int inF, int outF, int threads)
    {
        int blocks = BlockCount((long)inF * outF, outF, threads);
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            var (o0, o1) = Range(block, blocks, outF);
            var rowsOf = new LinearF32 { X = x, W = w, Bias = bias, Y = y, InF = inF, OutF = outF, Rows = rows };
            ForHalves(o0, o1, ref rowsOf);
        });
    }

    /// <summary>Output o of a float32 product for every input row, with its bias.</summary>
    struct LinearF32 : IRowKernel
    {
        public float* X, W, Bias, Y;
        public int InF, OutF, Rows;

        public readonly bool Pairs => Rows == 1;

        [MethodImpl(CpuKernelSupport.Hot)]
        public void One(long o)
        {
            DotRowsF32(W + o * InF, X, InF, Rows, Y + o, OutF);
            AddBias(o);
        }

        [MethodImpl(CpuKernelSupport.Hot)]
        public void Pair(long a, long b)
        {
            (Y[a], Y[b]) = DotF32Pair(W + a * InF, X, W + b * InF, X, InF);
            AddBias(a);
            AddBias(b);
        }

        [MethodImpl(CpuKernelSupport.Hot)]
        void AddBias(long o)
        {
            float b = Bias == null ? 0f : Bias[o];
            for (int r = 0; r < Rows; r++) Y[(long)r * OutF + o] += b;
        }
    }

    /// <summary>
    /// bfloat16 weights: x32 [rows, inF] is the input already widened to float32; products accumulate in float32 and
    /// each output is rounded to bfloat16 once (as libtorch's bf16 linear on CPU does), y [rows, outF] bfloat16 bits.
    /// </summary>
    public static void ForwardBF16(float* x32, ushort* w, ushort* bias, ushort* y, int rows, int inF, int outF, int threads) =>
        ForwardBF16(x32, w, bias, y, null, rows, inF, outF, threads);

    /// <summary>
    /// As <see cref="ForwardBF16(float*, ushort*, ushort*, ushort*, int, int, int, int)"/>, each output rounded to
    /// bfloat16 and stored widened in float32 y32 [rows, outF]: the same values, for callers that keep activations in float32.
    /// </summary>
    public static void ForwardBF16(float* x32, ushort* w, ushort* bias, float* y32, int rows, int inF, int outF, int threads) =>
        ForwardBF16(x32, w, bias, null, y32, rows, inF, outF, threads);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ForwardBF16(float* x32, ushort* w, ushort* bias, ushort* y, float* y32, int rows, int inF, int outF, int threads)
    {
        // The inputs in the order the weights are widened in (see PrepareBF16); at most a few rows, so on the stack.
        int size = rows * inF;
        float[]? heap = size > 1 << 14 ? new float[size] : null;
        float* stack = stackalloc float[heap is null ? size : 0];
        fixed (float* pinned = heap)
        {
            float* xp = heap is null ? stack : pinned;
            for (int r = 0; r < rows; r++) PrepareBF16(x32 + (long)r * inF, xp + (long)r * inF, inF);
            int blocks = BlockCount((long)inF * outF, outF, threads);
            SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
            {
                var (o0, o1) = Range(block, blocks, outF);
                // Sums go to float32 first and are rounded afterwards, a vector at a time: rounded one by one inside
                // the loop, each output's dependent chain of conversions took a quarter of a 1 MB product's time.
                int n = (int)(o1 - o0);
                int scratch = y != null ? rows * n : 0;
                float[]? spill = scratch > 1 << 14 ? new float[scratch] : null;
                float* tmp = stackalloc float[spill is null ? scratch : 0];
                fixed (float* spilled = spill)
                {
                    float* sums = spill is null ? tmp : spilled;
                    // Row r's sums: [r, n] in the scratch, or straight into y32.
                    long stride = y != null ? n : outF;
                    float* first = y != null ? sums : y32 + o0;
                    var rowsOf = new LinearBF16 { X = xp, W = w, Sums = first - o0, Stride = stride, InF = inF, Rows = rows };
                    ForHalves(o0, o1, ref rowsOf);
                    for (int r = 0; r < rows; r++)
                    {
                        RoundSums(first + r * stride, bias == null ? null : bias + o0, n);
                        if (y != null) Narrow(first + r * stride, y + (long)r * outF + o0, n);
                    }
                }
            });
        }
    }

    /// <summary>Output o's float32 sums of a bfloat16 product for every input row (Sums[o], row r Stride further on).</summary>
    struct LinearBF16 : IRowKernel
    {
        public float* X, Sums;
        public ushort* W;
        public long Stride;
        public int InF, Rows;

        public readonly bool Pairs => Rows == 1;

        [MethodImpl(CpuKernelSupport.Hot)]
        public void One(long o) => DotRowsBF16Prepared(W + o * InF, X, InF, Rows, Sums + o, Stride);

        [MethodImpl(CpuKernelSupport.Hot)]
        public void Pair(long a, long b) => (Sums[a], Sums[b]) = DotBF16PreparedPair(W + a * InF, X, W + b * InF, X, InF);
    }

    /// <summary>The rows (outputs) of a block, one at a time or two at once; see <see cref="ForHalves"/>.</summary>
    internal interface IRowKernel
    {
        /// <summary>
        /// Whether the walk pairs outputs: at one input row. With several, the four-row passes are bound by loads
        /// rather than by memory, and the outputs go in order: there the two-stream order only adds load pressure.
        /// </summary>
        bool Pairs { get; }
        /// <summary>Computes output <paramref name="o"/>.</summary>
        void One(long o);
        /// <summary>Computes outputs <paramref name="a"/> and <paramref name="b"/> in one pass (only when <see cref="Pairs"/>).</summary>
        void Pair(long a, long b);
    }

    /// <summary>
    /// Walks the outputs [start, end) of a block as pairs from its two halves — (start, start + half), (start + 1,
    /// start + half + 1), … — and the odd one left over. A thread then reads two weight streams at once: one stream
    /// alone does not keep enough reads in flight to reach the memory's rate, and two rows dotted in one pass
    /// (<see cref="DotF32Pair"/>, <see cref="DotBF16PreparedPair"/>) keep eight independent FMA chains where one row
    /// keeps four, which at batch 1 had bound the bfloat16 kernel: its four chains covered only 64 bytes of weights per
    /// FMA latency. Every output is still summed alone.
    /// A kernel that does not pair (<see cref="IRowKernel.Pairs"/>) has its outputs walked in order.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    internal static void ForHalves<T>(long start, long end, ref T kernel) where T : struct, IRowKernel
    {
        if (!kernel.Pairs)
        {
            for (long o = start; o < end; o++) kernel.One(o);
            return;
        }
        long n = end - start, half = (n + 1) / 2;
        for (long k = 0; k < n / 2; k++) kernel.Pair(start + k, start + half + k);
        if (n % 2 == 1) kernel.One(start + half - 1);
    }

    /// <summary>s[i] = bf16(s[i] + bias[i]) kept in float32: the sum plus the bias in float32, rounded once (libtorch's order).</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static void RoundSums(float* s, ushort* bias, int n)
    {
        int i = 0, w = Vector<float>.Count;
        if (bias == null)
            for (; i <= n - w; i += w) VectorMath.RoundToBFloat16(Vector.Load(s + i)).Store(s + i);
        for (; i < n; i++) s[i] = BFloat16.ToSingle(BFloat16.FromSingle(s[i] + (bias == null ? 0f : BFloat16.ToSingle(bias[i]))));
    }

    /// <summary>The bfloat16 bits of float32 values that are already bfloat16 (their upper halves).</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static void Narrow(float* s, ushort* y, int n)
    {
        for (int i = 0; i < n; i++) y[i] = (ushort)(BitConverter.SingleToUInt32Bits(s[i]) >> 16);
    }

    /// <summary>
    /// Reorders x for <see cref="DotBF16Prepared"/>: on x86 a 16-element block of bfloat16 weights is widened by
    /// interleaving it with zeros (one instruction per 8 values, against two for widen-and-shift), which works within
    /// 128-bit lanes and yields elements 0–3, 8–11 and then 4–7, 12–15; x is put in that order once per call instead
    /// of the weights once per row. Elements past the last whole block, and everything elsewhere, keep their order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PrepareBF16(float* x, float* xp, int n)
    {
        int i = 0;
        if (Avx2.IsSupported)
            for (; i <= n - 16; i += 16)
            {
                // Elements 0–3 with 8–11, then 4–7 with 12–15: the low and the high 128-bit halves of the two vectors.
                var v0 = Vector256.Load(x + i);
                var v1 = Vector256.Load(x + i + 8);
                Avx.Permute2x128(v0, v1, 0x20).Store(xp + i);
                Avx.Permute2x128(v0, v1, 0x31).Store(xp + i + 8);
            }
        for (; i < n; i++) xp[i] = x[i];
    }

    /// <summary>Row · x for bfloat16 weights and x prepared by <see cref="PrepareBF16"/>.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    internal static float DotBF16Prepared(ushort* a, float* xp, int n)
    {
        if (!Avx2.IsSupported) return DotBF16(a, xp, n);
        var zero = Vector256<ushort>.Zero;
        var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            var w0 = Vector256.Load(a + i);
            var w1 = Vector256.Load(a + i + 16);
            s0 = Vector256.FusedMultiplyAdd(Avx2.UnpackLow(zero, w0).AsSingle(), Vector256.Load(xp + i), s0);
            s1 = Vector256.FusedMultiplyAdd(Avx2.UnpackHigh(zero, w0).AsSingle(), Vector256.Load(xp + i + 8), s1);
            s2 = Vector256.FusedMultiplyAdd(Avx2.UnpackLow(zero, w1).AsSingle(), Vector256.Load(xp + i + 16), s2);
            s3 = Vector256.FusedMultiplyAdd(Avx2.UnpackHigh(zero, w1).AsSingle(), Vector256.Load(xp + i + 24), s3);
        }
        for (; i <= n - 16; i += 16)
        {
            var w0 = Vector256.Load(a + i);
            s0 = Vector256.FusedMultiplyAdd(Avx2.UnpackLow(zero, w0).AsSingle(), Vector256.Load(xp + i), s0);
            s1 = Vector256.FusedMultiplyAdd(Avx2.UnpackHigh(zero, w0).AsSingle(), Vector256.Load(xp + i + 8), s1);
        }
        float sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++) sum += BFloat16.ToSingle(a[i]) * xp[i];
        return sum;
    }

    /// <summary>
    /// <see cref="DotBF16Prepared"/> of row a with xa and of row b with xb in one pass (eight FMA chains instead of
    /// four), each summed in exactly its order: the same bits as two single calls.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    internal static (float, float) DotBF16PreparedPair(ushort* a, float* xa, ushort* b, float* xb, int n)
    {
        if (!Avx2.IsSupported) return (DotBF16Prepared(a, xa, n), DotBF16Prepared(b, xb, n));
        var zero = Vector256<ushort>.Zero;
        var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        var t0 = s0; var t1 = s0; var t2 = s0; var t3 = s0;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            var v0 = Vector256.Load(a + i); var v1 = Vector256.Load(a + i + 16);
            var u0 = Vector256.Load(b + i); var u1 = Vector256.Load(b + i + 16);
            s0 = Vector256.FusedMultiplyAdd(Avx2.UnpackLow(zero, v0).AsSingle(), Vector256.Load(xa + i), s0);
            t0 = Vector256.FusedMultiplyAdd(Avx2.UnpackLow(zero, u0).AsSingle(), Vector256.Load(xb + i), t0);
            s1 = Vector256.FusedMultiplyAdd(Avx2.UnpackHigh(zero, v0).AsSingle(), Vector256.Load(xa + i + 8), s1);
            t1 = Vector256.FusedMultiplyAdd(Avx2.UnpackHigh(zero, u0).AsSingle(), Vector256.Load(xb + i + 8), t1);
            s2 = Vector256.FusedMultiplyAdd(Avx2.UnpackLow(zero, v1).AsSingle(), Vector256.Load(xa + i + 16), s2);
            t2 = Vector256.FusedMultiplyAdd(Avx2.UnpackLow(zero, u1).AsSingle(), Vector256.Load(xb + i + 16), t2);
            s3 = Vector256.FusedMultiplyAdd(Avx2.UnpackHigh(zero, v1).AsSingle(), Vector256.Load(xa + i + 24), s3);
            t3 = Vector256.FusedMultiplyAdd(Avx2.UnpackHigh(zero, u1).AsSingle(), Vector256.Load(xb + i + 24), t3);
        }
        for (; i <= n - 16; i += 16)
        {
            var v0 = Vector256.Load(a + i); var u0 = Vector256.Load(b + i);
            s0 = Vector256.FusedMultiplyAdd(Avx2.UnpackLow(zero, v0).AsSingle(), Vector256.Load(xa + i), s0);
            t0 = Vector256.FusedMultiplyAdd(Avx2.UnpackLow(zero, u0).AsSingle(), Vector256.Load(xb + i), t0);
            s1 = Vector256.FusedMultiplyAdd(Avx2.UnpackHigh(zero, v0).AsSingle(), Vector256.Load(xa + i + 8), s1);
            t1 = Vector256.FusedMultiplyAdd(Avx2.UnpackHigh(zero, u0).AsSingle(), Vector256.Load(xb + i + 8), t1);
        }
        float sa = Vector256.Sum((s0 + s1) + (s2 + s3)), sb = Vector256.Sum((t0 + t1) + (t2 + t3));
        for (; i < n; i++)
        {
            sa += BFloat16.ToSingle(a[i]) * xa[i];
            sb += BFloat16.ToSingle(b[i]) * xb[i];
        }
        return (sa, sb);
    }

    /// <summary>
    /// How many blocks a product of <paramref name="weights"/> elements and <paramref name="outputs"/> outputs is cut
    /// into for <paramref name="threads"/> threads (see <see cref="Range"/>): one when it is too small to share.
    /// </summary>
    internal static int BlockCount(long weights, long outputs, int threads) =>
        threads <= 1 || weights < ParallelThreshold ? 1 : (int)Math.Min(2L * threads, outputs);

    /// <summary>
    /// Outputs [start, end) of block <paramref name="block"/> of <paramref name="blocks"/>. With 2T blocks for T threads
    /// the first T share three quarters of the outputs and the last T the remaining quarter: each thread starts one
    /// long contiguous run (every block start costs the memory system a fresh stream that the prefetchers must catch
    /// up with, so many equal blocks stream slower than a few long ones), and
    /// the short blocks at the end go to whichever thread is free first, so one thread the scheduler delays does not
    /// hold up the whole product. SpinPool hands out blocks in order, so the long ones start first.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    internal static (long Start, long End) Range(int block, int blocks, long count)
    {
        int threads = blocks / 2;
        if (blocks < 2 || blocks % 2 != 0) return (count * block / blocks, count * (block + 1) / blocks);
        long head = count * 3 / 4;
        return block < threads
            ? (head * block / threads, head * (block + 1) / threads)
            : (head + (count - head) * (block - threads) / threads, head + (count - head) * (block - threads + 1) / threads);
    }

    /// <summary>
    /// One weight row dotted with each of <paramref name="rows"/> inputs x [rows, n], sum r stored at
    /// y[r · <paramref name="yStride"/>]. Four inputs at a time share each load of the weight row (at several rows the
    /// loads, not the FMAs, bound a product), two of the rest share a pass, and every sum is <see cref="DotF32"/>'s: a
    /// row's bits do not depend on the batch.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    internal static void DotRowsF32(float* w, float* x, int n, int rows, float* y, long yStride)
    {
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            var d = DotF32x4(w, x + (long)r * n, n, n);
            for (int q = 0; q < 4; q++) y[(r + q) * yStride] = d[q];
        }
        if (r + 2 <= rows)
        {
            (y[r * yStride], y[(r + 1) * yStride]) = DotF32Pair(w, x + (long)r * n, w, x + (long)(r + 1) * n, n);
            r += 2;
        }
        if (r < rows) y[r * yStride] = DotF32(w, x + (long)r * n, n);
    }

    /// <summary><see cref="DotRowsF32"/> for bfloat16 weights and inputs prepared by <see cref="PrepareBF16"/>.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    internal static void DotRowsBF16Prepared(ushort* w, float* xp, int n, int rows, float* y, long yStride)
    {
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            var d = DotBF16Preparedx4(w, xp + (long)r * n, n, n);
            for (int q = 0; q < 4; q++) y[(r + q) * yStride] = d[q];
        }
        if (r + 2 <= rows)
        {
            (y[r * yStride], y[(r + 1) * yStride]) = DotBF16PreparedPair(w, xp + (long)r * n, w, xp + (long)(r + 1) * n, n);
            r += 2;
        }
        if (r < rows) y[r * yStride] = DotBF16Prepared(w, xp + (long)r * n, n);
    }

    /// <summary>
    /// <see cref="DotF32"/> of one weight row with four inputs (b, b + stride, …), each summed in exactly
    /// <see cref="DotF32"/>'s order, so a row's result has the same bits whether or not it shares the pass.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    internal static Vector128<float> DotF32x4(float* a, float* b, long stride, int n)
    {
        if (n < 32) return Vector128.Create(DotF32(a, b, n), DotF32(a, b + stride, n), DotF32(a, b + 2 * stride, n), DotF32(a, b + 3 * stride, n));
        float* b1 = b + stride, b2 = b + 2 * stride, b3 = b + 3 * stride;
        var z = Vector256<float>.Zero;
        Vector256<float> p0 = z, p1 = z, p2 = z, p3 = z, q0 = z, q1 = z, q2 = z, q3 = z, r0 = z, r1 = z, r2 = z, r3 = z, t0 = z, t1 = z, t2 = z, t3 = z;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            var w0 = Vector256.Load(a + i); var w1 = Vector256.Load(a + i + 8); var w2 = Vector256.Load(a + i + 16); var w3 = Vector256.Load(a + i + 24);
            p0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(b + i), p0); p1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(b + i + 8), p1);
            p2 = Vector256.FusedMultiplyAdd(w2, Vector256.Load(b + i + 16), p2); p3 = Vector256.FusedMultiplyAdd(w3, Vector256.Load(b + i + 24), p3);
            q0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(b1 + i), q0); q1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(b1 + i + 8), q1);
            q2 = Vector256.FusedMultiplyAdd(w2, Vector256.Load(b1 + i + 16), q2); q3 = Vector256.FusedMultiplyAdd(w3, Vector256.Load(b1 + i + 24), q3);
            r0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(b2 + i), r0); r1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(b2 + i + 8), r1);
            r2 = Vector256.FusedMultiplyAdd(w2, Vector256.Load(b2 + i + 16), r2); r3 = Vector256.FusedMultiplyAdd(w3, Vector256.Load(b2 + i + 24), r3);
            t0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(b3 + i), t0); t1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(b3 + i + 8), t1);
            t2 = Vector256.FusedMultiplyAdd(w2, Vector256.Load(b3 + i + 16), t2); t3 = Vector256.FusedMultiplyAdd(w3, Vector256.Load(b3 + i + 24), t3);
        }
        for (; i <= n - 8; i += 8)
        {
            var w0 = Vector256.Load(a + i);
            p0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(b + i), p0); q0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(b1 + i), q0);
            r0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(b2 + i), r0); t0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(b3 + i), t0);
        }
        float s0 = Vector256.Sum((p0 + p1) + (p2 + p3)), s1 = Vector256.Sum((q0 + q1) + (q2 + q3));
        float s2 = Vector256.Sum((r0 + r1) + (r2 + r3)), s3 = Vector256.Sum((t0 + t1) + (t2 + t3));
        for (; i < n; i++) { s0 += a[i] * b[i]; s1 += a[i] * b1[i]; s2 += a[i] * b2[i]; s3 += a[i] * b3[i]; }
        return Vector128.Create(s0, s1, s2, s3);
    }

    /// <summary>
    /// <see cref="DotBF16Prepared"/> of one weight row with four prepared inputs (xp, xp + stride, …), each summed in
    /// exactly its order: the weights are widened once for the four.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    internal static Vector128<float> DotBF16Preparedx4(ushort* a, float* xp, long stride, int n)
    {
        if (!Avx2.IsSupported || n < 32)
            return Vector128.Create(DotBF16Prepared(a, xp, n), DotBF16Prepared(a, xp + stride, n), DotBF16Prepared(a, xp + 2 * stride, n), DotBF16Prepared(a, xp + 3 * stride, n));
        float* x1 = xp + stride, x2 = xp + 2 * stride, x3 = xp + 3 * stride;
        var zero = Vector256<ushort>.Zero;
        var z = Vector256<float>.Zero;
        Vector256<float> p0 = z, p1 = z, p2 = z, p3 = z, q0 = z, q1 = z, q2 = z, q3 = z, r0 = z, r1 = z, r2 = z, r3 = z, t0 = z, t1 = z, t2 = z, t3 = z;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            var v0 = Vector256.Load(a + i);
            var v1 = Vector256.Load(a + i + 16);
            var w0 = Avx2.UnpackLow(zero, v0).AsSingle(); var w1 = Avx2.UnpackHigh(zero, v0).AsSingle();
            var w2 = Avx2.UnpackLow(zero, v1).AsSingle(); var w3 = Avx2.UnpackHigh(zero, v1).AsSingle();
            p0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(xp + i), p0); p1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(xp + i + 8), p1);
            p2 = Vector256.FusedMultiplyAdd(w2, Vector256.Load(xp + i + 16), p2); p3 = Vector256.FusedMultiplyAdd(w3, Vector256.Load(xp + i + 24), p3);
            q0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(x1 + i), q0); q1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(x1 + i + 8), q1);
            q2 = Vector256.FusedMultiplyAdd(w2, Vector256.Load(x1 + i + 16), q2); q3 = Vector256.FusedMultiplyAdd(w3, Vector256.Load(x1 + i + 24), q3);
            r0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(x2 + i), r0); r1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(x2 + i + 8), r1);
            r2 = Vector256.FusedMultiplyAdd(w2, Vector256.Load(x2 + i + 16), r2); r3 = Vector256.FusedMultiplyAdd(w3, Vector256.Load(x2 + i + 24), r3);
            t0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(x3 + i), t0); t1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(x3 + i + 8), t1);
            t2 = Vector256.FusedMultiplyAdd(w2, Vector256.Load(x3 + i + 16), t2); t3 = Vector256.FusedMultiplyAdd(w3, Vector256.Load(x3 + i + 24), t3);
        }
        for (; i <= n - 16; i += 16)
        {
            var v0 = Vector256.Load(a + i);
            var w0 = Avx2.UnpackLow(zero, v0).AsSingle(); var w1 = Avx2.UnpackHigh(zero, v0).AsSingle();
            p0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(xp + i), p0); p1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(xp + i + 8), p1);
            q0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(x1 + i), q0); q1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(x1 + i + 8), q1);
            r0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(x2 + i), r0); r1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(x2 + i + 8), r1);
            t0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(x3 + i), t0); t1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(x3 + i + 8), t1);
        }
        float s0 = Vector256.Sum((p0 + p1) + (p2 + p3)), s1 = Vector256.Sum((q0 + q1) + (q2 + q3));
        float s2 = Vector256.Sum((r0 + r1) + (r2 + r3)), s3 = Vector256.Sum((t0 + t1) + (t2 + t3));
        for (; i < n; i++)
        {
            float w = BFloat16.ToSingle(a[i]);
            s0 += w * xp[i]; s1 += w * x1[i]; s2 += w * x2[i]; s3 += w * x3[i];
        }
        return Vector128.Create(s0, s1, s2, s3);
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    internal static float DotF32(float* a, float* b, int n)
    {
        // Four independent accumulators hide the FMA latency; the loop is bound by the weight stream anyway.
        var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
            s1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), s1);
            s2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 16), Vector256.Load(b + i + 16), s2);
            s3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 24), Vector256.Load(b + i + 24), s3);
        }
        for (; i <= n - 8; i += 8) s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
        float sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary><see cref="DotF32"/> of row a with xa and of row b with xb in one pass, each in exactly its order.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    internal static (float, float) DotF32Pair(float* a, float* xa, float* b, float* xb, int n)
    {
        var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        var t0 = s0; var t1 = s0; var t2 = s0; var t3 = s0;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(xa + i), s0);
            t0 = Vector256.FusedMultiplyAdd(Vector256.Load(b + i), Vector256.Load(xb + i), t0);
            s1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(xa + i + 8), s1);
            t1 = Vector256.FusedMultiplyAdd(Vector256.Load(b + i + 8), Vector256.Load(xb + i + 8), t1);
            s2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 16), Vector256.Load(xa + i + 16), s2);
            t2 = Vector256.FusedMultiplyAdd(Vector256.Load(b + i + 16), Vector256.Load(xb + i + 16), t2);
            s3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 24), Vector256.Load(xa + i + 24), s3);
            t3 = Vector256.FusedMultiplyAdd(Vector256.Load(b + i + 24), Vector256.Load(xb + i + 24), t3);
        }
        for (; i <= n - 8; i += 8)
        {
            s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(xa + i), s0);
            t0 = Vector256.FusedMultiplyAdd(Vector256.Load(b + i), Vector256.Load(xb + i), t0);
        }
        float sa = Vector256.Sum((s0 + s1) + (s2 + s3)), sb = Vector256.Sum((t0 + t1) + (t2 + t3));
        for (; i < n; i++)
        {
            sa += a[i] * xa[i];
            sb += b[i] * xb[i];
        }
        return (sa, sb);
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    internal static float DotBF16(ushort* a, float* b, int n)
    {
        // bfloat16 is the top half of a float32: widening to 32 bits and shifting left by 16 is the exact conversion.
        var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            var w0 = Vector256.Load(a + i);
            var w1 = Vector256.Load(a + i + 16);
            s0 = Vector256.FusedMultiplyAdd(Widen(Vector256.WidenLower(w0)), Vector256.Load(b + i), s0);
            s1 = Vector256.FusedMultiplyAdd(Widen(Vector256.WidenUpper(w0)), Vector256.Load(b + i + 8), s1);
            s2 = Vector256.FusedMultiplyAdd(Widen(Vector256.WidenLower(w1)), Vector256.Load(b + i + 16), s2);
            s3 = Vector256.FusedMultiplyAdd(Widen(Vector256.WidenUpper(w1)), Vector256.Load(b + i + 24), s3);
        }
        float sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++) sum += BFloat16.ToSingle(a[i]) * b[i];
        return sum;
    }

    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> Widen(Vector256<uint> bits) => Vector256.ShiftLeft(bits, 16).AsSingle();
}
