using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// Sparse mixture of SwiGLU experts with top-k routing. As in the reference, the router's softmax is taken
/// over all experts and the top-k probabilities are used as mixing weights without renormalising them.
/// Tokens are grouped by expert so that each expert runs one matmul on just its tokens, and an expert
/// that received no token costs nothing.
/// </summary>
public sealed class SparseMoeBlock : nn.Module
{
    /// <summary>Router [num_experts, hidden], no bias.</summary>
    public readonly Linear router;
    /// <summary>The experts (state-dict keys <c>experts.{e}.*</c>).</summary>
    public readonly ModuleList<JambaMlp> experts;
    private readonly int topK;

    /// <summary>Creates an MoE block with <paramref name="numExperts"/> experts.</summary>
    public SparseMoeBlock(JambaConfig config, int numExperts, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(SparseMoeBlock))
    {
        router = nn.Linear(config.HiddenSize, numExperts, hasBias: false, device: device, dtype: dtype);
        experts = nn.ModuleList(Enumerable.Range(0, numExperts).Select(_ => new JambaMlp(config, device, dtype)).ToArray());
        topK = config.NumExpertsPerTok;
        RegisterComponents();
    }

    /// <summary>Number of experts.</summary>
    public int NumExperts => experts.Count;

    /// <summary>Routes x [batch, seq, hidden]; returns the output and the router logits [batch*seq, experts].</summary>
    public (Tensor output, Tensor routerLogits) Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long hidden = x.shape[^1];
        var flat = x.reshape(-1, hidden);                                              // (N, H)
        var routerLogits = router.forward(flat);                                       // (N, E)
        var probs = nn.functional.softmax(routerLogits, 1, ScalarType.Float32);
        var (weights, selected) = probs.topk(topK, dim: -1);                           // (N, k)
        weights = weights.to_type(x.dtype);

        // Sort the N*k (token, slot) assignments by expert so every expert sees one contiguous block.
        var flatExperts = selected.flatten();
        var (_, order) = flatExperts.sort(stable: true);
        var tokenOfSlot = order.div(topK, rounding_mode: RoundingMode.floor);
        var weightOfSlot = weights.flatten().index_select(0, order).unsqueeze(-1);
        long[] counts = flatExperts.bincount(null, NumExperts).cpu().data<long>().ToArray();

        var output = zeros_like(flat);
        long start = 0;
        for (int e = 0; e < counts.Length; e++)
        {
            if (counts[e] == 0) continue;
            var tokens = tokenOfSlot.narrow(0, start, counts[e]);
            var y = experts[e].forward(flat.index_select(0, tokens)) * weightOfSlot.narrow(0, start, counts[e]);
            output.index_add_(0, tokens, y, 1);
            start += counts[e];
        }
        return (output.view(x.shape).MoveToOuterDisposeScope(), routerLogits.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The dense twin of <see cref="Forward"/>: every expert on every token, weighted by a mask of the top-k.
    /// Slow and obviously correct; used by tests to check the grouped dispatch.
    /// </summary>
    public Tensor ForwardDense(Tensor x)
    {
        using var scope = NewDisposeScope();
        var flat = x.reshape(-1, x.shape[^1]);
        var probs = nn.functional.softmax(router.forward(flat), 1, ScalarType.Float32);
        var (weights, selected) = probs.topk(topK, dim: -1);
        var dense = zeros_like(probs).scatter(1, selected, weights).to_type(x.dtype);  // (N, E), zero off the top-k
        var output = zeros_like(flat);
        for (int e = 0; e < NumExperts; e++)
            output = output + experts[e].forward(flat) * dense.narrow(1, e, 1);
        return output.view(x.shape).MoveToOuterDisposeScope();
    }
}
