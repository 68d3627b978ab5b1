using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Modeling;

/// <summary>
/// <see cref="Uninitialized"/>: inside a scope a linear gets real, registered, trainable parameters of the right shape,
/// dtype and device that its forward reads (only their values are left undrawn); outside it, and after the scope is
/// disposed, TorchSharp's initialisation is kept.
/// </summary>
[TestClass]
public sealed class UninitializedTests
{
    [TestMethod]
    public void ScopedLinearHasRealRegisteredParameters()
    {
        using var scope = NewDisposeScope();
        TorchSharp.Modules.Linear linear;
        using (Uninitialized.Scope())
        {
            Assert.IsTrue(Uninitialized.Active);
            linear = Uninitialized.Linear(6, 4, hasBias: true, CPU, ScalarType.BFloat16);
        }
        Assert.IsFalse(Uninitialized.Active, "the scope ends with its using");
        var named = linear.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        CollectionAssert.AreEquivalent(new[] { "weight", "bias" }, named.Keys.ToArray());
        CollectionAssert.AreEqual(new long[] { 4, 6 }, named["weight"].shape);
        CollectionAssert.AreEqual(new long[] { 4 }, named["bias"].shape);
        foreach (var p in named.Values)
        {
            Assert.AreEqual(DeviceType.CPU, p.device_type);
            Assert.AreEqual(ScalarType.BFloat16, p.dtype);
            Assert.IsTrue(p.requires_grad);
        }
        using (no_grad())
        {
            named["weight"].copy_(arange(24, dtype: ScalarType.Float32).view(4, 6).div(10));
            named["bias"].copy_(tensor(new[] { 1f, -1f, 0.5f, 0f }));
        }
        var x = ones(2, 6, dtype: ScalarType.BFloat16);
        Assert.IsTrue(linear.forward(x).equal(nn.functional.linear(x, named["weight"], named["bias"])).all().item<bool>(),
            "the forward reads the parameters the state dict lists");
    }

    [TestMethod]
    public void OutsideAScopeTheDefaultInitialisationIsKept()
    {
        using var scope = NewDisposeScope();
        var linear = Uninitialized.Linear(64, 32, hasBias: false, CPU, ScalarType.Float32);
        var w = linear.weight!;
        // kaiming_uniform(a = √5) draws from U(±1/√in): nonzero, inside the bound, not constant.
        Assert.IsTrue(w.abs().max().item<float>() <= 1 / MathF.Sqrt(64) + 1e-6f);
        Assert.IsTrue(w.std().item<float>() > 0.01f);
    }

    /// <summary>
    /// A scoped embedding holds the full [vocab, hidden] table as its registered, trainable weight; the forward reads
    /// every row of it, and the padding row gets no gradient, as with TorchSharp's own table.
    /// </summary>
    [TestMethod]
    public void ScopedEmbeddingHasTheFullTableAndKeepsThePaddingRowsGradient()
    {
        using var scope = NewDisposeScope();
        foreach (long pad in new long[] { 0, 5 })
        {
            TorchSharp.Modules.Embedding embedding;
            using (Uninitialized.Scope()) embedding = Uninitialized.Embedding(300, 8, pad, CPU, ScalarType.Float32);
            var named = embedding.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            CollectionAssert.AreEqual(new[] { "weight" }, named.Keys.ToArray());
            var w = named["weight"];
            CollectionAssert.AreEqual(new long[] { 300, 8 }, w.shape);
            Assert.IsTrue(w.requires_grad);
            using (no_grad()) w.copy_(arange(2400, dtype: ScalarType.Float32).view(300, 8));
            var ids = tensor(new long[] { 299, pad, 3, pad });
            var y = embedding.forward(ids);
            Assert.IsTrue(y.eq(w.index_select(0, ids)).all().item<bool>(), $"pad {pad}: rows read from the whole table");
            y.sum().backward();
            var grad = w.grad!;
            Assert.AreEqual(0f, grad[pad].abs().sum().item<float>(), $"pad {pad}: no gradient for the padding row");
            Assert.AreEqual(8f, grad[3].sum().item<float>());
            Assert.AreEqual(8f, grad[299].sum().item<float>());
        }
    }

    [TestMethod]
    public void OutsideAScopeTheEmbeddingIsDrawn()
    {
        using var scope = NewDisposeScope();
        var w = Uninitialized.Embedding(400, 16, 0, CPU, ScalarType.Float32).weight!;
        // N(0, 1) with the padding row zeroed.
        Assert.AreEqual(0f, w[0].abs().sum().item<float>());
        Assert.IsTrue(Math.Abs(w[1..].std().item<float>() - 1f) < 0.1f);
    }
}
