using System.Numerics;
using System.Runtime.CompilerServices;

namespace Jamba.Engine.Cpu.Kernels;

/// <summary>
/// The Mamba recurrence in float32, one channel at one position: h ← exp(Δ a) ⊙ h + (Δ x) b, then y = C · h. The
/// selective scan's forward, the recompute in its backward, its decode step and the engine's fused Mamba step all
/// advance their states through these methods, so for the same inputs they compute the same bits. The slow twin
/// every one of them is tested against is <c>Jamba.Ops.SelectiveScan.Reference</c>.
/// </summary>
internal static unsafe class MambaRecurrence
{
    static int W { [MethodImpl(CpuKernelSupport.Hot)] get => Vector<float>.Count; }

    /// <summary>exp(Δ a) for one vector of the state: how much of the old state survives the step.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static Vector<float> Decay(Vector<float> a, float dt) => VectorMath.Exp(a * dt);

    /// <summary>One vector of the new state: decay ⊙ h + (Δ x) b.</summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static Vector<float> Advance(Vector<float> h, Vector<float> decay, Vector<float> b, float dtx) => decay * h + b * dtx;

    /// <summary>
    /// Advances a state of <paramref name="n"/> elements from <paramref name="hIn"/> into <paramref name="hOut"/> (the
    /// same pointer updates it in place) and returns C · h of the new state, a vector at a time and then element by
    /// element. <paramref name="dt"/> is Δ, <paramref name="dtx"/> is Δ x; <paramref name="a"/>, <paramref name="b"/>,
    /// <paramref name="c"/> are the channel's A row and the position's B and C. When <paramref name="decay"/> is not
    /// null the step's exp(Δ a) is stored there too (the backward reuses it).
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static float Step(int n, float* hIn, float* hOut, float* a, float dt, float dtx, float* b, float* c, float* decay)
    {
        int nv = n - n % W, j = 0;
        var acc = Vector<float>.Zero;
        for (; j < nv; j += W)
        {
            var e = Decay(Vector.Load(a + j), dt);
            if (decay != null) e.Store(decay + j);
            var hv = Advance(Vector.Load(hIn + j), e, Vector.Load(b + j), dtx);
            hv.Store(hOut + j);
            acc += Vector.Load(c + j) * hv;
        }
        float y = Vector.Sum(acc);
        for (; j < n; j++)
        {
            float e = MathF.Exp(a[j] * dt);
            if (decay != null) decay[j] = e;
            float hs = e * hIn[j] + b[j] * dtx;
            hOut[j] = hs;
            y += c[j] * hs;
        }
        return y;
    }

    /// <summary>
    /// <see cref="Step"/> for two channels at one position (states updated in place), their arithmetic interleaved:
    /// one channel's exponentials are a chain of dependent operations, too long for the core to overlap with the next
    /// channel's on its own. Each channel's operations are <see cref="Step"/>'s, so the bits are the same.
    /// </summary>
    [MethodImpl(CpuKernelSupport.Hot)]
    public static (float, float) Step2(int n, float* h0, float* a0, float dt0, float dtx0, float* h1, float* a1, float dt1, float dtx1, float* b, float* c)
    {
        int nv = n - n % W, j = 0;
        var acc0 = Vector<float>.Zero;
        var acc1 = Vector<float>.Zero;
        for (; j < nv; j += W)
        {
            var e0 = Decay(Vector.Load(a0 + j), dt0);
            var e1 = Decay(Vector.Load(a1 + j), dt1);
            var bj = Vector.Load(b + j);
            var hv0 = Advance(Vector.Load(h0 + j), e0, bj, dtx0);
            var hv1 = Advance(Vector.Load(h1 + j), e1, bj, dtx1);
            hv0.Store(h0 + j);
            hv1.Store(h1 + j);
            var cj = Vector.Load(c + j);
            acc0 += cj * hv0;
            acc1 += cj * hv1;
        }
        float y0 = Vector.Sum(acc0), y1 = Vector.Sum(acc1);
        for (; j < n; j++)
        {
            float s0 = MathF.Exp(a0[j] * dt0) * h0[j] + b[j] * dtx0;
            float s1 = MathF.Exp(a1[j] * dt1) * h1[j] + b[j] * dtx1;
            h0[j] = s0;
            h1[j] = s1;
            y0 += c[j] * s0;
            y1 += c[j] * s1;
        }
        return (y0, y1);
    }
}
