using BenchmarkDotNet.Attributes;
using Jamba.Modeling;
using static TorchSharp.torch;

namespace Jamba.Benchmarks;

/// <summary>
/// The mixture-of-experts layer: the grouped dispatch of <see cref="SparseMoeBlock.Forward"/> (each expert runs once,
/// on just its tokens) against <see cref="SparseMoeBlock.ForwardDense"/> (every expert on every token, masked to the
/// top-k). Bench-30m's layer widths, as the <c>moe.prefill</c> and <c>moe.decode</c> lines of
/// <c>jamba bench kernels</c>.
/// </summary>
/// <remarks>
/// The dense twin does NumExperts / TopK times the arithmetic, so the ratio is expected to approach that factor at
/// prefill size; at one token both are bound by reading the weights.
/// </remarks>
public class MoeDispatchBenchmarks
{
    SparseMoeBlock moe = null!;
    Tensor x = null!;

    [ParamsSource(typeof(BenchmarkShapes), nameof(BenchmarkShapes.MoeTokens))] public int Tokens;
    [Params(512)] public int Hidden;
    [Params(1024)] public int Intermediate;
    [Params(16)] public int Experts;
    [Params(2)] public int TopK;

    [GlobalSetup]
    public void Setup()
    {
        var config = new JambaConfig
        {
            VocabSize = 16, HiddenSize = Hidden, IntermediateSize = Intermediate, NumHiddenLayers = 2,
            NumAttentionHeads = 1, NumKeyValueHeads = 1, NumExperts = Experts, NumExpertsPerTok = TopK,
            ExpertLayerPeriod = 2, ExpertLayerOffset = 1,
        };
        using var g = new Generator(0);
        moe = new SparseMoeBlock(config, Experts);
        using (no_grad())
        {
            // Router weights large enough that routing is spread out, as after training (and as MoeBenchmarks does).
            foreach (var (_, p) in moe.named_parameters()) p.normal_(0, 0.05, generator: g);
        }
        x = randn(new long[] { 1, Tokens, Hidden }, generator: g);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        x.Dispose();
        moe.Dispose();
    }

    [Benchmark(Baseline = true, Description = "dense twin (every expert, every token)")]
    public void Dense()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        moe.ForwardDense(x);
    }

    [Benchmark(Description = "grouped dispatch")]
    public void Grouped()
    {
        // Forward also returns the router logits; the scope frees both.
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        moe.Forward(x);
    }
}
