using System.Diagnostics;
using Jamba.Ops;
using Jamba.Tests.Engine;
using TorchSharp;
using static Jamba.Tests.Engine.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Ops;

[TestClass]
public sealed class SelectiveScanTests
{
    // batch, channels, length, state, gate, initial state, Δ scale: odd lengths, length 1, batch > 1, channels
    // not a multiple of the vector width, every state size the kernel special-cases (1 scalar, 8 one vector,
    // 16 two vectors, 20 vectors + tail), tiny and large Δ.
    static readonly (int b, int d, int l, int n, bool z, bool h0, double ds)[] Shapes =
    {
        (1, 1, 1, 1, false, false, 1.0),
        (1, 3, 1, 16, true, true, 1.0),
        (2, 5, 7, 16, true, false, 0.01),
        (3, 9, 33, 8, false, true, 5.0),
        (2, 17, 70, 16, true, true, 1.0),
        (1, 6, 19, 20, true, false, 0.3),
        (2, 4, 129, 1, false, true, 2.0),
    };

    [TestMethod]
    public void ForwardMatchesReference()
    {
        int seed = 0;
        foreach (var s in Shapes)
        {
            using var scope = NewDisposeScope();
            var i = Scan(s.b, s.d, s.l, s.n, s.z, s.h0, s.ds, seed++);
            var (yr, hr) = SelectiveScan.Reference(i.X, i.Delta, i.A, i.B, i.C, i.D, i.Z, i.H0);
            var (y, h) = SelectiveScan.Forward(i.X, i.Delta, i.A, i.B, i.C, i.D, i.Z, i.H0);
            Close(y, yr, 1e-5, $"y {s}");
            Close(h, hr, 1e-5, $"state {s}");
        }
    }

    [TestMethod]
    public void ChunkedTensorPathMatchesReference()
    {
        int seed = 100;
        foreach (var s in Shapes)
            foreach (int chunk in new[] { 1, 3, 64 })
            {
                using var scope = NewDisposeScope();
                var i = Scan(s.b, s.d, s.l, s.n, s.z, s.h0, s.ds, seed++);
                var (yr, hr) = SelectiveScan.Reference(i.X, i.Delta, i.A, i.B, i.C, i.D, i.Z, i.H0);
                var (y, h) = SelectiveScanChunked.Forward(i.X, i.Delta, i.A, i.B, i.C, i.D, i.Z, i.H0, chunk);
                Close(y, yr, 1e-5, $"y {s} chunk {chunk}");
                Close(h, hr, 1e-5, $"state {s} chunk {chunk}");
            }
    }

    /// <summary>Gradients of a random linear functional of (y, final state) through <paramref name="scan"/>.</summary>
    static Tensor[] Grads(KernelAssert.ScanInputs i, Func<KernelAssert.ScanInputs, (Tensor y, Tensor state)> scan, Tensor gy, Tensor gs)
    {
        var leaves = i.All.Select(t => t.detach().requires_grad_(true)).ToArray();
        int k = 0;
        var j = new KernelAssert.ScanInputs(leaves[k++], leaves[k++], leaves[k++], leaves[k++], leaves[k++], leaves[k++],
            i.Z is null ? null : leaves[k++], i.H0 is null ? null : leaves[k++]);
        var (y, state) = scan(j);
        var loss = (y.to_type(ScalarType.Float32) * gy).sum() + (state * gs).sum();
        loss.backward();
        return leaves.Select(t => t.grad!).ToArray();
    }

    static void GradientsMatch(Func<KernelAssert.ScanInputs, (Tensor y, Tensor state)> fast, string name, int seedBase)
    {
        int seed = seedBase;
        foreach (var s in Shapes)
        {
            using var scope = NewDisposeScope();
            var i = Scan(s.b, s.d, s.l, s.n, s.z, s.h0, s.ds, seed++);
            var g = new Generator((ulong)seed);
            var gy = randn(new long[] { s.b, s.d, s.l }, generator: g);
            var gs = randn(new long[] { s.b, s.d, s.n }, generator: g);
            var expected = Grads(i, j => SelectiveScan.Reference(j.X, j.Delta, j.A, j.B, j.C, j.D, j.Z, j.H0), gy, gs);
            var actual = Grads(i, fast, gy, gs);
            string[] names = { "x", "delta", "A", "B", "C", "D", "z", "h0" };
            var present = names.Where((_, k) => k < 6 || (k == 6 && s.z) || (k == 7 && s.h0)).ToArray();
            for (int k = 0; k < expected.Length; k++)
                Close(actual[k], expected[k], 1e-4, $"{name} d{present[k]} {s}");
        }
    }

    [TestMethod]
    public void BackwardMatchesAutogradThroughReference()
        => GradientsMatch(j => SelectiveScan.Forward(j.X, j.Delta, j.A, j.B, j.C, j.D, j.Z, j.H0), "kernel", 200);

    [TestMethod]
    public void BackwardAcrossManyCheckpointChunksMatchesReference()
    {
        // Chunk 5 puts several checkpoint boundaries (and a ragged last chunk) inside short test sequences.
        GradientsMatch(j =>
        {
            var o = SelectiveScanFunction.apply(j.X, j.Delta, j.A, j.B, j.C, j.D, j.Z!, j.H0!, 5);
            return (o[0], o[1]);
        }, "kernel chunk 5", 300);
    }

    [TestMethod]
    public void ChunkedTensorPathGradientsMatchReference()
        => GradientsMatch(j => SelectiveScanChunked.Forward(j.X, j.Delta, j.A, j.B, j.C, j.D, j.Z, j.H0, 4), "chunked", 400);

    [TestMethod]
    public void StepRepeatedEqualsForward()
    {
        foreach (var (s, seed) in Shapes.Select((s, k) => (s, 500 + k)))
        {
            using var scope = NewDisposeScope();
            var i = Scan(s.b, s.d, s.l, s.n, s.z, s.h0, s.ds, seed);
            var (yr, hr) = SelectiveScan.Forward(i.X, i.Delta, i.A, i.B, i.C, i.D, i.Z, i.H0);
            foreach (bool tensorOps in new[] { false, true })
            {
                var state = i.H0?.clone() ?? zeros(s.b, s.d, s.n);
                var ys = new List<Tensor>();
                for (int t = 0; t < s.l; t++)
                {
                    var args = (x: i.X.select(2, t), dt: i.Delta.select(2, t), b: i.B.select(1, t), c: i.C.select(1, t), z: i.Z?.select(2, t));
                    ys.Add(tensorOps
                        ? SelectiveScan.StepTensorOps(state, args.x, args.dt, i.A, args.b, args.c, i.D, args.z)
                        : SelectiveScan.Step(state, args.x, args.dt, i.A, args.b, args.c, i.D, args.z));
                }
                Close(stack(ys, 2), yr, 1e-5, $"y {s} tensorOps={tensorOps}");
                Close(state, hr, 1e-5, $"state {s} tensorOps={tensorOps}");
            }
        }
    }

    [TestMethod]
    public void BFloat16InputsUseFloat32State()
    {
        using var scope = NewDisposeScope();
        var i = Scan(2, 11, 37, 16, true, true, 1.0, 600, ScalarType.BFloat16);
        var (yr, hr) = SelectiveScan.Reference(i.X, i.Delta, i.A, i.B, i.C, i.D, i.Z, i.H0);
        var (y, h) = SelectiveScan.Forward(i.X, i.Delta, i.A, i.B, i.C, i.D, i.Z, i.H0);
        Assert.AreEqual(ScalarType.BFloat16, y.dtype);
        Assert.AreEqual(ScalarType.Float32, h.dtype);
        // Same bf16 inputs, same float32 arithmetic: the state agrees to float32 precision; y only to its bf16 rounding.
        Close(h, hr, 1e-5, "state");
        Close(y, yr, 1e-2, "y");
        var (yc, hc) = SelectiveScanChunked.Forward(i.X, i.Delta, i.A, i.B, i.C, i.D, i.Z, i.H0);
        Close(hc, hr, 1e-5, "chunked state");

        var leaves = i.All.Select(t => t.detach().requires_grad_(true)).ToArray();
        var (yg, _) = SelectiveScan.Forward(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], leaves[6], leaves[7]);
        yg.to_type(ScalarType.Float32).sum().backward();
        for (int k = 0; k < leaves.Length; k++)
        {
            Assert.AreEqual(leaves[k].dtype, leaves[k].grad!.dtype, $"grad {k} dtype");
            Assert.IsTrue(leaves[k].grad!.isfinite().all().item<bool>(), $"grad {k} finite");
        }
    }

    [TestMethod]
    public void RejectsMismatchedShapes()
    {
        using var scope = NewDisposeScope();
        var i = Scan(1, 4, 5, 16, false, false, 1.0, 700);
        Assert.ThrowsExactly<ArgumentException>(() => SelectiveScan.Forward(i.X, i.Delta, i.A, i.B.narrow(1, 0, 4), i.C, i.D));
    }

    [TestMethod]
    public void RepeatedCallsDoNotGrowMemory()
    {
        using var scope = NewDisposeScope();
        // State size 1 keeps the work per call small while y (what would leak) stays 64 KiB.
        var i = Scan(1, 64, 256, 1, true, false, 1.0, 800);
        var leaves = i.All.Select(t => t.detach().requires_grad_(true)).ToArray();
        void Once(bool train)
        {
            using var inner = NewDisposeScope();
            if (!train) { SelectiveScan.Forward(i.X, i.Delta, i.A, i.B, i.C, i.D, i.Z); return; }
            var (y, _) = SelectiveScan.Forward(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], leaves[6]);
            y.sum().backward();
            foreach (var l in leaves) l.grad!.zero_();
        }
        long Measure() { GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); return Process.GetCurrentProcess().PrivateMemorySize64; }
        for (int k = 0; k < 20; k++) { Once(false); Once(true); }
        long before = Measure();
        // Each y is 64 KiB, so if results (or autograd nodes holding them) stayed reachable, 1000 calls would
        // show as > 60 MiB. Collected-but-undisposed tensors are freed by the finalizers Measure runs.
        for (int k = 0; k < 1000; k++) Once(false);
        for (int k = 0; k < 200; k++) Once(true);
        long grown = Measure() - before;
        Assert.IsTrue(grown < 32L << 20, $"private memory grew by {grown >> 20} MiB over 1200 calls");
    }
}
