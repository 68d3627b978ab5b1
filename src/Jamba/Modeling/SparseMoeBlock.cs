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

    /// <summary>Experts each token is routed to.</summary>
    public int TopK => topK;

    /// <summary>Number of experts.</summary>
    public int NumExperts => experts.Count;

    /// <summary>Routes x [batch, seq, hidden]; returns the output and the router logits [batch*seq, experts].</summary>
    public (Tensor output, Tensor routerLogits) Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long hidden = x.size(-1);
        var flat = x.reshape(-1, hidden);                                              // (N, H)
        var routerLogits = router.forward(flat);                                       // (N, E)
        var probs = nn.functional.softmax(routerLogits, 1, ScalarType.Float32);
        var (weights, selected) = probs.topk(topK, dim: -1);                           // (N, k)
        weights = weights.to_type(x.dtype);
        // The choices go to the host once (N·k int64): which experts run, and on how many rows, decides which
        // matmuls are issued at all. On CPU this is a copy; on a GPU it is the one sync a sparse dispatch needs.
        long[] choice = selected.cpu().data<long>().ToArray();
        var output = flat.size(0) == 1 ? Single(flat, weights, choice) : Grouped(flat, weights, choice);
        return (output.view(x.shape).MoveToOuterDisposeScope(), routerLogits.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One token (a decode step at batch 1): its k experts are called directly on it; no gather, no scatter, no
    /// sort. Slots are summed in order, as the grouped path's index_add does for a single row.
    /// </summary>
    private Tensor Single(Tensor flat, Tensor weights, long[] choice)
    {
        Tensor? output = null;
        for (int j = 0; j < choice.Length; j++)
        {
            var y = experts[(int)choice[j]].forward(flat) * weights.narrow(1, j, 1);
            output = output is null ? y : output.add_(y);
        }
        return output!;
    }

    /// <summary>
    /// Several tokens: the N·k (token, slot) assignments are bucketed by expert on the host (a counting sort, no
    /// device sort or bincount), and each expert that received tokens runs once on its gathered rows; the weighted
    /// results are added back into place. Experts without tokens issue no operation.
    /// </summary>
    private Tensor Grouped(Tensor flat, Tensor weights, long[] choice)
    {
        int assignments = choice.Length, numExperts = NumExperts;
        var counts = new int[numExperts];
        foreach (long e in choice) counts[e]++;
        var starts = new int[numExperts];
        for (int e = 1; e < numExperts; e++) starts[e] = starts[e - 1] + counts[e - 1];
        // First half: the token of each assignment, grouped by expert; second half: its slot (token·k + j), for the weight.
        var index = new long[2 * assignments];
        var fill = (int[])starts.Clone();
        for (int slot = 0; slot < assignments; slot++)
        {
            int at = fill[choice[slot]]++;
            index[at] = slot / topK;
            index[assignments + at] = slot;
        }
        var indexTensor = tensor(index, device: flat.device);
        var weightOfSlot = weights.reshape(-1, 1);
        var output = zeros_like(flat);
        for (int e = 0; e < numExperts; e++)
        {
            if (counts[e] == 0) continue;
            var tokens = indexTensor.narrow(0, starts[e], counts[e]);
            var slots = indexTensor.narrow(0, assignments + starts[e], counts[e]);
            var y = experts[e].forward(flat.index_select(0, tokens)) * weightOfSlot.index_select(0, slots);
            output.index_add_(0, tokens, y, 1);
        }
        return output;
    }

    /// <summary>
    /// The dense twin of <see cref="Forward"/>: every expert on every token, weighted by a mask of the top-k.
    /// Slow and obviously correct; used by tests to check the grouped dispatch.
    /// </summary>
    public Tensor ForwardDense(Tensor x)
    {
        using var scope = NewDisposeScope();
        var flat = x.reshape(-1, x.size(-1));
        var probs = nn.functional.softmax(router.forward(flat), 1, ScalarType.Float32);
        var (weights, selected) = probs.topk(topK, dim: -1);
        var dense = zeros_like(probs).scatter(1, selected, weights).to_type(x.dtype);  // (N, E), zero off the top-k
        var output = zeros_like(flat);
        for (int e = 0; e < NumExperts; e++)
            output = output + experts[e].forward(flat) * dense.narrow(1, e, 1);
        return output.view(x.shape).MoveToOuterDisposeScope();
    }
}
