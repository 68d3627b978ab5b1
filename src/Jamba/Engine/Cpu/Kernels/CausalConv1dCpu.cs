using System.Numerics;
using System.Runtime.CompilerServices;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// CPU kernels for the causal depthwise convolution + SiLU. A causal tap k of a width-K kernel is the row
/// shifted right by s = K-1-k, so every pass is a contiguous multiply-add over one channel's time row; rows are
/// spread over threads.
/// </summary>
internal static unsafe class CausalConv1dCpu
{
    // A property, not a cached field, so the JIT sees a constant (AggressiveOptimization methods skip static-readonly folding).
    static int W { [MethodImpl(CpuKernelSupport.Hot)] get => Vector<float>.Count; }

    /// <summary>dst[i] += w · src[i] for i in [0, count).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Axpy(float* dst, float* src, float w, int count)
    {
        int i = 0;
        for (; i <= count - W; i += W) (Vector.Load(dst + i) + Vector.Load(src + i) * w).Store(dst + i);
        for (; i < count; i++) dst[i] += w * src[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Dot(float* a, float* b, int count)
    {
        var acc = Vector<float>.Zero;
        int i = 0;
        for (; i <= count - W; i += W) acc += Vector.Load(a + i) * Vector.Load(b + i);
        float s = Vector.Sum(acc);
        for (; i < count; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>Pre-activation conv(x) + bias of one row into <paramref name="pre"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PreActivation(float* xr, float* w, float bias, int k, int length, float* pre)
    {
        new Span<float>(pre, length).Fill(bias);
        for (int tap = 0; tap < k; tap++)
        {
            int s = k - 1 - tap;
            if (s < length) Axpy(pre + s, xr, w[tap], length - s);
        }
    }

    /// <summary>y = SiLU(conv(x) + bias); x, y [batch, channels, length]; weight [channels, K]; bias [channels] or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* x, float* weight, float* bias, float* y, int batch, int channels, int length, int k, int threads)
    {
        int groups = CpuKernelSupport.GroupCount(batch, channels, threads, (long)length * k);
        int perGroup = (channels + groups - 1) / groups;
        CpuKernelSupport.For(batch * groups, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (item) =>
        {
            int b = item / groups, g = item % groups, d1 = Math.Min(channels, (g + 1) * perGroup);
            for (int d = g * perGroup; d < d1; d++)
            {
                long row = ((long)b * channels + d) * length;
                float* yr = y + row;
                PreActivation(x + row, weight + (long)d * k, bias == null ? 0f : bias[d], k, length, yr);
                int i = 0;
                for (; i <= length - W; i += W)
                {
                    var v = Vector.Load(yr + i);
                    (v / (Vector<float>.One + VectorMath.Exp(-v))).Store(yr + i);
                }
                for (; i < length; i++) yr[i] = yr[i] / (1f + MathF.Exp(-yr[i]));
            }
        });
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: gx [batch, channels, length] directly; weight and bias gradients per batch
    /// ([batch, channels, K], [batch, channels]) so threads never share an accumulator.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float* x, float* weight, float* bias, float* gy, float* gx, float* gwPerBatch, float* gbPerBatch,
        int batch, int channels, int length, int k, int threads)
    {
        int groups = CpuKernelSupport.GroupCount(batch, channels, threads, (long)length * k * 3);
        int perGroup = (channels + groups - 1) / groups;
        CpuKernelSupport.For(batch * groups, threads, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (item) =>
        {
            int b = item / groups, g = item % groups, d1 = Math.Min(channels, (g + 1) * perGroup);
            var scratch = new float[length];
            fixed (float* gpre = scratch)
                for (int d = g * perGroup; d < d1; d++)
                {
                    long row = ((long)b * channels + d) * length, bd = (long)b * channels + d;
                    float* xr = x + row, gyr = gy + row, gxr = gx + row, w = weight + (long)d * k;
                    // The forward kept nothing but x, so rebuild the pre-activation to get SiLU's derivative.
                    PreActivation(xr, w, bias == null ? 0f : bias[d], k, length, gpre);
                    int i = 0;
                    for (; i <= length - W; i += W)
                    {
                        var v = Vector.Load(gpre + i);
                        var sg = Vector<float>.One / (Vector<float>.One + VectorMath.Exp(-v));
                        (Vector.Load(gyr + i) * sg * (Vector<float>.One + v * (Vector<float>.One - sg))).Store(gpre + i);
                    }
                    for (; i < length; i++)
                    {
                        float v = gpre[i], sg = 1f / (1f + MathF.Exp(-v));
                        gpre[i] = gyr[i] * sg * (1f + v * (1f - sg));
                    }
                    new Span<float>(gxr, length).Clear();
                    for (int tap = 0; tap < k; tap++)
                    {
                        int s = k - 1 - tap;
                        if (s >= length) { gwPerBatch[bd * k + tap] = 0f; continue; }
                        Axpy(gxr, gpre + s, w[tap], length - s);
                        gwPerBatch[bd * k + tap] = Dot(gpre + s, xr, length - s);
                    }
                    float sum = 0f;
                    for (int t = 0; t < length; t++) sum += gpre[t];
                    gbPerBatch[bd] = sum;
                }
        });
    }

    /// <summary>
    /// One decode step: rolls every channel's window [batch, channels, K] left in place, appends x [batch, channels],
    /// and writes y = SiLU(window · weight + bias) [batch, channels].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Step(float* window, float* x, float* weight, float* bias, float* y, int batch, int channels, int k)
    {
        for (long bd = 0; bd < (long)batch * channels; bd++)
        {
            int d = (int)(bd % channels);
            float* s = window + bd * k, w = weight + (long)d * k;
            float acc = bias == null ? 0f : bias[d];
            for (int i = 0; i < k - 1; i++) { s[i] = s[i + 1]; acc += s[i] * w[i]; }
            s[k - 1] = x[bd];
            acc += s[k - 1] * w[k - 1];
            y[bd] = acc / (1f + MathF.Exp(-acc));
        }
    }
}
