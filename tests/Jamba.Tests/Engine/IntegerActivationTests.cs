using Jamba.Engine.Cpu.Kernels;
using Jamba.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using BFloat16 = Jamba.Engine.Cpu.Kernels.BFloat16;

namespace Jamba.Tests.Engine;

/// <summary>
/// The integer-activation kernels: <see cref="Int8Activations"/> gives <see cref="Quantizer.QuantizeActivations"/>'s
/// r and s bit for bit (vectorized and scalar); <see cref="IntegerDot"/> and the linear/SwiGLU kernels built on it give
/// their scalar twin's bits (the float32 order is the same, so any difference is an indexing, nibble or saturation
/// error), on one thread and two; and they agree with the tensor twin (<see cref="QuantizedLinear"/> with
/// Activations = Int8, a float32 matmul of the dequantized weights and the fake-quantized input) within
/// 1e-5 · Σ|w_i t_i|, the rounding of a float32 sum in another order.
/// </summary>
[TestClass]
public sealed unsafe class IntegerActivationTests
{
    /// <summary>Random rows with exact .5 ties (a block whose largest value is 127, so x / s = x), zeros, a zero block and huge values.</summary>
    static float[] Awkward(Random rng, int rows, int n)
    {
        var x = new float[rows * n];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (rng.Next(4) == 0 ? 1e3f : 1f);
        for (int r = 0; r < rows; r++)
        {
            int b = rng.Next(n / 32) * 32 + r * n;
            for (int i = 0; i < 32; i++) x[b + i] = rng.Next(-127, 127) + 0.5f;
            x[b + 7] = 127f;
            if (n >= 64) Array.Clear(x, (b - r * n + 32) % n + r * n, 32);
            x[r * n + rng.Next(n)] = 0f;
            x[r * n + rng.Next(n)] = 3e30f;
            x[r * n + rng.Next(n)] = -1e-30f;
        }
        return x;
    }

    static (sbyte[] values, float[] scales) TensorTwin(float[] x, int rows, int n)
    {
        using var scope = NewDisposeScope();
        var (r, s) = Quantizer.QuantizeActivations(tensor(x, new long[] { rows, n }));
        return (r.data<sbyte>().ToArray(), s.contiguous().data<float>().ToArray());
    }

    [TestMethod]
    public void QuantizeGivesTheTensorTwinsBits()
    {
        var rng = new Random(1);
        foreach (int n in new[] { 32, 64, 96, 2048 })
            foreach (int rows in new[] { 1, 3 })
            {
                var x = Awkward(rng, rows, n);
                var (values, scales) = TensorTwin(x, rows, n);
                foreach (bool scalar in new[] { false, true })
                {
                    var buffer = new byte[Int8Activations.Bytes(rows, n)];
                    fixed (float* xp = x)
                    fixed (byte* bp = buffer)
                    {
                        var q = Int8Activations.Quantize(xp, rows, n, bp);
                        if (scalar)
                            for (int r = 0; r < rows; r++) Int8Activations.QuantizeRowScalar(xp + r * n, n, q.Row(r));
                        for (int r = 0; r < rows; r++)
                        {
                            var row = q.Row(r);
                            for (int i = 0; i < n; i++)
                            {
                                Assert.AreEqual(values[r * n + i], row.Values[i], $"n {n}, scalar {scalar}: r[{r}, {i}] of x = {x[r * n + i]:R}");
                                Assert.AreEqual(Math.Abs((int)values[r * n + i]), (int)row.Magnitudes[i], $"n {n}: |r|[{r}, {i}]");
                            }
                            for (int k = 0; k < n / 32; k++)
                            {
                                Assert.AreEqual(BitConverter.SingleToInt32Bits(scales[r * (n / 32) + k]), BitConverter.SingleToInt32Bits(row.Scales[k]), $"n {n}, scalar {scalar}: s[{r}, {k}]");
                                for (int j = 0; j < 8; j++)
                                {
                                    int sum = 0;
                                    for (int e = 0; e < 4; e++) sum += values[r * n + 32 * k + 4 * j + e];
                                    Assert.AreEqual(8 * sum, row.Offsets[8 * k + j], $"n {n}: offset [{r}, {k}, {j}]");
                                    Assert.AreEqual(row.Scales[k], row.BlockScales[8 * k + j], $"n {n}: block scale [{r}, {k}, {j}]");
                                }
                            }
                            // The pairs of blocks for q4 in groups of 32: halves interleaved, a missing second block zeros.
                            for (int p = 0; p < (n / 32 + 1) / 2; p++)
                                for (int h = 0; h < 2; h++)
                                {
                                    int k = 2 * p + h;
                                    sbyte At(int i) => k < n / 32 ? values[r * n + 32 * k + i] : (sbyte)0;
                                    for (int i = 0; i < 16; i++)
                                    {
                                        Assert.AreEqual(At(i), row.Pairs[64 * p + 16 * h + i], $"n {n}, scalar {scalar}: pair {p}, block {h}, low {i}");
                                        Assert.AreEqual(At(16 + i), row.Pairs[64 * p + 32 + 16 * h + i], $"n {n}, scalar {scalar}: pair {p}, block {h}, high {i}");
                                    }
                                    for (int j = 0; j < 4; j++)
                                    {
                                        int sum = 0;
                                        for (int e = 0; e < 4; e++) sum += At(4 * j + e) + At(16 + 4 * j + e);
                                        Assert.AreEqual(8 * sum, row.PairOffsets[8 * p + 4 * h + j], $"n {n}, scalar {scalar}: pair offset [{p}, {h}, {j}]");
                                    }
                                }
                        }
                    }
                }
            }
    }

    /// <summary>A quantized linear of random weights (int8, or q4 in groups of <paramref name="group"/>) and its stored bytes.</summary>
    sealed class Layer : IDisposable
    {
        public readonly QuantizedLinear Module;
        public readonly byte[] Weight;
        /// <summary>The stored scales' bytes: float32 (int8) or float16 (q4).</summary>
        public readonly byte[] Scale;
        public readonly int InF, OutF, Group;

        public Layer(int inF, int outF, int group, int seed, bool extreme = false)
        {
            (InF, OutF, Group) = (inF, outF, group);
            Module = new QuantizedLinear(inF, outF, false, group == 0 ? JambaQuantization.Int8 : JambaQuantization.Q4, group == 0 ? 32 : group);
            var w = randn(outF, inF, generator: new Generator((ulong)seed));
            // The ends of the range everywhere: int8 ±127 and nibbles 0 and 15 against |r| = 127 test the int16 pair sums.
            if (extreme) w = w.sign();
            Module.Quantize(w);
            if (extreme && group > 0) Module.weight.copy_(randint(0, 2, Module.weight.shape, generator: new Generator((ulong)seed)).mul(0xF0).add(0x0F).to_type(ScalarType.Byte));
            Module.Activations = ActivationQuantization.Int8;
            Weight = group == 0 ? Module.weight.data<sbyte>().ToArray().Select(v => (byte)v).ToArray() : Module.weight.data<byte>().ToArray();
            Scale = Module.weight_scale.contiguous().bytes.ToArray();
        }

        public QuantizedMatrix Bind(byte* w, byte* s) => Group == 0 ? QuantizedMatrix.Int8((sbyte*)w, (float*)s, InF) : QuantizedMatrix.Q4(w, (ushort*)s, InF, Group);

        public void Dispose() => Module.Dispose();
    }

    static float[] Forward(Layer l, float[] x, int rows, float[]? bias, bool bf16, int threads)
    {
        var y = new float[rows * l.OutF];
        var buffer = new byte[Int8Activations.Bytes(rows, l.InF)];
        var bias16 = bias?.Select(BFloat16.FromSingle).ToArray();
        fixed (byte* w = l.Weight, bp = buffer, s = l.Scale)
        fixed (float* xp = x, yp = y, b32 = bias)
        fixed (ushort* b16 = bias16)
            QuantizedLinearCpu.Forward(Int8Activations.Quantize(xp, rows, l.InF, bp), l.Bind(w, s), bf16 ? b16 : b32, bf16, yp, l.OutF, threads);
        return y;
    }

    /// <summary>Each output from the scalar twin: <see cref="IntegerDot.Reference"/>, then the bias and bfloat16 rounding as the kernel applies them.</summary>
    static float[] Twin(Layer l, float[] x, int rows, float[]? bias, bool bf16)
    {
        var y = new float[rows * l.OutF];
        var buffer = new byte[Int8Activations.Bytes(rows, l.InF)];
        fixed (byte* w = l.Weight, bp = buffer, s = l.Scale)
        fixed (float* xp = x)
        {
            var m = l.Bind(w, s);
            var q = Int8Activations.Quantize(xp, rows, l.InF, bp);
            for (int r = 0; r < rows; r++)
            {
                var row = q.Row(r);
                for (int i = 0; i < l.InF; i++) Assert.AreEqual(row.Values[i], (sbyte)(row.Magnitudes[i] * Math.Sign(row.Values[i])));
                Int8Activations.QuantizeRowScalar(xp + r * l.InF, l.InF, row);
                for (int o = 0; o < l.OutF; o++)
                {
                    float v = IntegerDot.Reference(m, o, row);
                    if (bias is not null) v = bf16 ? v + BFloat16.ToSingle(BFloat16.FromSingle(bias[o])) : v + bias[o];
                    y[r * l.OutF + o] = bf16 ? BFloat16.ToSingle(BFloat16.FromSingle(v)) : v;
                }
            }
        }
        return y;
    }

    static readonly (int inF, int outF, int group)[] Shapes =
    {
        (32, 1, 0), (64, 7, 0), (96, 33, 0), (2048, 129, 0), (32, 5, 32), (96, 33, 32), (160, 17, 32), (224, 6, 32), (2048, 129, 32),
        (64, 9, 64), (192, 5, 64), (2048, 65, 64),
    };

    [TestMethod]
    public void LinearGivesTheScalarTwinsBits()
    {
        var rng = new Random(2);
        int seed = 0;
        foreach (var (inF, outF, group) in Shapes)
            foreach (bool extreme in new[] { false, true })
            {
                using var layer = new Layer(inF, outF, group, ++seed, extreme);
                foreach (int rows in new[] { 1, 2, 3, 4, 5 })
                    foreach (bool bf16 in new[] { false, true })
                    {
                        var x = Awkward(rng, rows, inF);
                        if (extreme) for (int i = 0; i < x.Length; i++) x[i] = rng.Next(2) == 0 ? -1f : 1f;
                        var bias = rows == 2 ? Enumerable.Range(0, outF).Select(_ => (float)rng.NextDouble()).ToArray() : null;
                        var twin = Twin(layer, x, rows, bias, bf16);
                        var one = Forward(layer, x, rows, bias, bf16, 1);
                        string what = $"in {inF}, out {outF}, group {group}, extreme {extreme}, rows {rows}, bf16 {bf16}";
                        CollectionAssert.AreEqual(twin, one, $"{what}: kernel against its scalar twin");
                        CollectionAssert.AreEqual(one, Forward(layer, x, rows, bias, bf16, 2), $"{what}: 1 vs 2 threads");
                    }
            }
    }

    [TestMethod]
    public void LinearMatchesTheTensorTwin()
    {
        var rng = new Random(3);
        int seed = 100;
        foreach (var (inF, outF, group) in Shapes)
            foreach (int rows in new[] { 1, 3 })
            {
                using var scope = NewDisposeScope();
                using var layer = new Layer(inF, outF, group, ++seed);
                var x = Awkward(rng, rows, inF);
                for (int i = 0; i < x.Length; i++) if (Math.Abs(x[i]) > 1e4f) x[i] = 7f;     // keep Σ|w t| meaningful in float32
                var xt = tensor(x, new long[] { rows, inF });
                using var _ = no_grad();
                var expected = layer.Module.forward(xt).data<float>().ToArray();
                var bound = matmul(Quantizer.FakeQuantizeActivations(xt).abs(), layer.Module.Dequantized(ScalarType.Float32).abs().t()).data<float>().ToArray();
                var got = Forward(layer, x, rows, null, false, 2);
                for (int i = 0; i < got.Length; i++)
                    Assert.IsTrue(Math.Abs(got[i] - expected[i]) <= 1e-5 * bound[i] + 1e-30,
                        $"in {inF}, out {outF}, group {group}, rows {rows}: y[{i}] = {got[i]}, tensor twin {expected[i]}, bound {bound[i]:E2}");
            }
    }

    /// <summary>
    /// SwiGLU with integer activations: on one and two threads the same bits; against three integer linears composed
    /// by hand (gate and up, SiLU, down) the same bits, since every product is the linear's own row dot; against the
    /// tensor twin within 1e-3 normwise (h is computed in another order there, which may move an int8 rounding of h by
    /// one step of its block); k experts at once equal to the experts one after the other, accumulated.
    /// </summary>
    [TestMethod]
    public void SwiGluMatchesItsTwins()
    {
        foreach (var (hidden, inter, group) in new[] { (64, 96, 0), (64, 96, 32), (128, 192, 64), (2048, 64, 32) })
            foreach (int rows in new[] { 1, 3 })
            {
                using var scope = NewDisposeScope();
                using var gate = new Layer(hidden, inter, group, 1);
                using var up = new Layer(hidden, inter, group, 2);
                using var down = new Layer(inter, hidden, group, 3);
                var x = Awkward(new Random(rows), rows, hidden);
                for (int i = 0; i < x.Length; i++) if (Math.Abs(x[i]) > 1e4f) x[i] = 7f;
                string what = $"hidden {hidden}, inter {inter}, group {group}, rows {rows}";
                float[] Run(int threads, bool accumulate = false, float[]? start = null, float scale = 1f, int k = 0)
                {
                    var y = start?.ToArray() ?? new float[rows * hidden];
                    var h = new float[rows * inter];
                    var xq = new byte[Int8Activations.Bytes(rows, hidden)];
                    var hq = new byte[Int8Activations.Bytes(Math.Max(rows, 2), inter)];
                    var scales = Enumerable.Repeat(scale, Math.Max(rows, 2)).ToArray();
                    fixed (byte* gw = gate.Weight, uw = up.Weight, dw = down.Weight, xb = xq, hb = hq, gs = gate.Scale, us = up.Scale, ds = down.Scale)
                    fixed (float* xp = x, yp = y, hp = new float[2 * inter], hr = h, sp = scales)
                    {
                        var a = Int8Activations.Quantize(xp, rows, hidden, xb);
                        if (k == 0)
                        {
                            QuantizedSwiGluCpu.Forward(xp, a, gate.Bind(gw, gs), up.Bind(uw, us), down.Bind(dw, ds), hr, hb, yp, sp, accumulate, rows, hidden, inter, threads);
                            return y;
                        }
                        // Two experts (both the same matrices) for row 0.
                        var g = stackalloc QuantizedMatrix[2]; var u = stackalloc QuantizedMatrix[2]; var d = stackalloc QuantizedMatrix[2];
                        for (int e = 0; e < 2; e++) { g[e] = gate.Bind(gw, gs); u[e] = up.Bind(uw, us); d[e] = down.Bind(dw, ds); }
                        QuantizedSwiGluCpu.ForwardExperts(xp, a.Slice(0), g, u, d, sp, k, hp, hb, yp, hidden, inter, threads);
                        return y;
                    }
                }
                var one = Run(1);
                CollectionAssert.AreEqual(one, Run(2), $"{what}: 1 vs 2 threads");
                // By hand: gate and up through the linear kernel, SiLU(g) · u, down through the linear kernel.
                var g0 = Forward(gate, x, rows, null, false, 1);
                var u0 = Forward(up, x, rows, null, false, 1);
                var hh = new float[rows * inter];
                fixed (float* gp = g0, upp = u0, hp = hh) VectorMath.Silu(gp, upp, hp, rows * inter);
                CollectionAssert.AreEqual(Forward(down, hh, rows, null, false, 1), one, $"{what}: against the linears composed");
                using (no_grad())
                {
                    var xt = tensor(x, new long[] { rows, hidden });
                    var twin = down.Module.forward(nn.functional.silu(gate.Module.forward(xt)) * up.Module.forward(xt)).data<float>().ToArray();
                    double num = 0, den = 0;
                    for (int i = 0; i < twin.Length; i++) { num += Math.Pow(one[i] - twin[i], 2); den += Math.Pow(twin[i], 2); }
                    Assert.IsTrue(Math.Sqrt(num / den) <= 1e-3, $"{what}: {Math.Sqrt(num / den):E2} from the tensor twin");
                }
                if (rows == 1)
                {
                    // k = 2 experts with weights 0.25 each: y += 0.25 · e0 then += 0.25 · e1, as two accumulated MLP calls.
                    var start = Enumerable.Range(0, hidden).Select(i => (float)i / hidden).ToArray();
                    var experts = Run(2, start: start, scale: 0.25f, k: 2);
                    var twice = Run(1, accumulate: true, start: Run(1, accumulate: true, start: start, scale: 0.25f), scale: 0.25f);
                    CollectionAssert.AreEqual(twice, experts, $"{what}: k experts against one after the other");
                }
            }
    }
}
