using System.Numerics;
using System.Runtime.CompilerServices;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// y = x Wᵀ + b for a handful of rows (a decode step) with W weight-only quantized (<see cref="QuantizedMatrix"/>):
/// dequantize-and-dot fused, so the weights stream from memory at one byte (int8) or half a byte (q4) per element
/// instead of two or four, which is all a matrix–vector product's time. The structure is
/// <see cref="DecodeLinearCpu"/>'s: outputs split into one block per thread, at one input row two weight rows per
/// pass; at several, each weight row is dequantized once into L1 and dotted with every input row there.
/// </summary>
internal static unsafe class QuantizedLinearCpu
{
    /// <summary>
    /// x [rows, in] float32; bias [out] or null, float32 — or, with <paramref name="bf16"/>, bfloat16 bits, and every
    /// output is then rounded to bfloat16 (kept in float32) after the bias is added, as a bfloat16 model's linear
    /// stores it; y [rows, out] float32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* x, QuantizedMatrix w, void* bias, bool bf16, float* y, int rows, int outF, int threads)
    {
        int inF = w.InFeatures;
        int blocks = DecodeLinearCpu.BlockCount((long)inF * outF, outF, threads);
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            var (o0, o1) = DecodeLinearCpu.Range(block, blocks, outF);
            // The dequantized row a block's input rows share (unused at one row, where the dots are fused).
            int size = rows > 1 ? inF : 0;
            float[]? heap = size > 1 << 14 ? new float[size] : null;
            float* stack = stackalloc float[heap is null ? size : 0];
            fixed (float* pinned = heap)
            {
                var kernel = new LinearRows { X = x, W = w, Y = y, OutF = outF, Rows = rows, Buffer = heap is null ? stack : pinned };
                DecodeLinearCpu.ForHalves(o0, o1, ref kernel);
            }
            for (int r = 0; r < rows; r++) Finish(y + (long)r * outF, bias, bf16, o0, o1);
        });
    }

    /// <summary>
    /// As the float32 <see cref="Forward(float*, QuantizedMatrix, void*, bool, float*, int, int, int)"/>, with the input
    /// rows quantized to int8 (<see cref="Int8Activations"/>, once for every linear that reads them) and each output an
    /// integer dot (<see cref="IntegerDot"/>); <paramref name="w"/> must be one <see cref="IntegerDot.Supports"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Int8Activations x, QuantizedMatrix w, void* bias, bool bf16, float* y, int outF, int threads)
    {
        if (x.Length != w.InFeatures || !IntegerDot.Supports(w))
            throw new ArgumentException($"int8 inputs of length {x.Length} do not fit a quantized matrix of in_features {w.InFeatures}, group size {w.GroupSize}", nameof(x));
        int rows = x.Rows;
        int blocks = DecodeLinearCpu.BlockCount((long)w.InFeatures * outF, outF, threads);
        SpinPool.Shared.For(blocks, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (block) =>
        {
            var (o0, o1) = DecodeLinearCpu.Range(block, blocks, outF);
            var kernel = new IntegerRows { X = x, W = w, Y = y, OutF = outF };
            DecodeLinearCpu.ForHalves(o0, o1, ref kernel);
            for (int r = 0; r < rows; r++) Finish(y + (long)r * outF, bias, bf16, o0, o1);
        });
    }

    /// <summary>
    /// Output o's sums for every int8 input row. Always two weight rows per pass: at several input rows each pair is
    /// still read from memory once and from L1 for the rows after the first.
    /// </summary>
    struct IntegerRows : DecodeLinearCpu.IRowKernel
    {
        public Int8Activations X;
        public QuantizedMatrix W;
        public float* Y;
        public int OutF;

        public readonly bool Pairs => true;

        [MethodImpl(CpuKernelSupport.Hot)]
        public void One(long o)
        {
            for (int r = 0; r < X.Rows; r++) Y[(long)r * OutF + o] = IntegerDot.Dot(W, o, X.Row(r));
        }

        [MethodImpl(CpuKernelSupport.Hot)]
        public void Pair(long a, long b)
        {
            for (int r = 0; r < X.Rows; r++)
            {
                var row = X.Row(r);
                (Y[(long)r * OutF + a], Y[(long)r * OutF + b]) = IntegerDot.DotPair(W, a, row, W, b, row);
            }
        }
    }

    /// <summary>Output o's sums (scales applied, no bias) for every input row.</summary>
    struct LinearRows : DecodeLinearCpu.IRowKernel
    {
        public QuantizedMatrix W;
        public float* X, Y, Buffer;
        public int OutF, Rows;

        public readonly bool Pairs => Rows == 1;

        [MethodImpl(CpuKernelSupport.Hot)]
        public void One(long o)
        {
            if (Rows == 1) Y[o] = W.Dot(o, X);
            else W.DotRows(o, X, Rows, Y + o, OutF, Buffer);
        }

        [MethodImpl(CpuKernelSupport.Hot)]
        public void Pair(long a, long b) => (Y[a], Y[b]) = QuantizedMatrix.DotPair(W, a, X, W, b, X);
    }

    /// <summary>y[o0 … o1) += bias (float32, or bfloat16 bits with <paramref name="bf16"/>), then rounded to bfloat16 with it.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static void Finish(float* y, void* bias, bool bf16, long o0, long o1)
    {
        long o = o0;
        if (bias == null)
        {
            if (!bf16) return;
            for (; o <= o1 - Vector<float>.Count; o += Vector<float>.Count) VectorMath.RoundToBFloat16(Vector.Load(y + o)).Store(y + o);
            for (; o < o1; o++) y[o] = BFloat16.ToSingle(BFloat16.FromSingle(y[o]));
            return;
        }
        if (bf16)
            for (; o < o1; o++) y[o] = BFloat16.ToSingle(BFloat16.FromSingle(y[o] + BFloat16.ToSingle(((ushort*)bias)[o])));
        else
            for (; o < o1; o++) y[o] += ((float*)bias)[o];
    }
}
