using System.Numerics;
using Jamba.Engine.Cpu;
using Jamba.Engine.Cpu.Kernels;

namespace Jamba.Tests.Engine;

[TestClass]
public sealed unsafe class VectorMathTests
{
    [TestMethod]
    public void RoundToBFloat16EqualsTheScalarConversionOnEveryKindOfValue()
    {
        // Ties to even both ways, values that round up into the next exponent, denormals, infinities, NaN, and a sweep.
        var special = new[]
        {
            BitConverter.UInt32BitsToSingle(0x3F808000u), BitConverter.UInt32BitsToSingle(0x3F818000u), BitConverter.UInt32BitsToSingle(0x3F7FFFFFu),
            BitConverter.UInt32BitsToSingle(0x00008000u), float.Epsilon, -0f, float.MaxValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN,
        };
        var rng = new Random(3);
        var values = special.Concat(Enumerable.Range(0, 100_000).Select(_ => BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32)))).ToArray();
        int w = Vector<float>.Count;
        var lanes = new float[w];
        for (int i = 0; i + w <= values.Length; i += w)
        {
            Array.Copy(values, i, lanes, 0, w);
            var rounded = VectorMath.RoundToBFloat16(new Vector<float>(lanes));
            for (int j = 0; j < w; j++)
            {
                float expected = BFloat16.ToSingle(BFloat16.FromSingle(lanes[j]));
                if (float.IsNaN(expected)) Assert.IsTrue(float.IsNaN(rounded[j]), $"NaN from {lanes[j]}");
                else Assert.AreEqual(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(rounded[j]), $"bits of {lanes[j]:R}");
            }
        }
    }

    [TestMethod]
    public void SoftplusMatchesDoublePrecisionLibtorchFormula()
    {
        int w = Vector<float>.Count;
        var input = new float[w];
        double worst = 0;
        for (int i = 0; i < 400_000; i++)
        {
            int lane = i % w;
            input[lane] = -60f + 100f * i / 400_000f;
            if (lane != w - 1) continue;
            var result = VectorMath.Softplus(new Vector<float>(input));
            for (int j = 0; j < w; j++)
            {
                // log1p in double: the series where 1 + z would round to 1.
                double x = input[j], z = Math.Exp(-Math.Abs(x));
                double log1p = z < 1e-4 ? z - z * z / 2 + z * z * z / 3 : Math.Log(1 + z);
                double exact = x > 20 ? x : Math.Max(x, 0) + log1p;
                worst = Math.Max(worst, Math.Abs(result[j] - exact) / exact);
            }
        }
        Assert.IsTrue(worst < 1e-6, $"worst relative error {worst:E2}");
    }

    [TestMethod]
    public void ExpKeepsNaNAndClampsTheEnds()
    {
        var lanes = new float[Vector<float>.Count];
        lanes[0] = float.NaN; lanes[1] = float.NegativeInfinity; lanes[2] = -1000f; lanes[3] = 1000f;
        var e = VectorMath.Exp(new Vector<float>(lanes));
        Assert.IsTrue(float.IsNaN(e[0]), "NaN in, NaN out");
        Assert.IsTrue(e[1] > 0 && e[1] < 2e-38f && e[2] == e[1], "below the range: the smallest normal");
        Assert.IsTrue(float.IsFinite(e[3]) && e[3] > 1e38f, "above the range: e^88");
        Assert.AreEqual(1f, e[4], "e^0");
    }

    [TestMethod]
    public void ExpIsWithinAFewUlpOfDoublePrecision()
    {
        int w = Vector<float>.Count;
        var input = new float[w];
        double worst = 0;
        for (int i = 0; i < 200_000; i++)
        {
            int lane = i % w;
            input[lane] = -87f + 175f * i / 200_000f;
            if (lane != w - 1) continue;
            var result = VectorMath.Exp(new Vector<float>(input));
            for (int j = 0; j < w; j++)
            {
                double exact = Math.Exp(input[j]);
                worst = Math.Max(worst, Math.Abs(result[j] - exact) / exact);
            }
        }
        Assert.IsTrue(worst < 3e-7, $"worst relative error {worst:E2}");
    }

    [TestMethod]
    public void ExpSaturatesInsteadOfProducingGarbage()
    {
        var r = VectorMath.Exp(new Vector<float>(-1000f));
        Assert.IsTrue(r[0] >= 0f && r[0] < 1e-37f, $"exp(-1000) = {r[0]}");
        var big = VectorMath.Exp(new Vector<float>(1000f));
        Assert.IsTrue(float.IsFinite(big[0]) && big[0] > 1e38f, $"exp(1000) = {big[0]}");
        Assert.AreEqual(1f, VectorMath.Exp(Vector<float>.Zero)[0]);
    }

    /// <summary>
    /// The array forms of SiLU and softplus give a value the same bits wherever a split puts it — a whole vector or
    /// the tail — so kernels that cut channels by thread count agree across thread counts; and they compute SiLU·m.
    /// </summary>
    [TestMethod]
    public void ArrayFormsGiveTheSameBitsWhereverTheSplitFalls()
    {
        var rng = new Random(11);
        const int n = 37;
        var x = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 60 - 30)).ToArray();
        var m = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var whole = new float[n];
        var softWhole = (float[])x.Clone();
        fixed (float* px = x, pm = m, pw = whole, ps = softWhole)
        {
            VectorMath.Silu(px, pm, pw, n);
            VectorMath.Softplus(ps, n);
        }
        for (int i = 0; i < n; i++)
        {
            double silu = x[i] / (1 + Math.Exp(-x[i]));
            Assert.AreEqual(silu * m[i], whole[i], 1e-5 * Math.Max(1, Math.Abs(silu)), $"SiLU({x[i]}) · {m[i]}");
            double softplus = x[i] > 20 ? x[i] : Math.Log(1 + Math.Exp(x[i]));
            Assert.AreEqual(softplus, softWhole[i], 1e-5 * Math.Max(1, softplus), $"softplus({x[i]})");
        }
        for (int split = 1; split < n; split++)
        {
            var parts = new float[n];
            var softParts = (float[])x.Clone();
            fixed (float* px = x, pm = m, pp = parts, ps = softParts)
            {
                VectorMath.Silu(px, pm, pp, split);
                VectorMath.Silu(px + split, pm + split, pp + split, n - split);
                VectorMath.Softplus(ps, split);
                VectorMath.Softplus(ps + split, n - split);
            }
            for (int i = 0; i < n; i++)
            {
                Assert.AreEqual(BitConverter.SingleToInt32Bits(whole[i]), BitConverter.SingleToInt32Bits(parts[i]), $"SiLU of value {i}, split at {split}");
                Assert.AreEqual(BitConverter.SingleToInt32Bits(softWhole[i]), BitConverter.SingleToInt32Bits(softParts[i]), $"softplus of value {i}, split at {split}");
            }
        }
        // In place, and without a multiplier.
        var inPlace = (float[])x.Clone();
        fixed (float* p = inPlace) VectorMath.Silu(p, null, p, n);
        for (int i = 0; i < n; i++) Assert.AreEqual(x[i] / (1 + Math.Exp(-x[i])), inPlace[i], 1e-5 * Math.Max(1, Math.Abs(inPlace[i])), $"SiLU({x[i]})");
    }
}
