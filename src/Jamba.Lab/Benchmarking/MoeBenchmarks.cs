using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Lab.Benchmarking;

/// <summary>
/// The MoE lines of <see cref="KernelBenchmarks"/>: the grouped dispatch of <see cref="SparseMoeBlock"/> against its
/// dense twin (every expert on every token) and against two dense MLPs of the same width on the same tokens (the
/// arithmetic a top-2 layer cannot avoid), at prefill size and for one decode token.
/// </summary>
internal static class MoeBenchmarks
{
    public static IEnumerable<KernelTiming> Run(KernelBenchmarkOptions o, Generator g)
    {
        var config = new JambaConfig
        {
            VocabSize = 16, HiddenSize = o.MoeHidden, IntermediateSize = o.MoeIntermediate, NumHiddenLayers = 2,
            NumAttentionHeads = 1, NumKeyValueHeads = 1, NumExperts = o.MoeExperts, NumExpertsPerTok = o.MoeTopK,
            ExpertLayerPeriod = 2, ExpertLayerOffset = 1,
        };
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var moe = new SparseMoeBlock(config, o.MoeExperts);
        using var mlpA = new JambaMlp(config);
        using var mlpB = new JambaMlp(config);
        // Router weights large enough that routing is spread out, as after training (random init routes almost uniformly anyway).
        foreach (var (_, p) in moe.named_parameters()) p.normal_(0, 0.05, generator: g);
        var x = randn(new long[] { 1, o.MoeTokens, o.MoeHidden }, generator: g);
        string shape = $"{o.MoeTokens} tokens, hidden {o.MoeHidden}, intermediate {o.MoeIntermediate}, {o.MoeExperts} experts top-{o.MoeTopK}";
        var results = new List<KernelTiming>
        {
            KernelBenchmarks.Compare(o, "moe.prefill", shape, "grouped dispatch", () => moe.Forward(x).output,
                "dense twin (every expert, every token)", () => moe.ForwardDense(x)),
            KernelBenchmarks.Compare(o, "moe.prefill.vs2mlp", shape, "grouped dispatch", () => moe.Forward(x).output,
                "two dense MLPs of the same width", () => mlpA.forward(x) + mlpB.forward(x)),
        };
        var one = x.narrow(1, 0, 1);
        results.Add(KernelBenchmarks.Compare(o, "moe.decode", $"1 token, {o.MoeExperts} experts top-{o.MoeTopK}",
            "direct top-k experts", () => moe.Forward(one).output, "dense twin", () => moe.ForwardDense(one), inner: 20));
        return results;
    }
}
