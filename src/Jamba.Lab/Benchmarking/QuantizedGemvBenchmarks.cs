using System.Globalization;
using Jamba.Engine.Cpu.Kernels;

namespace Jamba.Lab.Benchmarking;

/// <summary>
/// The GEMV lines of <see cref="KernelBenchmarks"/>: one decode row through a [out, in] weight matrix with int8 and q4
/// weights (<see cref="QuantizedLinearCpu"/>) against the same product with bfloat16 weights
/// (<see cref="DecodeLinearCpu"/>), each with the GB/s of weights (and scales) it streamed; gemv.int8.q8 and gemv.q4.q8 are
/// the products with int8 activations (<see cref="IntegerDot"/>, the input quantized inside the timed call). A matrix–vector product reads
/// every weight once, so at a size beyond the caches its time is the weight bytes over the memory's read rate: the ratio
/// is the point of quantizing, and GB/s near the machine's read bandwidth says the kernel keeps up with memory.
/// </summary>
internal static unsafe class QuantizedGemvBenchmarks
{
    public static IEnumerable<KernelTiming> Run(KernelBenchmarkOptions o)
    {
        int inF = o.GemvIn, outF = o.GemvOut, threads = Math.Max(1, Math.Min(TorchSharp.torch.get_num_threads(), Environment.ProcessorCount));
        var rng = new Random(o.Seed);
        var x = new float[inF];
        for (int i = 0; i < inF; i++) x[i] = BFloat16.ToSingle(BFloat16.FromSingle((float)(rng.NextDouble() * 2 - 1)));
        var w16 = new ushort[(long)inF * outF];
        for (long i = 0; i < w16.Length; i++) w16[i] = BFloat16.FromSingle((float)(rng.NextDouble() - 0.5) * 0.05f);
        var w8 = new byte[(long)inF * outF];
        rng.NextBytes(w8);
        var w4 = new byte[(long)inF * outF / 2];
        rng.NextBytes(w4);
        var s8 = Enumerable.Range(0, outF).Select(_ => 0.001f).ToArray();
        var s4 = Enumerable.Range(0, outF * (inF / 32)).Select(_ => Float16.FromSingle(0.002f)).ToArray();
        var y = new float[outF];
        var xq = new byte[Int8Activations.Bytes(1, inF)];
        string shape = $"1 row, in {inF}, out {outF}, threads {threads}";

        // Pinned for the whole run: the kernels read raw pointers.
        var handles = new object[] { x, w16, w8, w4, s8, s4, y, xq }
            .Select(a => System.Runtime.InteropServices.GCHandle.Alloc(a, System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
        try
        {
            float* P(int k) => (float*)handles[k].AddrOfPinnedObject();
            float* xp = P(0), yp = P(6);
            ushort* w16p = (ushort*)handles[1].AddrOfPinnedObject();
            var int8 = QuantizedMatrix.Int8((sbyte*)handles[2].AddrOfPinnedObject(), P(4), inF);
            var q4 = QuantizedMatrix.Q4((byte*)handles[3].AddrOfPinnedObject(), (ushort*)handles[5].AddrOfPinnedObject(), inF, 32);
            object Bf16() { DecodeLinearCpu.ForwardBF16(xp, w16p, null, yp, 1, inF, outF, threads); return y; }
            object Int8() { QuantizedLinearCpu.Forward(xp, int8, null, true, yp, 1, outF, threads); return y; }
            object Q4() { QuantizedLinearCpu.Forward(xp, q4, null, true, yp, 1, outF, threads); return y; }
            byte* xqp = (byte*)handles[7].AddrOfPinnedObject();
            object Int8Int8() { QuantizedLinearCpu.Forward(Int8Activations.Quantize(xp, 1, inF, xqp), int8, null, true, yp, outF, threads); return y; }
            object Q4Int8() { QuantizedLinearCpu.Forward(Int8Activations.Quantize(xp, 1, inF, xqp), q4, null, true, yp, outF, threads); return y; }
            long bf16Bytes = 2L * inF * outF;
            string Rate(double ms, long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (ms * 1e-3) / 1e9:F1} GB/s");
            var results = new List<KernelTiming>();
            foreach (var (name, run, bytes) in new[] { ("gemv.int8", (Func<object>)Int8, int8.RowBytes * outF), ("gemv.q4", Q4, q4.RowBytes * outF), ("gemv.int8.q8", Int8Int8, int8.RowBytes * outF), ("gemv.q4.q8", Q4Int8, q4.RowBytes * outF) })
            {
                // bf16 is timed beside each, warmed up like the fast path: both are kernels here, neither a slow twin.
                double fast = KernelBenchmarks.Median(o.Warmup, o.Iterations, () => { }, run, 10);
                double bf16 = KernelBenchmarks.Median(o.Warmup, o.Iterations, () => { }, Bf16, 10);
                // The rates go into the path names, so the one line carries the figures the comparison is about.
                results.Add(KernelBenchmarks.Report(o, new KernelTiming(name, shape, fast, bf16,
                    $"{name[5..]} GEMV {Rate(fast, bytes)}", $"bf16 GEMV {Rate(bf16, bf16Bytes)}")));
            }
            return results;
        }
        finally
        {
            foreach (var h in handles) h.Free();
        }
    }
}
