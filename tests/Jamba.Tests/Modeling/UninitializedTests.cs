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
}
