using Jamba.Ops;
using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Modeling;

[TestClass]
public sealed class TrainingBackwardTests
{
    /// <summary>
    /// Backward through the whole model (fused scan as an autograd node) inside dispose scopes, as a training loop
    /// runs it: the scan's unused final state used to be disposed before backward needed its shape.
    /// </summary>
    [TestMethod]
    public void LossBackwardReachesTheMambaParameters()
    {
        var config = TestConfigs.Tiny();
        using var lm = new JambaForCausalLM(config);
        lm.train();
        var ids = randint(3, config.VocabSize, new long[] { 2, 9 }, generator: new Generator(1));
        using (NewDisposeScope())
        {
            using var output = lm.Forward(ids, labels: ids, outputRouterLogits: true);
            output.Loss!.backward();
        }
        var mamba = lm.model.layers.First(l => l.mamba is not null).mamba!;
        foreach (var p in new[] { mamba.A_log, mamba.D, ((DenseLinear)mamba.in_proj).weight!, mamba.conv1d.weight! })
        {
            Assert.IsNotNull(p.grad);
            Assert.IsTrue(p.grad!.isfinite().all().item<bool>() && p.grad.abs().sum().item<float>() > 0);
        }
    }

    [TestMethod]
    public void ForwardOutputEqualsForwardWithAndWithoutGradients()
    {
        var g = new Generator(3);
        long b = 2, d = 6, l = 7, n = 4;
        var x = randn(new[] { b, d, l }, generator: g); var delta = nn.functional.softplus(randn(new[] { b, d, l }, generator: g));
        var A = -exp(randn(new[] { d, n }, generator: g)); var B = randn(new[] { b, l, n }, generator: g);
        var C = randn(new[] { b, l, n }, generator: g); var D = randn(new[] { d }, generator: g); var z = randn(new[] { b, d, l }, generator: g);
        var (expected, _) = SelectiveScan.Reference(x, delta, A, B, C, D, z);
        var xg = x.detach().requires_grad_(true);
        var y = SelectiveScan.ForwardOutput(xg, delta, A, B, C, D, z);
        Assert.IsTrue(ReferenceCase.RelativeError(y, expected) < 1e-5);
        y.sum().backward();
        var xr = x.detach().requires_grad_(true);
        SelectiveScan.Reference(xr, delta, A, B, C, D, z).y.sum().backward();
        Assert.IsTrue(ReferenceCase.RelativeError(xg.grad!, xr.grad!) < 1e-4);
        using (no_grad()) Assert.IsTrue(ReferenceCase.RelativeError(SelectiveScan.ForwardOutput(x, delta, A, B, C, D, z), expected) < 1e-5);
    }
}
