using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// A weight-only quantized matrix [out, in] as the kernels read it (the layout of <c>docs/checkpoints.md</c>, "Quantized checkpoints"):
/// <list type="bullet">
/// <item>int8 (<see cref="GroupSize"/> 0): <see cref="Weight"/> sbyte [out, in], <see cref="Scale"/> float32 [out]; w = q · s.</item>
/// <item>q4: <see cref="Weight"/> byte [out, in / 2], <see cref="GroupScale"/> float16 [out, in / G]. A group of G weights is G/2
/// bytes; byte j holds element j in its low nibble and element j + G/2 in its high nibble, each stored as q + 8,
/// q ∈ [−8, 7]; w = q · s of its group.</item>
/// </list>
/// The row operations below are the kernels' building blocks. Every one sums a row in <see cref="DecodeLinearCpu.DotF32"/>'s
/// order over the row dequantized to float32 — for int8 the raw q (the row's scale multiplies the sum once), for q4
/// q · s (each weight as the float32 tensor path dequantizes it) — so a row's result has the same bits whether it is
/// computed fused (<see cref="Dot"/>, <see cref="DotPair"/>), or dequantized into L1 and shared by several input rows
/// (<see cref="DotRows"/>): batch size and thread count never change a row's bits.
/// </summary>
internal readonly unsafe struct QuantizedMatrix
{
    /// <summary>sbyte [out, in] (int8) or byte [out, in / 2] (q4).</summary>
    public readonly void* Weight;
    /// <summary>int8: the float32 scales [out].</summary>
    public readonly float* Scale;
    /// <summary>q4: the float16 scales [out, in / G] (bits).</summary>
    public readonly ushort* GroupScale;
    /// <summary>The row length (in_features).</summary>
    public readonly int InFeatures;
    /// <summary>Weights per q4 scale, a multiple of 16 dividing <see cref="InFeatures"/>; 0 for int8.</summary>
    public readonly int GroupSize;

    QuantizedMatrix(void* weight, float* scale, ushort* groupScale, int inFeatures, int groupSize)
    {
        Weight = weight;
        Scale = scale;
        GroupScale = groupScale;
        InFeatures = inFeatures;
        GroupSize = groupSize;
    }

    /// <summary>An int8 matrix: per-output-channel scales.</summary>
    public static QuantizedMatrix Int8(sbyte* weight, float* scale, int inFeatures) => new(weight, scale, null, inFeatures, 0);

    /// <summary>A q4 matrix of group size <paramref name="groupSize"/> (see <see cref="SupportsGroup"/>).</summary>
    public static QuantizedMatrix Q4(byte* weight, ushort* scale, int inFeatures, int groupSize)
    {
        if (!SupportsGroup(inFeatures, groupSize))
            throw new ArgumentException($"q4 group size {groupSize} must be a positive multiple of 16 dividing in_features {inFeatures}.", nameof(groupSize));
        return new(weight, null, scale, inFeatures, groupSize);
    }

    /// <summary>Whether the kernels take q4 rows of <paramref name="inFeatures"/> in groups of <paramref name="groupSize"/>.</summary>
    public static bool SupportsGroup(int inFeatures, int groupSize) => groupSize > 0 && groupSize % 16 == 0 && inFeatures % groupSize == 0;

    /// <summary>Whether this is a q4 matrix (else int8).</summary>
    public bool IsQ4 => GroupSize > 0;

    /// <summary>Bytes of weights and scales per output row (what a product streams).</summary>
    public long RowBytes => IsQ4 ? InFeatures / 2 + InFeatures / GroupSize * sizeof(ushort) : InFeatures + sizeof(float);

    /// <summary>Row <paramref name="o"/> · x.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public float Dot(long o, float* x) =>
        IsQ4 ? DotQ4((byte*)Weight + o * (InFeatures / 2), GroupScale + o * (InFeatures / GroupSize), x, InFeatures, GroupSize)
             : DotInt8((sbyte*)Weight + o * InFeatures, x, InFeatures) * Scale[o];

    /// <summary>
    /// Row <paramref name="a"/> of <paramref name="ma"/> · xa and row <paramref name="b"/> of <paramref name="mb"/> · xb
    /// in one pass where the two matrices have one layout (eight FMA chains and two weight streams instead of four and
    /// one); the same bits as two <see cref="Dot"/> calls.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static (float, float) DotPair(in QuantizedMatrix ma, long a, float* xa, in QuantizedMatrix mb, long b, float* xb)
    {
        int n = ma.InFeatures;
        if (n != mb.InFeatures || ma.GroupSize != mb.GroupSize) return (ma.Dot(a, xa), mb.Dot(b, xb));
        if (!ma.IsQ4)
        {
            var (sa, sb) = DotInt8Pair((sbyte*)ma.Weight + a * n, xa, (sbyte*)mb.Weight + b * n, xb, n);
            return (sa * ma.Scale[a], sb * mb.Scale[b]);
        }
        int g = ma.GroupSize, groups = n / g;
        return DotQ4Pair((byte*)ma.Weight + a * (n / 2), ma.GroupScale + a * groups, xa, (byte*)mb.Weight + b * (n / 2), mb.GroupScale + b * groups, xb, n, g);
    }

    /// <summary>
    /// Row <paramref name="o"/> dotted with each of <paramref name="rows"/> inputs x [rows, in], sum r stored at
    /// y[r · <paramref name="yStride"/>]: the row is dequantized once into <paramref name="buffer"/> [in] (in L1) and
    /// shared by all inputs through <see cref="DecodeLinearCpu.DotRowsF32"/>.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public void DotRows(long o, float* x, int rows, float* y, long yStride, float* buffer)
    {
        DequantizeRow(o, buffer, raw: true);
        DecodeLinearCpu.DotRowsF32(buffer, x, InFeatures, rows, y, yStride);
        if (!IsQ4)
        {
            float s = Scale[o];
            for (int r = 0; r < rows; r++) y[r * yStride] *= s;
        }
    }

    /// <summary>
    /// Row <paramref name="o"/> as float32 into <paramref name="y"/> [in]: q · s; or, for int8 with
    /// <paramref name="raw"/>, q alone (the form the dots sum before the row's scale).
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public void DequantizeRow(long o, float* y, bool raw = false)
    {
        int n = InFeatures;
        if (!IsQ4)
        {
            sbyte* q = (sbyte*)Weight + o * n;
            float s = raw ? 1f : Scale[o];
            int i = 0;
            if (Avx2.IsSupported)
            {
                var vs = Vector256.Create(s);
                for (; i <= n - 8; i += 8) (Widen(q + i) * vs).Store(y + i);
            }
            for (; i < n; i++) y[i] = q[i] * s;
            return;
        }
        int g = GroupSize, half = g / 2, groups = n / g;
        byte* p = (byte*)Weight + o * (n / 2);
        ushort* scale = GroupScale + o * groups;
        for (int k = 0; k < groups; k++, p += half, y += g)
        {
            float s = Float16.ToSingle(scale[k]);
            int j = 0;
            if (Avx2.IsSupported)
            {
                var vs = Vector256.Create(s); var vm = Vector256.Create(-8f * s);
                for (; j <= half - 8; j += 8)
                {
                    var bytes = Avx2.ConvertToVector256Int32(p + j);
                    Low(bytes, vs, vm).Store(y + j);
                    High(bytes, vs, vm).Store(y + half + j);
                }
            }
            for (; j < half; j++)
            {
                y[j] = ((p[j] & 15) - 8) * s;
                y[half + j] = ((p[j] >> 4) - 8) * s;
            }
        }
    }

    // ---- int8 ----
    // The row dots are calls, not inlined: inlined into a kernel's already large loop body the JIT ran out of inlining
    // budget for their vector helpers, and a helper left as a call per eight weights made the int8 product three times slower.

    /// <summary>Eight int8 weights as float32 (sign-extended, then converted: exact).</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> Widen(sbyte* q) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q));

    /// <summary>Σ q_i x_i in <see cref="DecodeLinearCpu.DotF32"/>'s order over the widened row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotInt8(sbyte* w, float* x, int n)
    {
        if (!Avx2.IsSupported) return DotWidenedInt8(w, x, n);
        var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            s0 = Vector256.FusedMultiplyAdd(Widen(w + i), Vector256.Load(x + i), s0);
            s1 = Vector256.FusedMultiplyAdd(Widen(w + i + 8), Vector256.Load(x + i + 8), s1);
            s2 = Vector256.FusedMultiplyAdd(Widen(w + i + 16), Vector256.Load(x + i + 16), s2);
            s3 = Vector256.FusedMultiplyAdd(Widen(w + i + 24), Vector256.Load(x + i + 24), s3);
        }
        for (; i <= n - 8; i += 8) s0 = Vector256.FusedMultiplyAdd(Widen(w + i), Vector256.Load(x + i), s0);
        float sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++) sum += w[i] * x[i];
        return sum;
    }

    /// <summary><see cref="DotInt8"/> of two rows (each with its input) in one pass, each in exactly its order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static (float, float) DotInt8Pair(sbyte* a, float* xa, sbyte* b, float* xb, int n)
    {
        if (!Avx2.IsSupported) return (DotInt8(a, xa, n), DotInt8(b, xb, n));
        var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        var t0 = s0; var t1 = s0; var t2 = s0; var t3 = s0;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            s0 = Vector256.FusedMultiplyAdd(Widen(a + i), Vector256.Load(xa + i), s0);
            t0 = Vector256.FusedMultiplyAdd(Widen(b + i), Vector256.Load(xb + i), t0);
            s1 = Vector256.FusedMultiplyAdd(Widen(a + i + 8), Vector256.Load(xa + i + 8), s1);
            t1 = Vector256.FusedMultiplyAdd(Widen(b + i + 8), Vector256.Load(xb + i + 8), t1);
            s2 = Vector256.FusedMultiplyAdd(Widen(a + i + 16), Vector256.Load(xa + i + 16), s2);
            t2 = Vector256.FusedMultiplyAdd(Widen(b + i + 16), Vector256.Load(xb + i + 16), t2);
            s3 = Vector256.FusedMultiplyAdd(Widen(a + i + 24), Vector256.Load(xa + i + 24), s3);
            t3 = Vector256.FusedMultiplyAdd(Widen(b + i + 24), Vector256.Load(xb + i + 24), t3);
        }
        for (; i <= n - 8; i += 8)
        {
            s0 = Vector256.FusedMultiplyAdd(Widen(a + i), Vector256.Load(xa + i), s0);
            t0 = Vector256.FusedMultiplyAdd(Widen(b + i), Vector256.Load(xb + i), t0);
        }
        float sa = Vector256.Sum((s0 + s1) + (s2 + s3)), sb = Vector256.Sum((t0 + t1) + (t2 + t3));
        for (; i < n; i++)
        {
            sa += a[i] * xa[i];
            sb += b[i] * xb[i];
        }
        return (sa, sb);
    }

    /// <summary>Without AVX2: the row widened on the stack a slice at a time, summed by <see cref="DecodeLinearCpu.DotF32"/>.</summary>
    static float DotWidenedInt8(sbyte* w, float* x, int n)
    {
        float[]? heap = n > 1 << 14 ? new float[n] : null;
        float* stack = stackalloc float[heap is null ? n : 0];
        fixed (float* pinned = heap)
        {
            float* row = heap is null ? stack : pinned;
            for (int i = 0; i < n; i++) row[i] = w[i];
            return DecodeLinearCpu.DotF32(row, x, n);
        }
    }

    // ---- q4 ----

    /// <summary>
    /// The low nibbles of eight bytes (already zero-extended to int32 lanes) as weights (n − 8) · s: one FMA,
    /// n · s + (−8 s), whose exact result is (n − 8) · s and is rounded once — the same bits as the product.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> Low(Vector256<int> bytes, Vector256<float> s, Vector256<float> minus8s) =>
        Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(bytes & Vector256.Create(15)), s, minus8s);

    /// <summary>The high nibbles of eight bytes as weights, as <see cref="Low"/>.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> High(Vector256<int> bytes, Vector256<float> s, Vector256<float> minus8s) =>
        Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(Vector256.ShiftRightLogical(bytes, 4)), s, minus8s);

    /// <summary>
    /// Σ w_i x_i, w = q · s, in <see cref="DecodeLinearCpu.DotF32"/>'s order (the row length is a multiple of 16, so at
    /// most one 8-wide step follows the 32-wide ones and there is no scalar tail).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotQ4(byte* w, ushort* scale, float* x, int n, int group)
    {
        if (!Avx2.IsSupported) return DotDequantizedQ4(w, scale, x, n, group);
        var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        if (group == 32)
        {
            // One group per 32-wide step: bytes 0–7 give elements 0–7 (low) and 16–23 (high), bytes 8–15 give 8–15 and 24–31.
            for (int k = 0; k < n / 32; k++, w += 16, x += 32)
            {
                float sk = Float16.ToSingle(scale[k]);
                var vs = Vector256.Create(sk); var vm = Vector256.Create(-8f * sk);
                var b0 = Avx2.ConvertToVector256Int32(w);
                var b1 = Avx2.ConvertToVector256Int32(w + 8);
                s0 = Vector256.FusedMultiplyAdd(Low(b0, vs, vm), Vector256.Load(x), s0);
                s1 = Vector256.FusedMultiplyAdd(Low(b1, vs, vm), Vector256.Load(x + 8), s1);
                s2 = Vector256.FusedMultiplyAdd(High(b0, vs, vm), Vector256.Load(x + 16), s2);
                s3 = Vector256.FusedMultiplyAdd(High(b1, vs, vm), Vector256.Load(x + 24), s3);
            }
            return Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            s0 = Vector256.FusedMultiplyAdd(Eight(w, scale, i, group), Vector256.Load(x + i), s0);
            s1 = Vector256.FusedMultiplyAdd(Eight(w, scale, i + 8, group), Vector256.Load(x + i + 8), s1);
            s2 = Vector256.FusedMultiplyAdd(Eight(w, scale, i + 16, group), Vector256.Load(x + i + 16), s2);
            s3 = Vector256.FusedMultiplyAdd(Eight(w, scale, i + 24, group), Vector256.Load(x + i + 24), s3);
        }
        for (; i <= n - 8; i += 8) s0 = Vector256.FusedMultiplyAdd(Eight(w, scale, i, group), Vector256.Load(x + i), s0);
        return Vector256.Sum((s0 + s1) + (s2 + s3));
    }

    /// <summary>
    /// <see cref="DotQ4"/> of two rows, one after the other. Not one pass as for int8 and bfloat16: two rows' eight
    /// accumulators, their scales and the nibble temporaries need more than AVX2's sixteen vector registers, and the
    /// accumulators the JIT then kept on the stack made the pass slower than two single ones.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    internal static (float, float) DotQ4Pair(byte* a, ushort* sa, float* xa, byte* b, ushort* sb, float* xb, int n, int group) =>
        (DotQ4(a, sa, xa, n, group), DotQ4(b, sb, xb, n, group));

    /// <summary>
    /// Elements i … i + 7 of a q4 row (i a multiple of 8; a group's halves are multiples of 8 long, so the eight lie
    /// in one half of one group): the low or high nibbles of eight consecutive bytes.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    static Vector256<float> Eight(byte* w, ushort* scale, int i, int group)
    {
        int k = i / group, e = i - k * group, half = group / 2;
        float sk = Float16.ToSingle(scale[k]);
        var vs = Vector256.Create(sk); var vm = Vector256.Create(-8f * sk);
        byte* p = w + k * half + (e < half ? e : e - half);
        var bytes = Avx2.ConvertToVector256Int32(p);
        return e < half ? Low(bytes, vs, vm) : High(bytes, vs, vm);
    }

    /// <summary>Without AVX2: the row dequantized on the stack, summed by <see cref="DecodeLinearCpu.DotF32"/>.</summary>
    static float DotDequantizedQ4(byte* w, ushort* scale, float* x, int n, int group)
    {
        float[]? heap = n > 1 << 14 ? new float[n] : null;
        float* stack = stackalloc float[heap is null ? n : 0];
        fixed (float* pinned = heap)
        {
            float* row = heap is null ? stack : pinned;
            int half = group / 2;
            for (int i = 0; i < n; i++)
            {
                int k = i / group, e = i % group;
                byte b = w[k * half + (e < half ? e : e - half)];
                row[i] = ((e < half ? b & 15 : b >> 4) - 8) * Float16.ToSingle(scale[k]);
            }
            return DecodeLinearCpu.DotF32(row, x, n);
        }
    }
}
