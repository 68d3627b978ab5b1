using Jamba.Engine.Cpu.Kernels;

namespace Jamba.Tests.Engine;

/// <summary>
/// The int8 and q4 kernels against their scalar twins (<see cref="QuantizedReference"/>) on random data. Tolerance:
/// a float32 sum in another order than the twin's float64 one differs by rounding only, bounded here by
/// 1e-5 · Σ|w_i x_i| (an indexing or nibble error moves a result by a whole term); outputs rounded to bfloat16 may
/// differ by one bfloat16 step (2^-8 relative) on top. Thread counts and batch sizes must not change a row's bits.
/// </summary>
[TestClass]
public sealed unsafe class QuantizedKernelTests
{
    /// <summary>
    /// A random quantized matrix: weight bytes (int8 as its bits, or packed nibbles) and positive scales, for q4 values
    /// of float16 (see <see cref="Representable"/>), whose bits <see cref="Bind"/> hands the kernels.
    /// </summary>
    sealed record Matrix(byte[] Weight, float[] Scale, int InF, int OutF, int Group)
    {
        ushort[] scale16 = [];

        public QuantizedMatrix Bind(byte* w, float* s)
        {
            if (Group == 0) return QuantizedMatrix.Int8((sbyte*)w, s, InF);
            // Pinned and held by the record, so the pointer stays valid while the matrix is in use.
            scale16 = GC.AllocateArray<ushort>(Scale.Length, pinned: true);
            for (int i = 0; i < Scale.Length; i++) scale16[i] = Float16.FromSingle(Scale[i]);
            return QuantizedMatrix.Q4(w, (ushort*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref scale16[0]), InF, Group);
        }
    }

    /// <summary>A scale as the format stores it: float32 for int8 (<paramref name="group"/> 0), float16 for q4.</summary>
    static float Representable(int group, double s) => group == 0 ? (float)s : Float16.ToSingle(Float16.FromSingle((float)s));

    static Matrix RandomMatrix(Random rng, int inF, int outF, int group, bool extreme = false)
    {
        var w = new byte[group == 0 ? (long)inF * outF : (long)inF * outF / 2];
        if (extreme)
            // Only the ends of the range: int8 ±127 (and −128's bit pattern never occurs, as in the format), nibbles 0 and 15.
            for (long i = 0; i < w.Length; i++) w[i] = group == 0 ? (byte)(sbyte)(rng.Next(2) == 0 ? -127 : 127) : (byte)(rng.Next(2) == 0 ? 0x0F : 0xF0 | rng.Next(2) * 0x0F);
        else if (group == 0)
            for (long i = 0; i < w.Length; i++) w[i] = (byte)(sbyte)rng.Next(-127, 128);
        else rng.NextBytes(w);
        var s = new float[group == 0 ? outF : (long)outF * (inF / group)];
        for (long i = 0; i < s.Length; i++) s[i] = Representable(group, rng.NextDouble() * 0.02 + 1e-4);
        return new Matrix(w, s, inF, outF, group);
    }

    static float[] RandomVector(Random rng, long n, double scale = 1)
    {
        var v = new float[n];
        for (long i = 0; i < n; i++) v[i] = (float)(scale * (rng.NextDouble() * 2 - 1));
        return v;
    }

    static float[] Run(Matrix m, float[] x, float[]? bias, bool bf16, int rows, int threads)
    {
        var y = new float[rows * m.OutF];
        // The bfloat16 bias is passed as bits; the values in `bias` are already bfloat16.
        var bias16 = bias?.Select(BFloat16.FromSingle).ToArray();
        fixed (byte* w = m.Weight)
        fixed (float* s = m.Scale, xp = x, yp = y, b32 = bias)
        fixed (ushort* b16 = bias16)
            QuantizedLinearCpu.Forward(xp, m.Bind(w, s), bf16 ? b16 : b32, bf16, yp, rows, m.OutF, threads);
        return y;
    }

    static void AssertClose(Matrix m, float[] x, float[] actual, float[] expected, int rows, bool bf16, string what)
    {
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < m.OutF; o++)
            {
                float a = actual[r * m.OutF + o], e = expected[r * m.OutF + o];
                double tol = 1e-5 * QuantizedReference.AbsSum(x, m.Weight, m.Scale, r, o, m.InF, m.Group) + (bf16 ? Math.Abs(e) / 256 : 0) + 1e-30;
                if (!(Math.Abs(a - e) <= tol)) Assert.Fail($"{what}: y[{r}, {o}] = {a}, twin {e}, tolerance {tol:E2}");
            }
    }

    // (in, out, group): int8 rows on and off every loop step; q4 rows of groups 16, 32 and 64; products large enough to be split.
    static readonly (int inF, int outF, int group)[] Shapes =
    {
        (1, 1, 0), (7, 5, 0), (37, 17, 0), (64, 3, 0), (100, 33, 0), (257, 300, 0), (1024, 96, 0),
        (32, 1, 32), (96, 17, 32), (1024, 130, 32), (64, 9, 64), (192, 300, 64), (48, 7, 16),
    };

    [TestMethod]
    public void LinearMatchesScalarTwin()
    {
        var rng = new Random(1);
        foreach (var (inF, outF, group) in Shapes)
            foreach (int rows in new[] { 1, 2, 3, 5, 16 })
                foreach (bool bf16 in new[] { false, true })
                {
                    var m = RandomMatrix(rng, inF, outF, group);
                    var x = RandomVector(rng, (long)rows * inF);
                    if (bf16) x = x.Select(v => BFloat16.ToSingle(BFloat16.FromSingle(v))).ToArray();
                    var bias = rows % 2 == 1 ? RandomVector(rng, outF).Select(v => bf16 ? BFloat16.ToSingle(BFloat16.FromSingle(v)) : v).ToArray() : null;
                    string what = $"in {inF}, out {outF}, group {group}, rows {rows}, bf16 {bf16}, bias {bias is not null}";
                    var expected = QuantizedReference.Linear(x, m.Weight, m.Scale, bias, rows, inF, outF, group, bf16);
                    var one = Run(m, x, bias, bf16, rows, 1);
                    AssertClose(m, x, one, expected, rows, bf16, what);
                    CollectionAssert.AreEqual(one, Run(m, x, bias, bf16, rows, 2), $"{what}: 1 vs 2 threads");
                }
    }

    /// <summary>Each row of a batch gets the bits it gets alone (fused dots at one row, a shared dequantized row at several).</summary>
    [TestMethod]
    public void BatchRowsEqualSingleRows()
    {
        var rng = new Random(2);
        foreach (var (inF, outF, group) in Shapes)
        {
            var m = RandomMatrix(rng, inF, outF, group);
            foreach (int rows in new[] { 2, 4, 7, 16 })
            {
                var x = RandomVector(rng, (long)rows * inF);
                var batch = Run(m, x, null, false, rows, 2);
                for (int r = 0; r < rows; r++)
                {
                    var single = Run(m, x.Skip(r * inF).Take(inF).ToArray(), null, false, 1, 2);
                    CollectionAssert.AreEqual(single, batch.Skip(r * outF).Take(outF).ToArray(), $"in {inF}, group {group}, row {r} of {rows}");
                }
            }
        }
    }

    /// <summary>
    /// The q4 scales' float16 conversions: every non-negative finite float16 (subnormals included) widens to .NET's
    /// exact value, one at a time, eight at a time and a row at a time; rounding follows .NET's (nearest even) and
    /// clamps to the largest finite float16 instead of overflowing.
    /// </summary>
    [TestMethod]
    public void Float16ScalesConvertExactly()
    {
        var bits = Enumerable.Range(0, 0x7C00).Select(i => (ushort)i).ToArray();
        var widened = new float[bits.Length];
        var row = new float[bits.Length - 3];   // a scalar tail after the eights
        fixed (ushort* b = bits)
        fixed (float* w = widened, r = row)
        {
            for (int i = 0; i + 8 <= bits.Length; i += 8) System.Runtime.Intrinsics.Vector256.Store(Float16.Widen8(b + i), w + i);
            Float16.Widen(b, r, row.Length);
        }
        CollectionAssert.AreEqual(widened.Take(row.Length).ToArray(), row, "a row widened with its tail");
        for (int i = 0; i < bits.Length; i++)
        {
            float exact = (float)BitConverter.UInt16BitsToHalf(bits[i]);
            Assert.AreEqual(exact, Float16.ToSingle(bits[i]), $"bits {bits[i]:X4}");
            Assert.AreEqual(exact, widened[i], $"bits {bits[i]:X4}, eight at a time");
            Assert.AreEqual(bits[i], Float16.FromSingle(exact), $"bits {bits[i]:X4} round trip");
        }
        Assert.AreEqual((ushort)0x7BFF, Float16.FromSingle(1e30f), "clamped to 65504");
        Assert.AreEqual(BitConverter.HalfToUInt16Bits((Half)0.1f), Float16.FromSingle(0.1f));
    }

    /// <summary>
    /// Float16.FromSingle's inline rounding of the normal range against .NET's <see cref="Half"/> conversion (round to
    /// nearest even) on float32 patterns from zero to infinity, every ulp around each float16 boundary included:
    /// exact values, ties to even and odd, one ulp either side, the subnormal and overflow edges.
    /// </summary>
    [TestMethod]
    public void Float16RoundingEqualsHalfConversion()
    {
        static void Check(uint bits)
        {
            float v = BitConverter.UInt32BitsToSingle(bits);
            ushort expected = BitConverter.HalfToUInt16Bits((Half)MathF.Min(v, Float16.MaxValue));
            Assert.AreEqual(expected, Float16.FromSingle(v), $"float32 bits {bits:X8} ({v})");
        }
        for (uint b = 0; b < 0x7F800000u; b += 4093) Check(b);
        for (uint h = 0; h < 0x7C00; h++)
        {
            // A float16 value's float32 bits, and the patterns at and around the halfway point to the next one.
            uint exact = BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)h));
            uint next = BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)(h + 1)));
            uint tie = exact + (next - exact) / 2;
            foreach (uint b in new[] { exact, exact + 1, tie - 1, tie, tie + 1, next - 1 }) Check(b);
        }
        Check(0x7F800000u);   // infinity clamps
        Check(0x7FC00000u);   // NaN stays NaN
    }

    [TestMethod]
    public void ZeroRowsGiveTheBiasAndExtremeValuesStayClose()
    {
        var rng = new Random(3);
        foreach (int group in new[] { 0, 32 })
        {
            var zero = RandomMatrix(rng, 96, 40, group);
            Array.Clear(zero.Weight);
            // int8's all-zero row: q = 0 and s = 0. q4's: every nibble 8 (q = 0), s = 0.
            if (group != 0) Array.Fill(zero.Weight, (byte)0x88);
            Array.Clear(zero.Scale);
            var bias = RandomVector(rng, 40);
            var x = RandomVector(rng, 3 * 96, 1e3);
            var y = Run(zero, x, bias, false, 3, 2);
            for (int r = 0; r < 3; r++) CollectionAssert.AreEqual(bias, y.Skip(r * 40).Take(40).ToArray(), $"group {group}: zero rows");

            foreach (var (xScale, sScale) in new[] { (1e3, 1.0), (1e-3, 1e-3), (1e15, 1e15) })
            {
                var m = RandomMatrix(rng, 1024, 64, group, extreme: true);
                for (int i = 0; i < m.Scale.Length; i++) m.Scale[i] = Representable(group, m.Scale[i] * sScale);
                var xs = RandomVector(rng, 2 * 1024, xScale);
                foreach (int rows in new[] { 1, 2 })
                {
                    var got = Run(m, xs, null, false, rows, 2);
                    Assert.IsTrue(got.All(float.IsFinite), $"group {group}, x {xScale}, s {sScale}: not finite");
                    AssertClose(m, xs, got, QuantizedReference.Linear(xs, m.Weight, m.Scale, null, rows, 1024, 64, group, false), rows, false,
                        $"group {group}, x {xScale}, s {sScale}, rows {rows}");
                }
            }
        }
    }

    [TestMethod]
    public void DequantizeEqualsScalarTwinExactly()
    {
        var rng = new Random(4);
        foreach (var (inF, outF, group) in Shapes.Append((4096, 40, 32)).Append((1000, 80, 0)))
        {
            var m = RandomMatrix(rng, inF, outF, group);
            var expected = QuantizedReference.Dequantize(m.Weight, m.Scale, inF, outF, group);
            foreach (int threads in new[] { 1, 2 })
            {
                var y32 = new float[expected.Length];
                var y16 = new ushort[expected.Length];
                fixed (byte* w = m.Weight)
                fixed (float* s = m.Scale, yp = y32)
                fixed (ushort* y16p = y16)
                {
                    DequantizeCpu.ToFloat32(m.Bind(w, s), outF, yp, threads);
                    DequantizeCpu.ToBFloat16(m.Bind(w, s), outF, y16p, threads);
                }
                CollectionAssert.AreEqual(expected, y32, $"in {inF}, out {outF}, group {group}, threads {threads}: float32");
                CollectionAssert.AreEqual(expected.Select(BFloat16.FromSingle).ToArray(), y16, $"in {inF}, out {outF}, group {group}, threads {threads}: bfloat16");
            }
        }
    }

    static float Silu(double v) => (float)(v / (1 + Math.Exp(-v)));

    /// <summary>The twin of a quantized SwiGLU: down(SiLU(gate x) ⊙ up x), h in float32 as the kernel keeps it.</summary>
    static float[] SwiGluTwin(Matrix gate, Matrix up, Matrix down, float[] x, int rows)
    {
        int hidden = gate.InF, inter = gate.OutF;
        var g = QuantizedReference.Linear(x, gate.Weight, gate.Scale, null, rows, hidden, inter, gate.Group, false);
        var u = QuantizedReference.Linear(x, up.Weight, up.Scale, null, rows, hidden, inter, up.Group, false);
        var h = g.Select((v, i) => Silu(v) * u[i]).ToArray();
        return QuantizedReference.Linear(h, down.Weight, down.Scale, null, rows, inter, hidden, down.Group, false);
    }

    static double RelErr(float[] a, float[] e)
    {
        double max = Math.Max(e.Max(v => Math.Abs((double)v)), 1e-12), err = 0;
        for (int i = 0; i < a.Length; i++) err = Math.Max(err, Math.Abs((double)a[i] - e[i]));
        return err / max;
    }

    [TestMethod]
    public void SwiGluMatchesTwin()
    {
        var rng = new Random(5);
        foreach (var (hidden, inter, group) in new[] { (64, 96, 32), (96, 160, 0), (256, 512, 32), (128, 192, 64) })
            foreach (int rows in new[] { 1, 3, 16 })
            {
                var gate = RandomMatrix(rng, hidden, inter, group);
                var up = RandomMatrix(rng, hidden, inter, group);
                var down = RandomMatrix(rng, inter, hidden, group);
                var x = RandomVector(rng, (long)rows * hidden, 30);
                var expected = SwiGluTwin(gate, up, down, x, rows);
                float[] Forward(int threads)
                {
                    var h = new float[rows * inter];
                    var y = new float[rows * hidden];
                    fixed (byte* gw = gate.Weight, uw = up.Weight, dw = down.Weight)
                    fixed (float* gs = gate.Scale, us = up.Scale, ds = down.Scale, xp = x, hp = h, yp = y)
                        QuantizedSwiGluCpu.Forward(xp, gate.Bind(gw, gs), up.Bind(uw, us), down.Bind(dw, ds), hp, yp, null, false, rows, hidden, inter, threads);
                    return y;
                }
                var one = Forward(1);
                string what = $"hidden {hidden}, inter {inter}, group {group}, rows {rows}";
                Assert.IsTrue(RelErr(one, expected) <= 1e-4, $"{what}: relative error {RelErr(one, expected):E2}");
                CollectionAssert.AreEqual(one, Forward(2), $"{what}: 1 vs 2 threads");
            }
    }

    [TestMethod]
    public void ExpertsMatchTwin()
    {
        var rng = new Random(6);
        foreach (var (hidden, inter, group, k) in new[] { (64, 96, 32, 2), (96, 160, 0, 3), (256, 384, 32, 2) })
        {
            var experts = Enumerable.Range(0, k).Select(_ => (G: RandomMatrix(rng, hidden, inter, group), U: RandomMatrix(rng, hidden, inter, group), D: RandomMatrix(rng, inter, hidden, group))).ToArray();
            var x = RandomVector(rng, hidden, 30);
            var weights = RandomVector(rng, k).Select(Math.Abs).ToArray();
            var start = RandomVector(rng, hidden);
            var expected = (float[])start.Clone();
            for (int e = 0; e < k; e++)
            {
                var y = SwiGluTwin(experts[e].G, experts[e].U, experts[e].D, x, 1);
                for (int i = 0; i < hidden; i++) expected[i] += weights[e] * y[i];
            }
            float[] Forward(int threads)
            {
                var y = (float[])start.Clone();
                var h = new float[k * inter];
                var handles = experts.SelectMany(t => new[] { t.G, t.U, t.D }).SelectMany(m => new object[] { m.Weight, m.Scale })
                    .Select(a => System.Runtime.InteropServices.GCHandle.Alloc(a, System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
                try
                {
                    QuantizedMatrix* gate = stackalloc QuantizedMatrix[k], up = stackalloc QuantizedMatrix[k], down = stackalloc QuantizedMatrix[k];
                    for (int e = 0; e < k; e++)
                    {
                        QuantizedMatrix Bind(int j) => new[] { experts[e].G, experts[e].U, experts[e].D }[j]
                            .Bind((byte*)handles[6 * e + 2 * j].AddrOfPinnedObject(), (float*)handles[6 * e + 2 * j + 1].AddrOfPinnedObject());
                        gate[e] = Bind(0); up[e] = Bind(1); down[e] = Bind(2);
                    }
                    fixed (float* xp = x, hp = h, yp = y, wp = weights)
                        QuantizedSwiGluCpu.ForwardExperts(xp, gate, up, down, wp, k, hp, yp, hidden, inter, threads);
                }
                finally
                {
                    foreach (var handle in handles) handle.Free();
                }
                return y;
            }
            var one = Forward(1);
            Assert.IsTrue(RelErr(one, expected) <= 1e-4, $"hidden {hidden}, group {group}, k {k}: relative error {RelErr(one, expected):E2}");
            CollectionAssert.AreEqual(one, Forward(2), $"hidden {hidden}, group {group}, k {k}: 1 vs 2 threads");
        }
    }
}
