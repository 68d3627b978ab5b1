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
    /// <summary>Draws every parameter of <paramref name="module"/> (a causal LM or classifier) from <paramref name="seed"/>.</summary>
    public static void Apply(nn.Module module, JambaConfig config, long seed)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)seed, CPU);
        double std = config.InitializerRange;
        foreach (var (name, p) in module.named_parameters())
        {
            Tensor value = name switch
            {
                _ when name.EndsWith("layernorm.weight") => ones(p.shape),
                _ when name.EndsWith(".A_log") => log(arange(1, p.size(1) + 1, dtype: ScalarType.Float32)).expand(p.shape),
                _ when name.EndsWith(".D") => ones(p.shape),
                _ when name.EndsWith("dt_proj.weight") => rand(p.shape, generator: g).mul_(2).sub_(1).mul_(Math.Pow(config.MambaDtRank, -0.5)),
                _ when name.EndsWith("dt_proj.bias") => InverseSoftplusDt(p.shape, g),
                _ when name.EndsWith(".bias") => zeros(p.shape),
                _ => normal(0, std, p.shape, generator: g),
            };
            if (name == "model.embed_tokens.weight" && config.PadTokenId is int pad) value[pad] = zeros(p.size(1));
            p.copy_(value);
        }
    }

    /// <summary>softplus⁻¹(Δ) with Δ log-uniform in [1e-3, 1e-1], so softplus(bias) starts at Δ.</summary>
    private static Tensor InverseSoftplusDt(long[] shape, Generator g)
    {
        var dt = exp(rand(shape, generator: g) * (Math.Log(0.1) - Math.Log(1e-3)) + Math.Log(1e-3)).clamp_min(1e-4);
        return dt + log(-expm1(-dt));
    }
}
