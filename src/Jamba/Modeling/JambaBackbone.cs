using Jamba.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// The Jamba decoder stack (the reference's <c>JambaModel</c>, state-dict prefix <c>model.</c>): token
/// embedding, the hybrid layers, final RMSNorm. There is no positional embedding.
/// </summary>
public sealed class JambaBackbone : nn.Module
{
    /// <summary>Token embedding [vocab, hidden].</summary>
    public readonly Embedding embed_tokens;
    /// <summary>The decoder layers.</summary>
    public readonly ModuleList<JambaDecoderLayer> layers;
    /// <summary>The final norm.</summary>
    public readonly RmsNorm final_layernorm;

    /// <summary>The configuration the stack was built from.</summary>
    public JambaConfig Config { get; }

    /// <summary>
    /// The quantization the decoder linears were built with (the config's <c>quantization_config</c>), or null when
    /// every one is a full-precision <see cref="DenseLinear"/>.
    /// </summary>
    public QuantizationConfig? Quantization { get; }

    /// <summary>Builds the stack for <paramref name="config"/>.</summary>
    public JambaBackbone(JambaConfig config, Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(JambaBackbone))
    {
        Config = config;
        Quantization = QuantizationConfig.Of(config);
        embed_tokens = Uninitialized.Embedding(config.VocabSize, config.HiddenSize, config.PadTokenId, device, dtype);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(i => new JambaDecoderLayer(config, i, device, dtype)).ToArray());
        final_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, device, dtype);
        RegisterComponents();
    }

    /// <summary>
    /// Runs ids [batch, T] through the stack. <paramref name="attentionMask"/> [batch, T] marks real (1) and
    /// padded (0) positions; with a <paramref name="cache"/> the pass continues from the cached positions.
    /// </summary>
    public BackboneOutput Forward(Tensor inputIds, Tensor? attentionMask = null, HybridCache? cache = null,
        bool outputHiddenStates = false, bool outputRouterLogits = false)
    {
        using var scope = NewDisposeScope();
        long t = inputIds.size(1);
        long past = cache?.SeqLen ?? 0;
        var weight = embed_tokens.weight!;
        if (cache is not null && (cache.DType != weight.dtype || cache.Device.type != weight.device_type))
            throw new ArgumentException($"the cache was made for {cache.DType} on {cache.Device.type}, the model runs in {weight.dtype} on {weight.device_type}: " +
                "create it with the model's dtype and device", nameof(cache));
        if (cache is not null && cache.Batch != inputIds.size(0))
            throw new ArgumentException($"the cache holds {cache.Batch} rows, input_ids has {inputIds.size(0)}", nameof(cache));
        var mask = attentionMask?.to_type(ScalarType.Float32);
        bool chunkPadded = mask is not null && mask.min().item<float>() < 0.5f;

        // The keys' padding mask spans every cached position plus the new ones.
        var keyMask = cache is not null ? cache.KeyMask(mask, t, chunkPadded) : chunkPadded ? mask : null;

        var h = embed_tokens.forward(inputIds);
        var bias = CausalMask.Build(keyMask, t, past, h.dtype, h.device, out bool isCausal);
        var inputs = new LayerInputs(bias, isCausal, chunkPadded ? mask : null, cache);

        var hiddenStates = outputHiddenStates ? new List<Tensor>() : null;
        var routerLogits = outputRouterLogits ? new List<Tensor>() : null;
        foreach (var layer in layers)
        {
            hiddenStates?.Add(h);
            var (next, router) = layer.Forward(h, inputs);
            if (router is not null) routerLogits?.Add(router);
            h = next;
        }
        cache?.Advance(t);
        h = final_layernorm.forward(h);
        hiddenStates?.Add(h);

        var output = new BackboneOutput(h, hiddenStates, routerLogits);
        output.MoveToOuterDisposeScope();
        return output;
    }
}

/// <summary>The backbone's outputs; dispose to free them.</summary>
/// <param name="LastHiddenState">Final-norm output [batch, T, hidden].</param>
/// <param name="HiddenStates">When asked: the input of each layer, then the final-norm output (L + 1 tensors).</param>
/// <param name="RouterLogits">When asked: each MoE layer's router logits [batch*T, experts].</param>
public sealed record BackboneOutput(Tensor LastHiddenState, IReadOnlyList<Tensor>? HiddenStates, IReadOnlyList<Tensor>? RouterLogits) : IDisposable
{
    internal void MoveToOuterDisposeScope()
    {
        // The last hidden state is also the last of HiddenStates; a second move would lift it two scopes up.
        var all = new HashSet<Tensor>(ReferenceEqualityComparer.Instance) { LastHiddenState };
        if (HiddenStates is not null) all.UnionWith(HiddenStates);
        if (RouterLogits is not null) all.UnionWith(RouterLogits);
        foreach (var t in all) t.MoveToOuterDisposeScope();
    }

    /// <summary>Frees every tensor.</summary>
    public void Dispose()
    {
        LastHiddenState.Dispose();
        if (HiddenStates is not null) foreach (var t in HiddenStates) t.Dispose();
        if (RouterLogits is not null) foreach (var t in RouterLogits) t.Dispose();
    }
}
