using Jamba.Engine.Cpu.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Ops;

/// <summary>
/// The selective scan written only in tensor operations, for devices where the CPU kernel cannot run (CUDA).
/// The sequence is cut into chunks; inside a chunk the recurrence s_t = a_t s_(t-1) + u_t is solved with a
/// log-depth doubling scan (⌈log2 chunk⌉ rounds of whole-chunk multiplies), and the state is carried from chunk
/// to chunk. Work is O(length · log chunk), the largest temporary is [batch, channels, chunk, state], and
/// autograd flows through it natively. Decays are multiplied, never divided, so very small exp(Δ A) cannot blow
/// up the way a cumulative-sum-then-divide formulation would.
/// </summary>
public static class SelectiveScanChunked
{
    /// <summary>Default chunk length: long enough to amortise per-chunk launches, short enough to keep temporaries small.</summary>
    public const int DefaultChunk = 64;

    /// <summary>
    /// Same contract as <see cref="SelectiveScan.Forward"/>; runs on whatever device the inputs are on.
    /// <c>chunk</c> is the number of positions solved together.
    /// </summary>
    public static (Tensor y, Tensor state) Forward(Tensor x, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D,
        Tensor? z = null, Tensor? initialState = null, int chunk = DefaultChunk)
    {
        if (chunk < 1) throw new ArgumentOutOfRangeException(nameof(chunk));
        using var scope = NewDisposeScope();
        long batch = x.size(0), channels = x.size(1), length = x.size(2), n = A.size(1);
        var xf = x.to_type(ScalarType.Float32);
        var df = delta.to_type(ScalarType.Float32);
        var af = A.to_type(ScalarType.Float32).unsqueeze(1);                                 // (d, 1, n)
        var bf = B.to_type(ScalarType.Float32).unsqueeze(1);                                 // (b, 1, l, n)
        var cf = C.to_type(ScalarType.Float32).unsqueeze(1);                                 // (b, 1, l, n)
        var state = initialState?.to_type(ScalarType.Float32) ?? zeros(batch, channels, n, dtype: ScalarType.Float32, device: x.device);
        var pieces = new List<Tensor>();
        for (long t0 = 0; t0 < length; t0 += chunk)
        {
            using var inner = NewDisposeScope();
            long len = Math.Min(chunk, length - t0);
            var dt = df.narrow(2, t0, len).unsqueeze(-1);                                    // (b, d, c, 1)
            var decay = exp(dt * af);                                                        // (b, d, c, n)
            var input = dt * xf.narrow(2, t0, len).unsqueeze(-1) * bf.narrow(2, t0, len);   // (b, d, c, n)
            // Fold the carried state into the first position so the scan below needs no special start.
            input = cat(new[] { input.narrow(2, 0, 1) + decay.narrow(2, 0, 1) * state.unsqueeze(2), input.narrow(2, 1, len - 1) }, 2);
            for (long k = 1; k < len; k *= 2)
            {
                // Position t absorbs the span ending at t-k: s ← a_t s_(t-k) + s_t, a ← a_t a_(t-k).
                var head = input.narrow(2, 0, k);
                var tailDecay = decay.narrow(2, k, len - k);
                input = cat(new[] { head, tailDecay * input.narrow(2, 0, len - k) + input.narrow(2, k, len - k) }, 2);
                if (2 * k < len) decay = cat(new[] { decay.narrow(2, 0, k), tailDecay * decay.narrow(2, 0, len - k) }, 2);
            }
            pieces.Add((input * cf.narrow(2, t0, len)).sum(-1).MoveToOuterDisposeScope());   // (b, d, c)
            state = input.select(2, len - 1).MoveToOuterDisposeScope();
        }
        var y = (pieces.Count == 1 ? pieces[0] : cat(pieces, 2)) + xf * D.to_type(ScalarType.Float32).unsqueeze(-1);
        if (z is not null) y = y * nn.functional.silu(z.to_type(ScalarType.Float32));
        return (y.to_type(x.dtype).MoveToOuterDisposeScope(), state.MoveToOuterDisposeScope());
    }
}
