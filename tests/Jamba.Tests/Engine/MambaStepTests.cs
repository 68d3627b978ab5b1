using Jamba.Engine.Cpu;
using Jamba.Engine.Cpu.Kernels;
using Jamba.Modeling;
using TorchSharp;
using static Jamba.Tests.Engine.KernelAssert;
using static TorchSharp.torch;

namespace Jamba.Tests.Engine;

[TestClass]
public sealed class MambaStepTests
{
    /// <summary>
    /// <see cref="MambaRecurrence.Step2"/>, the fused step's two channels at once, gives two <see cref="MambaRecurrence.Step"/>
    /// calls' bits (outputs and states), for state sizes with and without a scalar tail.
    /// </summary>
    [TestMethod]
    public unsafe void TwoChannelStepGivesOneChannelStepsBits()
    {
        var rng = new Random(5);
        foreach (int n in new[] { 16, 13, 5, 8 })
        {
            float[] Draw(float lo, float hi) => Enumerable.Range(0, n).Select(_ => lo + (hi - lo) * (float)rng.NextDouble()).ToArray();
            float[] a0 = Draw(-8, -0.1f), a1 = Draw(-8, -0.1f), h0 = Draw(-2, 2), h1 = Draw(-2, 2), b = Draw(-1, 1), c = Draw(-1, 1);
            float dt0 = 0.7f, dt1 = 0.013f, dtx0 = dt0 * 1.3f, dtx1 = dt1 * -0.4f;
            float[] g0 = (float[])h0.Clone(), g1 = (float[])h1.Clone();
            fixed (float* pa0 = a0, pa1 = a1, ph0 = h0, ph1 = h1, pg0 = g0, pg1 = g1, pb = b, pc = c)
            {
                float y0 = MambaRecurrence.Step(n, pg0, pg0, pa0, dt0, dtx0, pb, pc, null);
                float y1 = MambaRecurrence.Step(n, pg1, pg1, pa1, dt1, dtx1, pb, pc, null);
                var (z0, z1) = MambaRecurrence.Step2(n, ph0, pa0, dt0, dtx0, ph1, pa1, dt1, dtx1, pb, pc);
                Assert.AreEqual(BitConverter.SingleToInt32Bits(y0), BitConverter.SingleToInt32Bits(z0), $"n {n}: y of channel 0");
                Assert.AreEqual(BitConverter.SingleToInt32Bits(y1), BitConverter.SingleToInt32Bits(z1), $"n {n}: y of channel 1");
            }
            CollectionAssert.AreEqual(g0, h0, $"n {n}: state of channel 0");
            CollectionAssert.AreEqual(g1, h1, $"n {n}: state of channel 1");
        }
    }

    /// <summary>Decode steps through the fused kernel equal the Modeling mixer, <see cref="MambaMixer"/>, state included.</summary>
    [TestMethod]
    public void FusedStepMatchesTheModelingMixer()
    {
        // batch, d_state (not a multiple of the vector width in one case), inner norms, conv bias, d_conv.
        var f32 = ScalarType.Float32;
        var cases = new (int batch, int state, bool norms, bool convBias, int conv, ScalarType dtype)[]
        {
            (1, 8, true, true, 4, f32), (3, 5, true, false, 4, f32), (2, 16, false, true, 2, f32), (1, 16, true, true, 1, f32),
            (2, 16, true, true, 4, ScalarType.BFloat16), (1, 5, false, false, 3, ScalarType.BFloat16),
        };
        int seed = 0;
        foreach (var c in cases)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var config = TestConfigs.Tiny(k =>
            {
                k.MambaDState = c.state; k.MambaInnerLayerNorms = c.norms; k.MambaConvBias = c.convBias; k.MambaDConv = c.conv;
                k.AttnLayerPeriod = 8; k.AttnLayerOffset = 7; k.NumHiddenLayers = 1; k.MaxPositionEmbeddings = 64;
            });
            var mixer = new MambaMixer(config);
            JambaInit.Apply(mixer, config, seed);
            mixer.to(c.dtype);
            // bfloat16: the kernel computes in float32 throughout, the twin rounds to bfloat16 between operations.
            double tol = c.dtype == f32 ? 1e-5 : 5e-2;
            var g = new Generator((ulong)seed++);
            var prompt = randn(new long[] { c.batch, 5, config.HiddenSize }, generator: g).to_type(c.dtype);
            var steps = randn(new long[] { c.batch, 3, config.HiddenSize }, generator: g).to_type(c.dtype);
            using var fusedCache = new HybridCache(config, c.batch, 16, dtype: c.dtype);
            using var twinCache = new HybridCache(config, c.batch, 16, dtype: c.dtype);
            mixer.Forward(prompt, null, fusedCache.Mamba(0));
            mixer.Forward(prompt, null, twinCache.Mamba(0));
            for (int t = 0; t < 3; t++)
            {
                var token = steps.narrow(1, t, 1);
                var state = fusedCache.Mamba(0);
                var y = MambaStep.TryForward(mixer.in_proj.forward(token), state.Conv, state.Ssm, mixer.conv1d.weight!, mixer.conv1d.bias,
                    ((DenseLinear)mixer.x_proj).weight!, c.norms ? mixer.dt_layernorm.weight : null, c.norms ? mixer.b_layernorm.weight : null,
                    c.norms ? mixer.c_layernorm.weight : null, mixer.dt_layernorm.Eps, ((DenseLinear)mixer.dt_proj).weight!, ((DenseLinear)mixer.dt_proj).bias!, mixer.A_log, mixer.D);
                Assert.IsNotNull(y, $"{c}: the kernel runs for these inputs");
                var fused = mixer.out_proj.forward(y.to_type(c.dtype));
                var twin = mixer.Forward(token, null, twinCache.Mamba(0));
                Close(fused, twin, tol, $"{c}, step {t}: output");
                Close(fusedCache.Mamba(0).Ssm, twinCache.Mamba(0).Ssm, tol, $"{c}, step {t}: SSM state");
                Close(fusedCache.Mamba(0).Conv, twinCache.Mamba(0).Conv, 0, $"{c}, step {t}: conv window");
            }
        }
    }
}
