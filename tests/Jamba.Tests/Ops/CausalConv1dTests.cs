using Jamba.Ops;
using TorchSharp;
using static Jamba.Tests.Engine.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Ops;

[TestClass]
public sealed class CausalConv1dTests
{
    // batch, channels, length, width, bias: lengths shorter than the kernel, not multiples of the vector width.
    static readonly (int b, int d, int l, int k, bool bias)[] Shapes =
    {
        (1, 1, 1, 4, true), (2, 3, 3, 4, false), (1, 5, 17, 4, true), (3, 7, 40, 2, true), (2, 9, 33, 1, false), (1, 4, 130, 3, true),
    };

    static (Tensor x, Tensor w, Tensor? b) Inputs((int b, int d, int l, int k, bool bias) s, int seed, ScalarType dtype = ScalarType.Float32)
    {
        var g = new Generator((ulong)seed);
        var x = randn(new long[] { s.b, s.d, s.l }, generator: g).to_type(dtype);
        var w = randn(new long[] { s.d, 1, s.k }, generator: g).to_type(dtype);
        var bias = s.bias ? randn(new long[] { s.d }, generator: g).to_type(dtype) : null;
        return (x, w, bias);
    }

    [TestMethod]
    public void ForwardMatchesReference()
    {
        int seed = 0;
        foreach (var s in Shapes)
        {
            using var scope = NewDisposeScope();
            var (x, w, b) = Inputs(s, seed++);
            Close(CausalConv1d.Forward(x, w, b), CausalConv1d.Reference(x, w, b), 1e-5, $"{s}");
        }
    }

    [TestMethod]
    public void BackwardMatchesAutogradThroughReference()
    {
        int seed = 100;
        foreach (var s in Shapes)
        {
            using var scope = NewDisposeScope();
            var (x, w, b) = Inputs(s, seed++);
            var gy = randn(x.shape, generator: new Generator((ulong)seed));
            Tensor[] Grads(Func<Tensor, Tensor, Tensor?, Tensor> f)
            {
                var leaves = new[] { x, w, b! }.Where(t => t is not null).Select(t => t.detach().requires_grad_(true)).ToArray();
                (f(leaves[0], leaves[1], leaves.Length > 2 ? leaves[2] : null) * gy).sum().backward();
                return leaves.Select(t => t.grad!).ToArray();
            }
            var expected = Grads(CausalConv1d.Reference);
            var actual = Grads(CausalConv1d.Forward);
            for (int i = 0; i < expected.Length; i++) Close(actual[i], expected[i], 1e-4, $"grad {i} {s}");
        }
    }

    [TestMethod]
    public void StepByStepEqualsFullSequence()
    {
        int seed = 200;
        foreach (var s in Shapes)
            foreach (bool tensorOps in new[] { false, true })
            {
                using var scope = NewDisposeScope();
                var (x, w, b) = Inputs(s, seed++);
                var window = zeros(s.b, s.d, s.k);
                var ys = new List<Tensor>();
                for (int t = 0; t < s.l; t++)
                    ys.Add(tensorOps ? CausalConv1d.StepTensorOps(window, x.select(2, t), w, b) : CausalConv1d.Step(window, x.select(2, t), w, b));
                Close(stack(ys, 2), CausalConv1d.Reference(x, w, b), 1e-5, $"{s} tensorOps={tensorOps}");
                // The rolling window ends holding the last K inputs (zero-padded on the left for short sequences).
                var tail = nn.functional.pad(x, new long[] { s.k, 0 }).narrow(2, s.l, s.k);
                Close(window, tail, 0, $"window {s}");
            }
    }

    [TestMethod]
    public void BFloat16InputsKeepTheirDtype()
    {
        using var scope = NewDisposeScope();
        var (x, w, b) = Inputs((2, 6, 29, 4, true), 300, ScalarType.BFloat16);
        var y = CausalConv1d.Forward(x, w, b);
        Assert.AreEqual(ScalarType.BFloat16, y.dtype);
        Close(y.to_type(ScalarType.Float32), CausalConv1d.Reference(x.to_type(ScalarType.Float32), w.to_type(ScalarType.Float32), b!.to_type(ScalarType.Float32)), 1e-2, "y");
        var xl = x.detach().requires_grad_(true);
        CausalConv1d.Forward(xl, w, b).to_type(ScalarType.Float32).sum().backward();
        Assert.AreEqual(ScalarType.BFloat16, xl.grad!.dtype);
    }
}
