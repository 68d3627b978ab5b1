using Jamba.Ops;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// A full-precision decoder projection: the reference's <c>nn.Linear</c>, with its <c>weight</c> [out, in] and optional
/// <c>bias</c> [out] under the same state-dict names. Its forward is <c>nn.functional.linear</c>, except that several
/// bfloat16 rows on a CPU where libtorch's bfloat16 matmul is slow (a prefill, scoring) go through
/// <see cref="BFloat16Linear"/>, the float32 blocked product: TorchSharp's own <c>Linear</c> is sealed, so this module is
/// where that path can be chosen.
/// </summary>
public sealed class DenseLinear : nn.Module<Tensor, Tensor>
{
    private Parameter weight_;
    private Parameter? bias_;

    /// <summary>The weight [out, in]; assigning one registers it in place of the old, as TorchSharp's <c>Linear</c> does.</summary>
    public Parameter weight
    {
        get => weight_;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            weight_ = value;
            ConditionallyRegisterParameter(nameof(weight), value);
        }
    }

    /// <summary>The bias [out], or null.</summary>
    public Parameter? bias
    {
        get => bias_;
        set
        {
            bias_ = value;
            ConditionallyRegisterParameter(nameof(bias), value);
        }
    }

    /// <summary>Input features.</summary>
    public long InFeatures => weight.size(1);
    /// <summary>Output features.</summary>
    public long OutFeatures => weight.size(0);

    /// <summary>
    /// A projection <paramref name="inFeatures"/> → <paramref name="outFeatures"/> initialised as TorchSharp's
    /// <c>Linear</c> is, or left undrawn inside an <see cref="Uninitialized"/> scope (a loader fills it).
    /// </summary>
    public DenseLinear(long inFeatures, long outFeatures, bool hasBias, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : this(Uninitialized.Linear(inFeatures, outFeatures, hasBias, device, dtype))
    {
    }

    /// <summary>Takes over <paramref name="linear"/>'s parameters (the same tensors, not copies).</summary>
    public DenseLinear(Linear linear) : base(nameof(DenseLinear))
    {
        ArgumentNullException.ThrowIfNull(linear);
        weight_ = linear.weight ?? throw new ArgumentException("the linear has no weight", nameof(linear));
        bias_ = linear.bias;
        register_parameter(nameof(weight), weight_);
        if (bias_ is not null) register_parameter(nameof(bias), bias_);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => BFloat16Linear.Forward(x, weight, bias);
}
