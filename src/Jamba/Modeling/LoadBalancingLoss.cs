using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// The router load-balancing auxiliary loss of Switch Transformers as the reference computes it:
/// E · Σ_(slot k, expert e) f[k,e] · P[e], where f is the (masked) fraction of tokens whose k-th choice is e
/// and P the (masked) mean router probability of e, over the router logits of all MoE layers together.
/// </summary>
public static class LoadBalancingLoss
{
    /// <summary>
    /// Computes the loss from each MoE layer's router logits ([batch*seq, experts] each) and an optional
    /// attention mask [batch, seq] (1 real, 0 padding) that keeps padded tokens out of both averages.
    /// </summary>
    public static Tensor Compute(IReadOnlyList<Tensor> routerLogits, int numExperts, int topK, Tensor? attentionMask)
    {
        using var scope = NewDisposeScope();
        var logits = cat(routerLogits.Select(r => r.to_type(ScalarType.Float32)).ToArray(), 0);    // (L*B*T, E)
        var probs = nn.functional.softmax(logits, -1);
        var (_, selected) = probs.topk(topK, dim: -1);
        var expertMask = nn.functional.one_hot(selected, numExperts).to_type(ScalarType.Float32);  // (N, k, E)
        Tensor tokensPerExpert, probPerExpert;
        if (attentionMask is null)
        {
            tokensPerExpert = expertMask.mean(new long[] { 0 });
            probPerExpert = probs.mean(new long[] { 0 });
        }
        else
        {
            long layers = logits.size(0) / attentionMask.numel();
            var m = attentionMask.to_type(ScalarType.Float32).flatten().repeat(layers);               // (N,)
            var m3 = m.view(-1, 1, 1);
            tokensPerExpert = (expertMask * m3).sum(dim: 0) / m3.sum(dim: 0);
            var m2 = m.view(-1, 1);
            probPerExpert = (probs * m2).sum(dim: 0) / m2.sum(dim: 0);
        }
        return ((tokensPerExpert * probPerExpert.unsqueeze(0)).sum() * numExperts).MoveToOuterDisposeScope();
    }
}
