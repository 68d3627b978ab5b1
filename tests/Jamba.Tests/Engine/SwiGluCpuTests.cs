using Jamba.Engine.Cpu;
using Jamba.Engine.Cpu.Kernels;

namespace Jamba.Tests.Engine;

[TestClass]
public sealed unsafe class SwiGluCpuTests
{
    /// <summary>
    /// A routed token's k experts in one pair of passes (what the fused decode step runs) give the bits of the experts
    /// applied in turn, each accumulating into the output (what the MoE block's host path runs): the two paths of a
    /// decode step must agree to the bit. The sizes make both passes parallel, with blocks that span two experts and
    /// hold more units than one pass of the gate/up scratch.
    /// </summary>
    [TestMethod]
    public void ExpertsInOnePassEqualExpertsInTurn()
    {
        const int hidden = 64, inter = 1500, threads = 2;
        foreach (bool bf16 in new[] { false, true })
            foreach (int k in new[] { 1, 2, 3 })
            {
                var rng = new Random(k + (bf16 ? 10 : 0));
                float Next() => (float)(rng.NextDouble() * 0.4 - 0.2);
                // bfloat16 inputs are bfloat16 values widened, as the step keeps them.
                float Value() => bf16 ? BFloat16.ToSingle(BFloat16.FromSingle(Next())) : Next();
                var x = Enumerable.Range(0, hidden).Select(_ => Value()).ToArray();
                var scale = Enumerable.Range(0, k).Select(_ => (float)rng.NextDouble()).ToArray();
                var f32 = Enumerable.Range(0, 3 * k).Select(_ => Enumerable.Range(0, hidden * inter).Select(_ => Next()).ToArray()).ToArray();
                var b16 = f32.Select(m => m.Select(BFloat16.FromSingle).ToArray()).ToArray();
                var oneGo = new float[hidden];
                var inTurn = new float[hidden];
                var h = new float[k * inter];
                var hp = new float[k * inter];
                var xp = new float[hidden];
                var handles = f32.Select(m => System.Runtime.InteropServices.GCHandle.Alloc(m, System.Runtime.InteropServices.GCHandleType.Pinned))
                    .Concat(b16.Select(m => System.Runtime.InteropServices.GCHandle.Alloc(m, System.Runtime.InteropServices.GCHandleType.Pinned))).ToArray();
                try
                {
                    void* W(int e, int which) => (void*)handles[(bf16 ? 3 * k : 0) + 3 * e + which].AddrOfPinnedObject();
                    var pointers = new nint[3 * k];
                    for (int e = 0; e < k; e++) for (int which = 0; which < 3; which++) pointers[which * k + e] = (nint)W(e, which);
                    fixed (nint* all = pointers)
                    fixed (float* px = x, ps = scale, py = oneGo, pt = inTurn, ph = h, php = hp, pxp = xp)
                    {
                        void** gate = (void**)all, up = (void**)(all + k), down = (void**)(all + 2 * k);
                        SwiGluCpu.ForwardExperts(px, gate, up, down, ps, k, bf16, ph, py, hidden, inter, threads, pxp, php);
                        for (int e = 0; e < k; e++)
                            SwiGluCpu.Forward(px, gate[e], up[e], down[e], bf16, ph, pt, ps + e, accumulate: true, rows: 1, hidden, inter, threads, pxp, php);
                    }
                }
                finally
                {
                    foreach (var handle in handles) handle.Free();
                }
                for (int o = 0; o < hidden; o++)
                    Assert.AreEqual(BitConverter.SingleToInt32Bits(inTurn[o]), BitConverter.SingleToInt32Bits(oneGo[o]),
                        $"bf16 {bf16}, k {k}, output {o}: {oneGo[o]} in one pass, {inTurn[o]} in turn");
                Assert.IsTrue(oneGo.Any(v => v != 0f), "the experts wrote something");
            }
    }

    /// <summary>
    /// Several rows through one MLP (the fused decode step at batch > 1) give each row the bits it gets alone: rows go
    /// four to a pass over the weights, then two, then one, and alone (batch 1) an MLP reads two weight rows per pass:
    /// the same sums every way.
    /// </summary>
    [TestMethod]
    public void RowsTogetherEqualEachRowAlone()
    {
        const int hidden = 40, inter = 1300, threads = 2;
        foreach (bool bf16 in new[] { false, true })
            foreach (int rows in new[] { 2, 3, 4, 5, 6, 7, 9 })
            {
                var rng = new Random(rows + (bf16 ? 50 : 0));
                float Next() => (float)(rng.NextDouble() * 0.4 - 0.2);
                float Value() => bf16 ? BFloat16.ToSingle(BFloat16.FromSingle(Next())) : Next();
                var x = Enumerable.Range(0, rows * hidden).Select(_ => Value()).ToArray();
                var scale = Enumerable.Range(0, rows).Select(_ => (float)rng.NextDouble()).ToArray();
                var f32 = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, hidden * inter).Select(_ => Next()).ToArray()).ToArray();
                var b16 = f32.Select(m => m.Select(BFloat16.FromSingle).ToArray()).ToArray();
                var together = new float[rows * hidden];
                var alone = new float[rows * hidden];
                var h = new float[rows * inter];
                var hp = new float[rows * inter];
                var xp = new float[rows * hidden];
                fixed (float* g32 = f32[0], u32 = f32[1], d32 = f32[2], px = x, ps = scale, pt = together, pa = alone, ph = h, php = hp, pxp = xp)
                fixed (ushort* g16 = b16[0], u16 = b16[1], d16 = b16[2])
                {
                    void* gate = bf16 ? g16 : g32, up = bf16 ? u16 : u32, down = bf16 ? d16 : d32;
                    SwiGluCpu.Forward(px, gate, up, down, bf16, ph, pt, ps, accumulate: false, rows, hidden, inter, threads, pxp, php);
                    for (int r = 0; r < rows; r++)
                        SwiGluCpu.Forward(px + r * hidden, gate, up, down, bf16, ph, pa + r * hidden, ps + r, accumulate: false, 1, hidden, inter, threads, pxp, php);
                }
                for (int i = 0; i < together.Length; i++)
                    Assert.AreEqual(BitConverter.SingleToInt32Bits(alone[i]), BitConverter.SingleToInt32Bits(together[i]),
                        $"bf16 {bf16}, {rows} rows, row {i / hidden}, output {i % hidden}: {together[i]} together, {alone[i]} alone");
                Assert.IsTrue(together.Any(v => v != 0f), "the MLP wrote something");
            }
    }
}
