using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// Jamba with a language-modelling head (the reference's <c>JambaForCausalLM</c>). With tied embeddings the
/// head reuses <c>model.embed_tokens.weight</c> and no <c>lm_head.weight</c> exists, as in the reference files.
/// The head is a <see cref="DenseLinear"/>, or a <see cref="Quantization.QuantizedLinear"/> in a checkpoint quantized with its head.
/// </summary>
public sealed class JambaForCausalLM : nn.Module
{
    /// <summary>The decoder stack (keys <c>model.*</c>).</summary>
    public readonly JambaBackbone model;
    /// <summary>The LM head hidden → vocab (a <see cref="DenseLinear"/> or a <see cref="Quantization.QuantizedLinear"/>); null when embeddings are tied.</summary>
    public readonly nn.Module<Tensor, Tensor>? lm_head;

    /// <summary>The configuration.</summary>
    public JambaConfig Config => model.Config;

    /// <summary>Builds the model for <paramref name="config"/> (parameters drawn by torch's default init; see <see cref="JambaInit"/>).</summary>
    public JambaForCausalLM(JambaConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(JambaForCausalLM))
    {
        model = new JambaBackbone(config, device, dtype);
        if (!config.TieWordEmbeddings)
            lm_head = DecoderLinear.CreateHead(config, device, dtype);
        RegisterComponents();
    }

    // Read from the final norm's weight, a field: TorchSharp's Embedding hands out a new wrapper of its weight on every
    // read, which would leave a live tensor behind each call.

    /// <summary>Where the parameters live (every parameter shares the device).</summary>
    public Device Device => model.final_layernorm.weight.device;

    /// <summary>The model's floating dtype (of every parameter that is not quantized).</summary>
    public ScalarType DType => model.final_layernorm.weight.dtype;

    /// <summary>Logits of hidden states h [..., hidden] in the model's dtype: the head, or the embedding when tied.</summary>
    public Tensor Head(Tensor h) => lm_head is { } head ? head.forward(h) : nn.functional.linear(h, model.embed_tokens.weight!);

    /// <summary>
    /// Forward pass. Logits are float32 [batch, T, vocab] (only the last <paramref name="logitsToKeep"/>
    /// positions when it is positive). With <paramref name="labels"/> [batch, T] (-100 to ignore) the output
    /// has the shifted cross-entropy, and with router logits also the load-balancing loss.
    /// </summary>
    public CausalLMOutput Forward(Tensor inputIds, Tensor? attentionMask = null, HybridCache? cache = null,
        Tensor? labels = null, bool outputHiddenStates = false, bool? outputRouterLogits = null, long logitsToKeep = 0)
    {
        using var scope = NewDisposeScope();
        bool router = outputRouterLogits ?? Config.OutputRouterLogits;
        var backbone = model.Forward(inputIds, attentionMask, cache, outputHiddenStates, router);
        var h = backbone.LastHiddenState;
        if (logitsToKeep > 0 && logitsToKeep < h.size(1)) h = h.narrow(1, h.size(1) - logitsToKeep, logitsToKeep);
        var logits = Head(h).to_type(ScalarType.Float32);

        Tensor? lmLoss = null, auxLoss = null, loss = null;
        if (labels is not null)
        {
            var shiftLogits = logits.narrow(1, 0, logits.size(1) - 1).reshape(-1, logits.size(2));
            var shiftLabels = labels.narrow(1, 1, labels.size(1) - 1).reshape(-1).to_type(ScalarType.Int64);
            lmLoss = nn.functional.cross_entropy(shiftLogits, shiftLabels, ignore_index: -100);
            loss = lmLoss;
        }
        if (router && backbone.RouterLogits is { Count: > 0 } rl)
        {
            auxLoss = LoadBalancingLoss.Compute(rl, Config.NumExperts, Config.NumExpertsPerTok, attentionMask);
            if (loss is not null) loss = loss + Config.RouterAuxLossCoef * auxLoss;
        }
        var output = new CausalLMOutput(logits, loss, lmLoss, auxLoss, backbone.HiddenStates, backbone.RouterLogits);
        output.MoveToOuterDisposeScope();
        return output;
    }
}

/// <summary>Outputs of <see cref="JambaForCausalLM.Forward"/>; dispose to free them.</summary>
/// <param name="Logits">Float32 logits [batch, T, vocab].</param>
/// <param name="Loss">LM loss plus router_aux_loss_coef × aux loss (when labels were given).</param>
/// <param name="LmLoss">Shifted causal-LM cross-entropy (when labels were given).</param>
/// <param name="AuxLoss">Router load-balancing loss (when router logits were asked for).</param>
/// <param name="HiddenStates">Layer inputs and final-norm output, when asked.</param>
/// <param name="RouterLogits">Router logits of each MoE layer, when asked.</param>
public sealed record CausalLMOutput(Tensor Logits, Tensor? Loss, Tensor? LmLoss, Tensor? AuxLoss,
    IReadOnlyList<Tensor>? HiddenStates, IReadOnlyList<Tensor>? RouterLogits) : IDisposable
{
    internal void MoveToOuterDisposeScope()
    {
        var all = new HashSet<Tensor>(ReferenceEqualityComparer.Instance) { Logits };
        foreach (var t in new[] { Loss, LmLoss, AuxLoss }) if (t is not null) all.Add(t);
        if (HiddenStates is not null) all.UnionWith(HiddenStates);
        if (RouterLogits is not null) all.UnionWith(RouterLogits);
        foreach (var t in all) t.MoveToOuterDisposeScope();
    }

    /// <summary>Frees every tensor.</summary>
    public void Dispose()
    {
        Logits.Dispose(); Loss?.Dispose(); LmLoss?.Dispose(); AuxLoss?.Dispose();
        if (HiddenStates is not null) foreach (var t in HiddenStates) t.Dispose();
        if (RouterLogits is not null) foreach (var t in RouterLogits) t.Dispose();
    }
}
