using Jamba.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// Initial weights for a model trained from scratch. Follows the reference's <c>_init_weights</c> (Linear and
/// conv weights N(0, initializer_range), biases 0, embeddings N(0, initializer_range) with a zero padding row,
/// norms 1, A_log = log(1..d_state), D = 1), except for dt_proj, which gets Mamba's own initialisation
/// (weight U(±dt_rank^-½), bias = softplus⁻¹(Δ) for Δ log-uniform in [1e-3, 1e-1]) because a zero dt bias
/// starts every channel at the same, large step size and slows early training.
/// </summary>
public static class JambaInit
{
    /// <summary>
    /// Test seam: elements drawn per chunk of a large normal-initialised parameter (a multiple of 16; see
    /// <see cref="Apply"/>). Thread-static so parallel tests cannot interfere.
    /// </summary>
    [ThreadStatic] internal static long? ChunkOverride;

    private static long Chunk => ChunkOverride ?? 1L << 22;

    /// <summary>
    /// Draws every parameter of <paramref name="module"/> (a causal LM or classifier) from <paramref name="seed"/>.
    /// Values are drawn in float32 on the CPU and copied into each parameter's own dtype and device, one parameter
    /// at a time and large ones in chunks, so initialising never holds more than the module plus a few megabytes,
    /// and a bf16 model gets exactly the float32 model's weights rounded.
    /// </summary>
    public static void Apply(nn.Module module, JambaConfig config, long seed)
    {
        using var _ = no_grad();
        var g = new Generator((ulong)seed, CPU);
        double std = config.InitializerRange;
        foreach (var (name, p) in module.named_parameters())
        {
            using var scope = NewDisposeScope();
            if (IsNormal(name)) FillNormal(p, std, g);
            else
            {
                Tensor value = name switch
                {
                    _ when name.EndsWith("layernorm.weight") => ones(p.shape),
                    _ when name.EndsWith(".A_log") => log(arange(1, p.size(1) + 1, dtype: ScalarType.Float32)).expand(p.shape),
                    _ when name.EndsWith(".D") => ones(p.shape),
                    _ when name.EndsWith("dt_proj.weight") => rand(p.shape, generator: g).mul_(2).sub_(1).mul_(Math.Pow(config.MambaDtRank, -0.5)),
                    _ when name.EndsWith("dt_proj.bias") => InverseSoftplusDt(p.shape, g),
                    _ => zeros(p.shape),   // the remaining biases
                };
                p.copy_(value);
            }
            if (name == "model.embed_tokens.weight" && config.PadTokenId is int pad) p[pad].zero_();
        }
        // A quantized network holds its decoder linears as buffers: each weight is drawn in float32 as above, one
        // layer at a time, and quantized into place, so the full-precision model never exists.
        foreach (var (name, m) in module.named_modules())
        {
            if (m is not QuantizedLinear q) continue;
            using var scope = NewDisposeScope();
            if (name.EndsWith("dt_proj"))
            {
                var w = rand(new[] { q.OutFeatures, q.InFeatures }, generator: g).mul_(2).sub_(1).mul_(Math.Pow(config.MambaDtRank, -0.5));
                q.Quantize(w);
            }
            else
            {
                // Drawn a block of rows at a time (an LM head is vocab × hidden), each block a whole number of
                // FillNormal's chunks, so the values are the ones a single draw of the whole weight gives.
                long rows = Math.Min(q.OutFeatures, DrawChunk / Gcd(DrawChunk, q.InFeatures));
                using var w = empty(rows, q.InFeatures);
                for (long r = 0; r < q.OutFeatures; r += rows)
                {
                    long n = Math.Min(rows, q.OutFeatures - r);
                    using var block = w.narrow(0, 0, n);
                    FillNormal(block, std, g);
                    q.QuantizeRows(r, block);
                }
            }
            if (q.bias is { } b) b.copy_(name.EndsWith("dt_proj") ? InverseSoftplusDt(b.shape, g) : zeros(b.shape));
        }
    }

    private static bool IsNormal(string name) =>
        !name.EndsWith("layernorm.weight") && !name.EndsWith(".A_log") && !name.EndsWith(".D") && !name.EndsWith("dt_proj.weight")
        && !name.EndsWith("dt_proj.bias") && !name.EndsWith(".bias");

    /// <summary>
    /// N(0, std) drawn chunk by chunk over the flattened parameter. libtorch fills a float tensor by drawing all its
    /// uniforms in order and transforming them in blocks of 16 (redrawing the last 16 when the length is not a
    /// multiple), so chunks of a multiple of 16 elements, none shorter than 16, give the very values one draw of
    /// the whole tensor gives (a test checks it).
    /// </summary>
    private static void FillNormal(Tensor p, double std, Generator g)
    {
        long count = p.numel(), chunk = DrawChunk;
        using var flat = p.view(-1);
        for (long off = 0; off < count;)
        {
            long n = Math.Min(chunk, count - off);
            if (count - off - n < 16) n = count - off;   // a short tail joins this chunk
            using var value = normal(0, std, new[] { n }, generator: g);
            using var dst = flat.narrow(0, off, n);
            dst.copy_(value);
            off += n;
        }
    }

    /// <summary>Elements <see cref="FillNormal"/> draws at a time: a multiple of 16.</summary>
    private static long DrawChunk => Math.Max(16, Chunk / 16 * 16);

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    /// <summary>softplus⁻¹(Δ) with Δ log-uniform in [1e-3, 1e-1], so softplus(bias) starts at Δ.</summary>
    private static Tensor InverseSoftplusDt(long[] shape, Generator g)
    {
        var dt = exp(rand(shape, generator: g) * (Math.Log(0.1) - Math.Log(1e-3)) + Math.Log(1e-3)).clamp_min(1e-4);
        return dt + log(-expm1(-dt));
    }
}
