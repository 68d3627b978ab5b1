using static TorchSharp.torch;

namespace Jamba.Training;

/// <summary>A named set of parameters that share a weight-decay setting.</summary>
/// <param name="Name">A label for logs and the training state (<c>decay</c>, <c>no_decay</c>).</param>
/// <param name="Parameters">Parameter name → tensor, in the module's order.</param>
/// <param name="WeightDecay">Decoupled weight decay applied to this group.</param>
public sealed record ParameterGroup(string Name, IReadOnlyList<(string Name, Tensor Parameter)> Parameters, double WeightDecay);

/// <summary>
/// Splits a model's parameters into a decayed and a non-decayed group. Weight decay pulls weights towards zero,
/// which is wrong for parameters whose neutral value is not zero or that set a scale: RMSNorm gains (neutral 1),
/// biases, Mamba's <c>A_log</c> (log of the state decay rates) and <c>D</c> (skip gain, neutral 1). Everything else
/// (projections, experts, routers, embeddings, convolution kernels) is decayed, as in the usual transformer recipe.
/// </summary>
public static class ParameterGroups
{
    /// <summary>Whether a parameter (by its full dotted name) is exempt from weight decay.</summary>
    public static bool IsNoDecay(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        int dot = name.LastIndexOf('.');
        string leaf = dot < 0 ? name : name[(dot + 1)..];
        string module = dot < 0 ? "" : name[..dot];
        int dot2 = module.LastIndexOf('.');
        string moduleLeaf = dot2 < 0 ? module : module[(dot2 + 1)..];
        return leaf is "bias" or "A_log" or "D" || moduleLeaf.Contains("norm", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The two groups for <paramref name="namedParameters"/> (trainable ones only): <c>decay</c> with
    /// <paramref name="weightDecay"/> and <c>no_decay</c> with 0. An empty group is left out.
    /// </summary>
    public static IReadOnlyList<ParameterGroup> Split(IEnumerable<(string name, TorchSharp.Modules.Parameter parameter)> namedParameters, double weightDecay)
    {
        ArgumentNullException.ThrowIfNull(namedParameters);
        var decay = new List<(string, Tensor)>();
        var noDecay = new List<(string, Tensor)>();
        foreach (var (name, p) in namedParameters)
        {
            if (!p.requires_grad) continue;
            (IsNoDecay(name) ? noDecay : decay).Add((name, p));
        }
        var groups = new List<ParameterGroup>();
        if (decay.Count > 0) groups.Add(new ParameterGroup("decay", decay, weightDecay));
        if (noDecay.Count > 0) groups.Add(new ParameterGroup("no_decay", noDecay, 0.0));
        return groups;
    }
}
