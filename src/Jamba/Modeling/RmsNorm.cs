using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>Root-mean-square norm: x / sqrt(mean(x²) + eps) * weight, computed in float32 as the reference does.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Per-feature scale (state-dict key <c>weight</c>).</summary>
    public readonly Parameter weight;
    private readonly double eps;

    /// <summary>Creates a norm over the last dimension of width <paramref name="size"/>.</summary>
    public RmsNorm(long size, double eps, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(size, dtype: dtype, device: device));
        this.eps = eps;
        RegisterComponents();
    }

    /// <summary>The epsilon added to the mean square.</summary>
    public double Eps => eps;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var xf = x.to_type(ScalarType.Float32);
        var normed = xf * rsqrt(xf.pow(2).mean(new long[] { -1 }, keepdim: true) + eps);
        return (weight * normed.to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}
