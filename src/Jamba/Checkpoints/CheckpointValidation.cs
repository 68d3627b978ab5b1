using System.Globalization;
using System.Text.RegularExpressions;
using Jamba.Planning;
using Jamba.Quantization;

namespace Jamba.Checkpoints;

/// <summary>
/// Checks a config against a checkpoint's tensor index (names and shapes from the safetensors headers) before
/// any parameter memory is allocated. The config-level facts come first — layer count, hidden and vocabulary
/// sizes, the attention/Mamba plan, expert counts — each reported with the config.json key at fault, so a
/// config edited to a billion layers fails in milliseconds naming <c>num_hidden_layers</c> instead of building
/// a billion layers; then every expected tensor is compared by name and shape.
/// </summary>
public static partial class CheckpointValidation
{
    /// <summary>
    /// The tensors (name and shape) of the network <paramref name="config"/> describes, exactly as
    /// <c>named_parameters()</c> and <c>named_buffers()</c> of <see cref="JambaModel.CreateNetwork"/> list them, computed
    /// without building it. With a <c>quantization_config</c> each decoder projection's <c>weight</c> has its stored
    /// quantized shape and is followed by its <c>weight_scale</c>.
    /// </summary>
    public static IEnumerable<(string name, long[] shape)> ExpectedTensors(JambaConfig config, ModelHead? head = null)
    {
        var quantization = QuantizationConfig.Of(config);
        foreach (var (name, shape) in FullPrecisionTensors(config, head))
        {
            if (quantization is null || !quantization.Quantizes(name))
            {
                yield return (name, shape);
                continue;
            }
            var scheme = quantization.SchemeFor(shape[1]);
            yield return (name, Quantizer.WeightShape(shape[0], shape[1], scheme));
            yield return (name + "_scale", Quantizer.ScaleShape(shape[0], shape[1], scheme, quantization.GroupSize));
        }
    }

    /// <summary>
    /// The stored dtype each quantized tensor of <paramref name="config"/>'s network must have (I8 or U8 weights by
    /// their linear's scheme, F32 int8 scales, F16 q4 scales — F32 before format version 3); empty without a
    /// <c>quantization_config</c>. Checked before loading, since an
    /// int8 weight has the float weight's shape and only its dtype tells them apart.
    /// </summary>
    public static IEnumerable<(string name, string dtype)> QuantizedDTypes(JambaConfig config, ModelHead? head = null)
    {
        var quantization = QuantizationConfig.Of(config);
        if (quantization is null) yield break;
        int version = QuantizationConfig.VersionOf(config)!.Value;
        foreach (var (name, shape) in FullPrecisionTensors(config, head))
        {
            if (!quantization.Quantizes(name)) continue;
            var scheme = quantization.SchemeFor(shape[1]);
            yield return (name, scheme == JambaQuantization.Q4 ? "U8" : "I8");
            yield return (name + "_scale", QuantizationConfig.ScaleDTypeCode(scheme, version));
        }
    }

    /// <summary>
    /// Throws unless every quantized tensor of a quantized checkpoint is stored in its format's dtype
    /// (<see cref="QuantizedDTypes"/>), listing each one that is not.
    /// </summary>
    /// <param name="config">The configuration, with its <c>quantization_config</c>.</param>
    /// <param name="stored">Name → safetensors dtype code (<c>I8</c>, <c>F32</c>, ...) of every stored tensor.</param>
    /// <param name="where">How the checkpoint is named in messages (its folder).</param>
    /// <param name="head">The head; null takes it from the config's <c>architectures</c>.</param>
    public static void CheckQuantizedDTypes(JambaConfig config, IReadOnlyDictionary<string, string> stored, string where, ModelHead? head = null)
    {
        var quantization = QuantizationConfig.Of(config);
        if (quantization is null) return;
        var wrong = QuantizedDTypes(config, head)
            .Where(t => stored.TryGetValue(t.name, out var d) && d != t.dtype)
            .Select(t => $"{t.name} is {stored[t.name]}, expected {t.dtype}").ToList();
        if (wrong.Count == 0) return;
        throw new CheckpointException($"{where} is a {quantization} checkpoint (config.json {QuantizationConfig.ConfigKey}), but {wrong.Count} quantized tensor(s) have the wrong dtype: " +
            string.Join("; ", wrong.Take(5)) + (wrong.Count > 5 ? $"; ... ({wrong.Count - 5} more)" : "") +
            "; a weight is I8 (int8) or U8 (packed 4-bit), a weight_scale F32 (int8) or F16 (4-bit; F32 before format_version 3); nothing was allocated", where);
    }

    private static IEnumerable<(string name, long[] shape)> FullPrecisionTensors(JambaConfig config, ModelHead? head)
    {
        var h = head ?? (config.IsSequenceClassifier ? ModelHead.SequenceClassification : ModelHead.CausalLM);
        long hidden = config.HiddenSize, vocab = config.VocabSize, inter = config.IntermediateSize;
        yield return ("model.embed_tokens.weight", new[] { vocab, hidden });
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string l = $"model.layers.{i}.";
            yield return (l + "input_layernorm.weight", new[] { hidden });
            if (config.LayerKindAt(i) == LayerKind.Attention)
            {
                long q = (long)config.NumAttentionHeads * config.HeadDim, kv = (long)config.NumKeyValueHeads * config.HeadDim;
                yield return (l + "self_attn.q_proj.weight", new[] { q, hidden });
                yield return (l + "self_attn.k_proj.weight", new[] { kv, hidden });
                yield return (l + "self_attn.v_proj.weight", new[] { kv, hidden });
                yield return (l + "self_attn.o_proj.weight", new[] { hidden, q });
            }
            else
            {
                long d = config.MambaDInner, n = config.MambaDState, r = config.MambaDtRank;
                string m = l + "mamba.";
                yield return (m + "in_proj.weight", new[] { 2 * d, hidden });
                if (config.MambaProjBias) yield return (m + "in_proj.bias", new[] { 2 * d });
                yield return (m + "conv1d.weight", new[] { d, 1, (long)config.MambaDConv });
                if (config.MambaConvBias) yield return (m + "conv1d.bias", new[] { d });
                yield return (m + "x_proj.weight", new[] { r + 2 * n, d });
                yield return (m + "dt_proj.weight", new[] { d, r });
                yield return (m + "dt_proj.bias", new[] { d });
                yield return (m + "A_log", new[] { d, n });
                yield return (m + "D", new[] { d });
                yield return (m + "out_proj.weight", new[] { hidden, d });
                if (config.MambaProjBias) yield return (m + "out_proj.bias", new[] { hidden });
                yield return (m + "dt_layernorm.weight", new[] { r });
                yield return (m + "b_layernorm.weight", new[] { n });
                yield return (m + "c_layernorm.weight", new[] { n });
            }
            yield return (l + "pre_ff_layernorm.weight", new[] { hidden });
            int experts = config.ExpertsAt(i);
            if (experts > 1) yield return (l + "feed_forward.router.weight", new[] { (long)experts, hidden });
            for (int e = 0; e < experts; e++)
            {
                string f = experts > 1 ? $"{l}feed_forward.experts.{e}." : l + "feed_forward.";
                yield return (f + "gate_proj.weight", new[] { inter, hidden });
                yield return (f + "up_proj.weight", new[] { inter, hidden });
                yield return (f + "down_proj.weight", new[] { hidden, inter });
            }
        }
        yield return ("model.final_layernorm.weight", new[] { hidden });
        if (h == ModelHead.SequenceClassification) yield return ("score.weight", new[] { (long)config.NumLabels, hidden });
        else if (!config.TieWordEmbeddings) yield return ("lm_head.weight", new[] { vocab, hidden });
    }

    /// <summary>
    /// Stored names the network does not hold but loading may skip: the LM head of a checkpoint with tied
    /// embeddings (transformers writes it or not depending on version).
    /// </summary>
    public static IReadOnlySet<string> Ignored(JambaConfig config, ModelHead? head = null)
    {
        var h = head ?? (config.IsSequenceClassifier ? ModelHead.SequenceClassification : ModelHead.CausalLM);
        return h == ModelHead.CausalLM && config.TieWordEmbeddings ? new HashSet<string> { "lm_head.weight" } : new HashSet<string>();
    }

    /// <summary>
    /// Throws unless the checkpoint whose tensors are <paramref name="stored"/> (name → shape) holds exactly the
    /// tensors <paramref name="config"/> describes. Reads nothing but the arguments and allocates no tensor.
    /// </summary>
    /// <param name="config">The configuration (already valid on its own: <see cref="JambaConfig.Validate"/>).</param>
    /// <param name="stored">Name → shape of every stored tensor (<see cref="CheckpointReader.Shapes"/>).</param>
    /// <param name="where">How the checkpoint is named in messages (its folder).</param>
    /// <param name="head">The head; null takes it from the config's <c>architectures</c>.</param>
    /// <exception cref="CheckpointException">They disagree; <see cref="CheckpointException.ConfigKey"/> names the
    /// config.json key when one key explains it, and the key lists name every tensor otherwise.</exception>
    public static void Check(JambaConfig config, IReadOnlyDictionary<string, long[]> stored, string where, ModelHead? head = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(stored);
        if (QuantizationConfig.Of(config) is null && stored.Keys.FirstOrDefault(k => k.EndsWith(".weight_scale", StringComparison.Ordinal)) is string scale)
            throw new CheckpointException($"{where} stores quantized weights ({scale} and others) but its config.json has no {QuantizationConfig.ConfigKey}: " +
                "a quantized checkpoint loads only with the config it was saved with (JambaModel.Load), not as a reference checkpoint; nothing was allocated", where)
            {
                ConfigKey = QuantizationConfig.ConfigKey,
            };
        CheckStructure(config, stored, where);

        var ignored = Ignored(config, head);
        var missing = new List<string>();
        var mismatched = new List<string>();
        var expectedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, shape) in ExpectedTensors(config, head))
        {
            expectedNames.Add(name);
            if (!stored.TryGetValue(name, out var s)) missing.Add(name);
            else if (!s.SequenceEqual(shape))
                mismatched.Add($"{name}: config {CheckpointFolder.ShapeText(shape)}, checkpoint {CheckpointFolder.ShapeText(s)}");
        }
        var unexpected = stored.Keys.Where(n => !expectedNames.Contains(n) && !ignored.Contains(n)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        if (missing.Count + unexpected.Count + mismatched.Count > 0)
            throw CheckpointFolder.MismatchException($"{where} does not match its config", missing, unexpected, mismatched);
    }

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(?:(self_attn|mamba)\.|feed_forward\.experts\.(\d+)\.)?", RegexOptions.CultureInvariant)]
    private static partial Regex LayerName();

    /// <summary>The facts one config.json key decides, checked in an order where each message is the root cause.</summary>
    private static void CheckStructure(JambaConfig config, IReadOnlyDictionary<string, long[]> stored, string where)
    {
        if (stored.TryGetValue("model.embed_tokens.weight", out var embed) && embed.Length == 2)
        {
            if (embed[1] != config.HiddenSize)
                throw KeyError("hidden_size", config.HiddenSize, where, $"model.embed_tokens.weight is {CheckpointFolder.ShapeText(embed)}, so the checkpoint's hidden size is {embed[1]}");
            if (embed[0] != config.VocabSize)
                throw KeyError("vocab_size", config.VocabSize, where, $"model.embed_tokens.weight is {CheckpointFolder.ShapeText(embed)}, so the checkpoint's vocabulary has {embed[0]} tokens");
        }

        // Per stored layer: its mixer and the number of experts (highest expert index + 1; 0 for a plain MLP).
        var layers = new SortedDictionary<long, (string? mixer, long experts)>();
        foreach (var name in stored.Keys)
        {
            var m = LayerName().Match(name);
            if (!m.Success || !long.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out long i)) continue;
            layers.TryGetValue(i, out var l);
            if (m.Groups[2].Success) l.mixer = m.Groups[2].Value;
            if (m.Groups[3].Success && long.TryParse(m.Groups[3].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out long e)) l.experts = Math.Max(l.experts, e + 1);
            layers[i] = l;
        }
        long storedLayers = layers.Count == 0 ? 0 : layers.Keys.Max() + 1;
        if (layers.Count != storedLayers)
        {
            var gaps = Enumerable.Range(0, (int)Math.Min(storedLayers, int.MaxValue)).Where(i => !layers.ContainsKey(i)).Take(5);
            throw new CheckpointException($"{where} numbers its layers up to model.layers.{storedLayers - 1} but stores no tensor of layer(s) {string.Join(", ", gaps)}{(storedLayers - layers.Count > 5 ? ", ..." : "")}; nothing was allocated", where);
        }
        if (storedLayers != config.NumHiddenLayers)
            throw KeyError("num_hidden_layers", config.NumHiddenLayers, where, storedLayers == 0
                ? "the checkpoint has no model.layers.* tensors"
                : $"the checkpoint has {storedLayers} layers (model.layers.0 to model.layers.{storedLayers - 1})");

        foreach (var (i, (mixer, experts)) in layers)
        {
            int layer = (int)i;
            string expectedMixer = config.LayerKindAt(layer) == LayerKind.Attention ? "self_attn" : "mamba";
            if (mixer is not null && mixer != expectedMixer)
                throw KeyError("attn_layer_period", config.AttnLayerPeriod, where,
                    $"with attn_layer_offset = {config.AttnLayerOffset} layer {layer} is {(expectedMixer == "mamba" ? "a Mamba" : "an attention")} layer, but the checkpoint stores model.layers.{layer}.{mixer}.*");
            int want = config.ExpertsAt(layer);
            long have = Math.Max(1, experts);
            if (want == have) continue;
            if (want > 1 && have > 1)
                throw KeyError("num_experts", config.NumExperts, where, $"layer {layer} of the checkpoint has {have} experts (feed_forward.experts.0 to {have - 1})");
            throw KeyError("expert_layer_period", config.ExpertLayerPeriod, where, want > 1
                ? $"with num_experts = {config.NumExperts} and expert_layer_offset = {config.ExpertLayerOffset} layer {layer} should be a mixture of {want} experts, but the checkpoint stores a plain MLP there"
                : $"with num_experts = {config.NumExperts} and expert_layer_offset = {config.ExpertLayerOffset} layer {layer} should be a plain MLP, but the checkpoint stores {have} experts there");
        }
    }

    private static CheckpointException KeyError(string key, long value, string where, string why) =>
        new($"config.json {key} = {value.ToString(CultureInfo.InvariantCulture)} does not match the checkpoint in {where}: {why}; nothing was allocated", where)
        {
            ConfigKey = key,
        };
}
