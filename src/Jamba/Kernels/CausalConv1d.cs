using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Kernels;

/// <summary>
/// Causal depthwise convolution followed by SiLU, as in the Mamba mixer: each channel is convolved with its
/// own kernel of width K over the current and K-1 previous positions (zeros before the first one).
/// Shapes: x [batch, channels, length]; weight [channels, 1, K]; bias [channels] or null.
/// </summary>
public static class CausalConv1d
{
    /// <summary>Full-sequence form: returns SiLU(conv(x) + bias), [batch, channels, length].</summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        long k = weight.shape[2], length = x.shape[2];
        var y = nn.functional.conv1d(x, weight, bias, padding: k - 1, groups: x.shape[1]);
        return nn.functional.silu(y.narrow(2, 0, length)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One decode step: shifts the rolling <paramref name="convState"/> [batch, channels, K] left by one in
    /// place, appends x [batch, channels], and returns SiLU(state · weight + bias), [batch, channels].
    /// </summary>
    public static Tensor Step(Tensor convState, Tensor x, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        long k = convState.shape[2];
        if (k > 1) convState.narrow(2, 0, k - 1).copy_(convState.narrow(2, 1, k - 1).clone());
        convState.select(2, k - 1).copy_(x);
        var y = (convState * weight.squeeze(1)).sum(-1);
        if (bias is not null) y = y + bias;
        return nn.functional.silu(y).MoveToOuterDisposeScope();
    }
}
