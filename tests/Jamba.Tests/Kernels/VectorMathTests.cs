using System.Numerics;
using Jamba.Kernels;

namespace Jamba.Tests.Kernels;

[TestClass]
public sealed class VectorMathTests
{
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
}
