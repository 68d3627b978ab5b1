using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Modeling;

[TestClass]
public sealed class SparseMoeBlockTests
{
    [TestMethod]
    [DataRow(4, 2, 37)]
    [DataRow(8, 1, 5)]
    [DataRow(6, 3, 1)]
    [DataRow(16, 2, 3)]   // fewer tokens than experts: most experts get none and must cost nothing
    [DataRow(8, 2, 1)]    // one token: the direct path
    [DataRow(16, 2, 4096)] // prefill-sized
    public void GroupedDispatchEqualsDenseMixture(int experts, int topK, int tokens)
    {
        var config = TestConfigs.Tiny(c => { c.NumExperts = experts; c.NumExpertsPerTok = topK; });
        using var moe = new SparseMoeBlock(config, experts);
        using var _ = no_grad();
        foreach (var (_, p) in moe.named_parameters()) p.normal_(0, 0.3);
        var x = randn(1, tokens, config.HiddenSize, generator: new Generator(5));
        var (grouped, router) = moe.Forward(x);
        var dense = moe.ForwardDense(x);
        Assert.IsTrue(ReferenceCase.RelativeError(grouped, dense) < 1e-6);
        CollectionAssert.AreEqual(new long[] { tokens, experts }, router.shape);
    }

    [TestMethod]
    [DataRow(3, 1)]   // decode at batch 3: one token per row
    [DataRow(2, 5)]
    [DataRow(1, 1)]
    public void BatchedShapesEqualDenseMixture(int batch, int length)
    {
        var config = TestConfigs.Tiny(c => { c.NumExperts = 8; c.NumExpertsPerTok = 2; });
        using var moe = new SparseMoeBlock(config, 8);
        using var _ = no_grad();
        foreach (var (_, p) in moe.named_parameters()) p.normal_(0, 0.3);
        var x = randn(batch, length, config.HiddenSize, generator: new Generator(11));
        var (grouped, _) = moe.Forward(x);
        CollectionAssert.AreEqual(x.shape, grouped.shape);
        Assert.IsTrue(ReferenceCase.RelativeError(grouped, moe.ForwardDense(x)) < 1e-6);
    }

    [TestMethod]
    public void GradientsMatchTheDenseTwin()
    {
        var config = TestConfigs.Tiny(c => { c.NumExperts = 4; c.NumExpertsPerTok = 2; });
        using var moe = new SparseMoeBlock(config, 4);
        using (no_grad()) foreach (var (_, p) in moe.named_parameters()) p.normal_(0, 0.3);
        var x = randn(new long[] { 2, 7, config.HiddenSize }, generator: new Generator(2));
        var xa = x.detach().requires_grad_(true);
        moe.Forward(xa).output.square().sum().backward();
        var grads = moe.parameters().Select(p => p.grad!.clone()).ToArray();
        moe.zero_grad();
        var xb = x.detach().requires_grad_(true);
        moe.ForwardDense(xb).square().sum().backward();
        Assert.IsTrue(ReferenceCase.RelativeError(xa.grad!, xb.grad!) < 1e-5);
        foreach (var (a, p) in grads.Zip(moe.parameters())) Assert.IsTrue(ReferenceCase.RelativeError(a, p.grad!) < 1e-5);
    }

    [TestMethod]
    public void TopKWeightsAreNotRenormalised()
    {
        // With identical experts the output is expert(x) × (sum of the top-k probabilities), which is < 1.
        var config = TestConfigs.Tiny(c => { c.NumExperts = 4; c.NumExpertsPerTok = 2; });
        using var moe = new SparseMoeBlock(config, 4);
        using var _ = no_grad();
        foreach (var (_, p) in moe.named_parameters()) p.normal_(0, 0.3);
        for (int e = 1; e < 4; e++)
            foreach (var ((_, dst), (_, src)) in moe.experts[e].named_parameters().Zip(moe.experts[0].named_parameters())) dst.copy_(src);
        var x = randn(1, 3, config.HiddenSize);
        var (y, router) = moe.Forward(x);
        var mass = nn.functional.softmax(router, 1).topk(2, dim: -1).values.sum(new long[] { -1 }, keepdim: true);
        var expected = moe.experts[0].forward(x.reshape(3, -1)) * mass;
        Assert.IsTrue(ReferenceCase.RelativeError(y.reshape(3, -1), expected) < 1e-6);
        Assert.IsTrue(mass.max().item<float>() < 0.9999f);
    }
}
