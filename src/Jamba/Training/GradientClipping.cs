using static TorchSharp.torch;

namespace Jamba.Training;

/// <summary>Global-norm gradient clipping, as <c>torch.nn.utils.clip_grad_norm_</c> does it.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Computes the L2 norm of all gradients together (in float32, whatever their dtype) and, when
    /// <paramref name="maxNorm"/> is positive and the norm exceeds it, scales every gradient by
    /// <c>maxNorm / (norm + 1e-6)</c>. Returns the norm before clipping (NaN/∞ when a gradient is not finite).
    /// </summary>
    public static double ClipByGlobalNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToList();
        if (grads.Count == 0) return 0;
        var device = grads[0].device;
        var norms = grads.Select(g => linalg.vector_norm(g.to_type(ScalarType.Float32), 2).to(device)).ToArray();
        double total = linalg.vector_norm(stack(norms), 2).cpu().item<float>();
        if (maxNorm > 0 && double.IsFinite(total))
        {
            double coef = maxNorm / (total + 1e-6);
            if (coef < 1)
                foreach (var g in grads) g.mul_(coef);
        }
        return total;
    }
}
