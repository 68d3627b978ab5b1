using Jamba.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Training;

[TestClass]
public sealed class OptimizerTests
{
    /// <summary>Three AdamW steps on two scalars against the formula written out in doubles.</summary>
    [TestMethod]
    public void AdamWMatchesTheFormula()
    {
        using var w = nn.Parameter(tensor(new[] { 0.5f }));
        using var b = nn.Parameter(tensor(new[] { -1.0f }));
        var groups = new[]
        {
            new ParameterGroup("decay", new[] { ("w", (Tensor)w) }, 0.1),
            new ParameterGroup("no_decay", new[] { ("b", (Tensor)b) }, 0.0),
        };
        using var opt = new AdamW(groups, 0.9, 0.95, 1e-8);
        double pw = 0.5, pb = -1.0, mw = 0, vw = 0, mb = 0, vb = 0;
        double[] lrs = { 0.1, 0.05, 0.02 };
        for (int t = 1; t <= 3; t++)
        {
            opt.ZeroGrad();
            // loss = w² · 3 + b → dL/dw = 6w, dL/db = 1
            var loss = (w * w * 3).sum() + b.sum();
            loss.backward();
            double gw = 6 * pw, gb = 1;
            double lr = lrs[t - 1];
            opt.Step(lr);
            pw *= 1 - lr * 0.1;
            mw = 0.9 * mw + 0.1 * gw; vw = 0.95 * vw + 0.05 * gw * gw;
            mb = 0.9 * mb + 0.1 * gb; vb = 0.95 * vb + 0.05 * gb * gb;
            double bc1 = 1 - Math.Pow(0.9, t), bc2 = 1 - Math.Pow(0.95, t);
            pw -= lr / bc1 * mw / (Math.Sqrt(vw) / Math.Sqrt(bc2) + 1e-8);
            pb -= lr / bc1 * mb / (Math.Sqrt(vb) / Math.Sqrt(bc2) + 1e-8);
            Assert.AreEqual(pw, w.item<float>(), 1e-5, $"w after step {t}");
            Assert.AreEqual(pb, b.item<float>(), 1e-5, $"b after step {t}");
        }
        Assert.AreEqual(3, opt.StepCount);
    }

    [TestMethod]
    public void ParametersWithoutGradientAreSkipped()
    {
        using var used = nn.Parameter(tensor(new[] { 1.0f }));
        using var unused = nn.Parameter(tensor(new[] { 2.0f }));
        using var opt = new AdamW(new[] { new ParameterGroup("decay", new[] { ("used", (Tensor)used), ("unused", (Tensor)unused) }, 0.5) });
        (used * 2).sum().backward();
        opt.Step(0.1);
        Assert.AreEqual(2.0f, unused.item<float>(), "no gradient: neither decayed nor moved");
        var state = opt.StateDict();
        Assert.IsTrue(state.ContainsKey("exp_avg.used"));
        Assert.IsFalse(state.ContainsKey("exp_avg.unused"));
        foreach (var t in state.Values) t.Dispose();
    }

    [TestMethod]
    public void StateRoundTripContinuesIdentically()
    {
        Tensor Run(AdamW opt, Tensor p, int steps)
        {
            for (int i = 0; i < steps; i++)
            {
                opt.ZeroGrad();
                (p * p).sum().backward();
                opt.Step(0.01);
            }
            return p.detach().clone();
        }
        using var p1 = nn.Parameter(tensor(new[] { 1.0f, -2.0f, 3.0f }));
        using var o1 = new AdamW(new[] { new ParameterGroup("d", new[] { ("p", (Tensor)p1) }, 0.1) });
        using var straight = Run(o1, p1, 6);

        using var p2 = nn.Parameter(tensor(new[] { 1.0f, -2.0f, 3.0f }));
        using var o2 = new AdamW(new[] { new ParameterGroup("d", new[] { ("p", (Tensor)p2) }, 0.1) });
        Run(o2, p2, 3).Dispose();
        var state = o2.StateDict();
        using var p3 = nn.Parameter(p2.detach().clone());
        using var o3 = new AdamW(new[] { new ParameterGroup("d", new[] { ("p", (Tensor)p3) }, 0.1) });
        o3.LoadStateDict(state);
        foreach (var t in state.Values) t.Dispose();
        using var resumed = Run(o3, p3, 3);
        Assert.IsTrue(straight.equal(resumed).all().item<bool>(), $"{straight.str()} vs {resumed.str()}");
    }

    [TestMethod]
    public void Bf16ParametersKeepAFloat32Master()
    {
        using var p = nn.Parameter(ones(4, dtype: ScalarType.BFloat16));
        using var opt = new AdamW(new[] { new ParameterGroup("d", new[] { ("p", (Tensor)p) }, 0.0) });
        // Updates of 1e-4 are below bf16's resolution at 1.0 (2^-7): without a master they would all vanish.
        for (int i = 0; i < 200; i++)
        {
            opt.ZeroGrad();
            p.to_type(ScalarType.Float32).sum().backward();
            opt.Step(1e-4);
        }
        var state = opt.StateDict();
        Assert.AreEqual(ScalarType.Float32, state["master.p"].dtype);
        Assert.AreEqual(1 - 200 * 1e-4, state["master.p"][0].item<float>(), 1e-4);
        Assert.AreEqual(0.98, p[0].to_type(ScalarType.Float32).item<float>(), 0.005, "the bf16 parameter follows the master");
        foreach (var t in state.Values) t.Dispose();
    }

    [TestMethod]
    public void NoDecayCoversNormsBiasesALogAndD()
    {
        foreach (var n in new[] { "model.layers.0.input_layernorm.weight", "model.final_layernorm.weight", "model.layers.1.mamba.dt_layernorm.weight",
                     "model.layers.1.mamba.A_log", "model.layers.1.mamba.D", "model.layers.1.mamba.conv1d.bias", "model.layers.1.mamba.dt_proj.bias" })
            Assert.IsTrue(ParameterGroups.IsNoDecay(n), n);
        foreach (var n in new[] { "model.embed_tokens.weight", "model.layers.1.mamba.in_proj.weight", "model.layers.1.feed_forward.router.weight",
                     "model.layers.2.self_attn.q_proj.weight", "lm_head.weight", "model.layers.1.mamba.conv1d.weight" })
            Assert.IsFalse(ParameterGroups.IsNoDecay(n), n);
    }

    [TestMethod]
    public void ScheduleWarmsUpThenDecaysToTheMinimum()
    {
        var s = new LearningRateSchedule(1e-3, 10, 110, 0.1);
        Assert.AreEqual(1e-4, s.At(1), 1e-15);
        Assert.AreEqual(1e-3, s.At(10), 1e-15);
        Assert.AreEqual(1e-4, s.At(110), 1e-15);
        Assert.AreEqual(0.55e-3, s.At(60), 1e-12, "half way through the decay: the mean of peak and minimum");
        for (int i = 11; i < 110; i++) Assert.IsTrue(s.At(i + 1) <= s.At(i));
        Assert.AreEqual(1e-4, s.At(500), 1e-15);
    }

    [TestMethod]
    public void ClippingScalesToTheMaximumNorm()
    {
        using var p = nn.Parameter(zeros(2));
        (p * tensor(new[] { 3.0f, 4.0f })).sum().backward();
        double norm = GradientClipping.ClipByGlobalNorm(new[] { (Tensor)p }, 1.0);
        Assert.AreEqual(5.0, norm, 1e-6);
        Assert.AreEqual(0.6, p.grad!.select(0, 0).item<float>(), 1e-5);
        Assert.AreEqual(0.8, p.grad!.select(0, 1).item<float>(), 1e-5);
    }
}
