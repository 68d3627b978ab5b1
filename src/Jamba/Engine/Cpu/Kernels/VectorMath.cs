using System.Numerics;
using System.Runtime.CompilerServices;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// Vector math for the kernels' inner loops. The runtime's <see cref="Vector.Exp(Vector{float})"/> is accurate
/// over the whole float range at roughly twice the cost; the scan only ever exponentiates Δ·A ≤ 0 and the
/// SiLU arguments, where a Cody–Waite range reduction plus a degree-6 polynomial is within ~2 ulp of libm.
/// </summary>
internal static class VectorMath
{
    const float Log2E = 1.44269504088896341f;
    // ln 2 split so that k · LnHi is exact for |k| ≤ 2^9 and the remainder carries the lost bits.
    const float LnHi = 0.693359375f, LnLo = -2.12194440e-4f;
    // Below this exp underflows to the smallest normal; above it overflows.
    const float Lowest = -87.33654f, Highest = 88.0f;

    /// <summary>e^x per lane; results for x below ≈ -87.3 are ≈1.2e-38 rather than denormals or zero.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static Vector<float> Exp(Vector<float> x)
    {
        // The native min/max (one instruction each, where Min/Max add IEEE NaN and signed-zero fix-ups), with the
        // constant first: x86 returns the second operand when either is NaN, so a NaN stays NaN.
        x = Vector.MinNative(new Vector<float>(Highest), Vector.MaxNative(new Vector<float>(Lowest), x));
        var k = Vector.Round(x * Log2E);
        var r = Vector.FusedMultiplyAdd(k, new Vector<float>(-LnLo), Vector.FusedMultiplyAdd(k, new Vector<float>(-LnHi), x));
        // e^r = 1 + r + r² P(r) on |r| ≤ ln2/2, P a minimax fit of (e^r - 1 - r) / r².
        var p = new Vector<float>(1.9875691500e-4f);
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1.3981999507e-3f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(8.3334519073e-3f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(4.1665795894e-2f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1.6666665459e-1f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(5.0000001201e-1f));
        var er = Vector.FusedMultiplyAdd(p, r * r, r) + Vector<float>.One;
        // 2^k built directly in the exponent field; k ∈ [-126, 127] after the clamp, so it is always a normal.
        var scale = Vector.AsVectorSingle(Vector.ShiftLeft(Vector.ConvertToInt32Native(k) + new Vector<int>(127), 23));
        return er * scale;
    }

    /// <summary>
    /// Each lane rounded to the nearest bfloat16 (ties to even, NaN kept a NaN) and widened back: the value a float32
    /// takes when stored in a bfloat16 tensor. Lane for lane what <c>BFloat16.FromSingle</c> then <c>ToSingle</c> give.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static Vector<float> RoundToBFloat16(Vector<float> x)
    {
        var u = Vector.AsVectorUInt32(x);
        var rounded = (u + new Vector<uint>(0x7FFFu) + (Vector.ShiftRightLogical(u, 16) & Vector<uint>.One)) & new Vector<uint>(0xFFFF0000u);
        var nan = (u | new Vector<uint>(0x00400000u)) & new Vector<uint>(0xFFFF0000u);
        return Vector.AsVectorSingle(Vector.ConditionalSelect(Vector.AsVectorUInt32(Vector.Equals(x, x)), rounded, nan));
    }

    /// <summary>
    /// libtorch's softplus per lane: x above 20, else log(1 + e^x), computed as max(x, 0) + log1p(e^−|x|) so that
    /// neither large x overflows nor small results lose their digits. log1p(z) on (0, 1] is 2·atanh(z / (2 + z)),
    /// an odd series in s = z / (2 + z) ≤ 1/3 whose terms to s¹⁵ leave a relative error below 1e-8 — where the
    /// runtime's <see cref="Vector.Log(Vector{float})"/> costs several times as much.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static Vector<float> Softplus(Vector<float> x)
    {
        var z = Exp(-Vector.Abs(x));
        var s = z / (new Vector<float>(2f) + z);
        var s2 = s * s;
        var p = new Vector<float>(1f / 15);
        p = Vector.FusedMultiplyAdd(p, s2, new Vector<float>(1f / 13));
        p = Vector.FusedMultiplyAdd(p, s2, new Vector<float>(1f / 11));
        p = Vector.FusedMultiplyAdd(p, s2, new Vector<float>(1f / 9));
        p = Vector.FusedMultiplyAdd(p, s2, new Vector<float>(1f / 7));
        p = Vector.FusedMultiplyAdd(p, s2, new Vector<float>(1f / 5));
        p = Vector.FusedMultiplyAdd(p, s2, new Vector<float>(1f / 3));
        var log1p = (Vector.FusedMultiplyAdd(p * s2, s, s)) * 2f;
        var y = Vector.Max(x, Vector<float>.Zero) + log1p;
        return Vector.ConditionalSelect(Vector.GreaterThan(x, new Vector<float>(20f)), x, y);
    }

    /// <summary>x[i] = softplus(x[i]) for n values, the tail through a zero-padded vector (see <see cref="Silu(float*, float*, float*, int)"/>).</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static unsafe void Softplus(float* x, int n)
    {
        int i = 0, w = Vector<float>.Count;
        for (; i <= n - w; i += w) Softplus(Vector.Load(x + i)).Store(x + i);
        int rest = n - i;
        if (rest == 0) return;
        float* a = stackalloc float[w];
        for (int j = 0; j < w; j++) a[j] = j < rest ? x[i + j] : 0f;
        var t = Softplus(Vector.Load(a));
        for (int j = 0; j < rest; j++) x[i + j] = t[j];
    }

    /// <summary>x · sigmoid(x) per lane.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static Vector<float> Silu(Vector<float> x) => x / (Vector<float>.One + Exp(-x));

    /// <summary>
    /// y[i] = SiLU(x[i]) · times[i] (times null: 1) for n values; y may be x or times. The values past the last whole
    /// vector go through a zero-padded vector rather than scalar code, so a value gets the same bits wherever a
    /// block boundary puts it — a kernel that splits its work by thread count stays exact across thread counts.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static unsafe void Silu(float* x, float* times, float* y, int n)
    {
        int i = 0, w = Vector<float>.Count;
        for (; i <= n - w; i += w)
        {
            var s = Silu(Vector.Load(x + i));
            (times == null ? s : s * Vector.Load(times + i)).Store(y + i);
        }
        int rest = n - i;
        if (rest == 0) return;
        float* a = stackalloc float[w], b = stackalloc float[w];
        for (int j = 0; j < w; j++)
        {
            a[j] = j < rest ? x[i + j] : 0f;
            b[j] = j < rest && times != null ? times[i + j] : 0f;
        }
        var t = Silu(Vector.Load(a));
        if (times != null) t *= Vector.Load(b);
        for (int j = 0; j < rest; j++) y[i + j] = t[j];
    }
}
