using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using static Jamba.Engine.Cpu.Kernels.CpuKernelSupport;

namespace Jamba.Ops;

/// <summary>
/// The Mamba selective scan: s_t = exp(Δ_t A) s_(t-1) + Δ_t B_t x_t, y_t = C_t · s_t + D x_t, optionally gated
/// by SiLU(z). Shapes: x, Δ, z [batch, channels, length]; A [channels, state]; B, C [batch, length, state];
/// D [channels]; state [batch, channels, state]. Computation is float32 whatever the input dtype.
/// </summary>
public static class SelectiveScan
{
    /// <summary>
    /// The scan as the Mamba mixer applies it: returns y [batch, channels, length] in x's dtype. With a
    /// <paramref name="state"/> [batch, channels, state] (float32, a cache's; zeros before the first position) the scan
    /// starts from it and leaves the final state in it; without one it starts from zeros and, under autograd, keeps
    /// nothing the caller does not use (see <see cref="ForwardOutput"/>).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor? z, Tensor? state)
    {
        if (state is null) return ForwardOutput(x, delta, A, B, C, D, z);
        if (x.size(2) == 1)
            return Step(state, x.squeeze(2), delta.squeeze(2), A, B.squeeze(1), C.squeeze(1), D, z?.squeeze(2)).unsqueeze(2);
        var (y, last) = Forward(x, delta, A, B, C, D, z, state);
        state.copy_(last);
        last.Dispose();
        return y;
    }

    /// <summary>
    /// The scan as the reference's slow path writes it: discretise everything up front, then one step per
    /// position. Obviously correct and slow; the twin the fast paths are tested against.
    /// </summary>
    /// <returns>y [batch, channels, length] in x's dtype and the final state [batch, channels, state] in float32.</returns>
    public static (Tensor y, Tensor state) Reference(Tensor x, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D,
        Tensor? z = null, Tensor? initialState = null)
    {
        using var scope = NewDisposeScope();
        long batch = x.size(0), channels = x.size(1), length = x.size(2), n = A.size(1);
        var xf = x.to_type(ScalarType.Float32);
        var df = delta.to_type(ScalarType.Float32);
        var dA = exp(df.unsqueeze(-1) * A.to_type(ScalarType.Float32).unsqueeze(1));           // (b, d, l, n)
        var dBx = df.unsqueeze(-1) * B.to_type(ScalarType.Float32).unsqueeze(1) * xf.unsqueeze(-1); // (b, d, l, n)
        var Cf = C.to_type(ScalarType.Float32);
        var state = initialState?.to_type(ScalarType.Float32) ?? zeros(batch, channels, n, dtype: ScalarType.Float32, device: x.device);
        // unbind rather than select(t) per step: the same values, but autograd then gathers the per-step gradients
        // with one stack instead of scattering each into its own zero-filled copy of the whole (b, d, l, n) tensor,
        // which made backward through the reference quadratic in length (minutes at length 2048).
        var dAs = dA.unbind(2); var dBxs = dBx.unbind(2); var Cs = Cf.unbind(1);
        var ys = new Tensor[length];
        for (long t = 0; t < length; t++)
        {
            state = dAs[t] * state + dBxs[t];
            ys[t] = matmul(state, Cs[t].unsqueeze(-1)).squeeze(-1);                                // (b, d)
        }
        var y = stack(ys, dim: -1) + xf * D.to_type(ScalarType.Float32).unsqueeze(-1);
        if (z is not null) y = y * nn.functional.silu(z.to_type(ScalarType.Float32));
        return (y.to_type(x.dtype).MoveToOuterDisposeScope(), state.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The scan used by the model (full sequences, with autograd). On CPU it runs the fused kernel (as a custom
    /// autograd node when gradients are needed); on any other device the chunked tensor-op scan.
    /// </summary>
    /// <returns>y [batch, channels, length] in x's dtype and the final state [batch, channels, state] in float32.</returns>
    public static (Tensor y, Tensor state) Forward(Tensor x, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D,
        Tensor? z = null, Tensor? initialState = null)
    {
        if (!AllOnCpu(x, delta, A, B, C, D, z, initialState) || !FitsSpan(x, B, C))
            return SelectiveScanChunked.Forward(x, delta, A, B, C, D, z, initialState);
        bool needsGrad = is_grad_enabled() && new[] { x, delta, A, B, C, D, z, initialState }.Any(t => t is not null && t.requires_grad);
        if (!needsGrad)
        {
            var (y, state, _) = RunCpu(x, delta, A, B, C, D, z, initialState, SelectiveScanCpu.DefaultChunk, keepCheckpoints: false);
            return (y, state);
        }
        var outputs = SelectiveScanFunction.apply(x, delta, A, B, C, D, z!, initialState!, SelectiveScanCpu.DefaultChunk);
        return (outputs[0], outputs[1]);
    }

    /// <summary>
    /// Runs the fused forward kernel on CPU tensors of any float dtype. With <paramref name="keepCheckpoints"/> it
    /// also returns the per-chunk states the backward needs, [batch, channels, chunks, state].
    /// </summary>
    internal static unsafe (Tensor y, Tensor state, Tensor? checkpoints) RunCpu(Tensor x, Tensor delta, Tensor A,
        Tensor B, Tensor C, Tensor D, Tensor? z, Tensor? h0, int chunk, bool keepCheckpoints)
    {
        using var scope = NewDisposeScope();
        var (xf, df, af, bf, cf, dv) = (F32(x), F32(delta), F32(A), F32(B), F32(C), F32(D));
        var zf = z is null ? null : F32(z);
        var hf = h0 is null ? null : F32(h0);
        var p = CpuBuffers(xf, df, af, bf, cf, dv, zf, hf, chunk);
        var y = empty(x.shape, ScalarType.Float32);
        var state = empty(new long[] { p.Batch, p.Channels, p.State }, ScalarType.Float32);
        var ck = keepCheckpoints ? empty(new long[] { p.Batch, p.Channels, p.Chunks, p.State }, ScalarType.Float32) : null;
        SelectiveScanCpu.Forward(p, Ptr(y), Ptr(state), PtrOrNull(ck), Threads);
        var yOut = y.dtype == x.dtype ? y : y.to_type(x.dtype);
        return (yOut.MoveToOuterDisposeScope(), state.MoveToOuterDisposeScope(), ck?.MoveToOuterDisposeScope());
    }

    /// <summary>The kernel's view of float32 contiguous CPU inputs, after checking every shape against x and A.</summary>
    internal static unsafe ScanBuffers CpuBuffers(Tensor x, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor? z, Tensor? h0, int chunk)
    {
        long batch = x.size(0), channels = x.size(1), length = x.size(2), n = A.size(1);
        Check(delta, batch, channels, length); if (z is not null) Check(z, batch, channels, length);
        Check(A, channels, n); Check(B, batch, length, n); Check(C, batch, length, n); Check(D, channels);
        if (h0 is not null) Check(h0, batch, channels, n);
        return new ScanBuffers
        {
            X = Ptr(x), Delta = Ptr(delta), A = Ptr(A), B = Ptr(B), C = Ptr(C), D = Ptr(D), Z = PtrOrNull(z), H0 = PtrOrNull(h0),
            Batch = (int)batch, Channels = (int)channels, Length = (int)length, State = (int)n, Chunk = Math.Max(1, chunk),
        };
    }

    // The kernel trusts its pointers, so a shape mistake must stop here rather than read out of bounds.
    static void Check(Tensor t, params long[] shape)
    {
        if (!t.shape.SequenceEqual(shape))
            throw new ArgumentException($"Selective scan: expected shape [{string.Join(", ", shape)}], got [{string.Join(", ", t.shape)}].");
    }

    /// <summary>
    /// <see cref="Forward"/> for callers that do not need the final state (a full sequence without a cache, as in
    /// training): returns y [batch, channels, length] only. With gradients on, the autograd node then has y as its
    /// only output, so nothing the caller drops is needed by backward.
    /// </summary>
    public static Tensor ForwardOutput(Tensor x, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor? z = null, Tensor? initialState = null)
    {
        bool fused = AllOnCpu(x, delta, A, B, C, D, z, initialState) && FitsSpan(x, B, C);
        bool needsGrad = is_grad_enabled() && new[] { x, delta, A, B, C, D, z, initialState }.Any(t => t is not null && t.requires_grad);
        if (!fused || !needsGrad)
        {
            var (y, state) = Forward(x, delta, A, B, C, D, z, initialState);
            state.Dispose();
            return y;
        }
        return SelectiveScanFunction.apply(x, delta, A, B, C, D, z!, initialState!, SelectiveScanCpu.DefaultChunk, false)[0];
    }

    /// <summary>
    /// One decode step, updating <paramref name="state"/> [batch, channels, state] (float32) in place.
    /// x, Δ, z: [batch, channels]; B, C: [batch, state]. Returns y [batch, channels] in x's dtype.
    /// </summary>
    public static unsafe Tensor Step(Tensor state, Tensor x, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor? z = null)
    {
        if (state.dtype != ScalarType.Float32 || !state.is_contiguous()
            || !AllOnCpu(state, x, delta, A, B, C, D, z) || !FitsSpan(state))
            return StepTensorOps(state, x, delta, A, B, C, D, z);
        using var scope = NewDisposeScope();
        long batch = state.size(0), channels = state.size(1), n = state.size(2);
        var xf = F32(x); var df = F32(delta); var zf = z is null ? null : F32(z);
        var af = F32(A); var bf = F32(B); var cf = F32(C); var dv = F32(D);
        if (xf.numel() != batch * channels || df.numel() != batch * channels || (zf is not null && zf.numel() != batch * channels)
            || af.numel() != channels * n || bf.numel() != batch * n || cf.numel() != batch * n || dv.numel() != channels)
            throw new ArgumentException("Selective scan step: input shapes do not match the state.");
        var y = empty(new[] { batch, channels }, ScalarType.Float32);
        SelectiveScanCpu.Step(Ptr(state), Ptr(xf), Ptr(df), Ptr(af),
            Ptr(bf), Ptr(cf), Ptr(dv), PtrOrNull(zf),
            Ptr(y), (int)batch, (int)channels, (int)n, Threads);
        return (y.dtype == x.dtype ? y : y.to_type(x.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The decode step in tensor operations, for non-CPU devices or unusual state layouts: the chunked scan over one
    /// position, its final state written back into <paramref name="state"/>.
    /// </summary>
    internal static Tensor StepTensorOps(Tensor state, Tensor x, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor? z = null)
    {
        using var scope = NewDisposeScope();
        var (y, last) = SelectiveScanChunked.Forward(x.unsqueeze(-1), delta.unsqueeze(-1), A, B.unsqueeze(1), C.unsqueeze(1), D, z?.unsqueeze(-1), state);
        state.copy_(last);
        return y.squeeze(-1).MoveToOuterDisposeScope();
    }
}
