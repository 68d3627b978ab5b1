using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Jamba;

/// <summary>The kind of token mixer a decoder layer uses.</summary>
public enum LayerKind
{
    /// <summary>Grouped-query self-attention with a KV cache.</summary>
    Attention,
    /// <summary>Mamba selective state-space mixer with conv and SSM state.</summary>
    Mamba,
}

/// <summary>
/// Every field of the Hugging Face <c>JambaConfig</c> (<c>config.json</c>), with the reference defaults,
/// validation that names the field at fault, and the layer plan derived from the periods and offsets.
/// Fields this class does not know are kept in <see cref="ExtraFields"/> and written back unchanged.
/// </summary>
public sealed class JambaConfig
{
    /// <summary>Vocabulary size (rows of the embedding and of the LM head).</summary>
    public int VocabSize { get; set; } = 65536;
    /// <summary>Whether the LM head shares the embedding matrix.</summary>
    public bool TieWordEmbeddings { get; set; }
    /// <summary>Model width.</summary>
    public int HiddenSize { get; set; } = 4096;
    /// <summary>Width of each SwiGLU MLP (and of each expert).</summary>
    public int IntermediateSize { get; set; } = 14336;
    /// <summary>Number of decoder layers.</summary>
    public int NumHiddenLayers { get; set; } = 32;
    /// <summary>Query heads of each attention layer.</summary>
    public int NumAttentionHeads { get; set; } = 32;
    /// <summary>Key/value heads (grouped-query attention); defaults to <see cref="NumAttentionHeads"/>.</summary>
    public int NumKeyValueHeads { get; set; } = 8;
    /// <summary>MLP activation; the reference uses <c>silu</c>.</summary>
    public string HiddenAct { get; set; } = "silu";
    /// <summary>Standard deviation of the reference's weight initialisation.</summary>
    public double InitializerRange { get; set; } = 0.02;
    /// <summary>Epsilon of every RMSNorm (also the dt/B/C norms inside Mamba).</summary>
    public double RmsNormEps { get; set; } = 1e-6;
    /// <summary>Whether generation uses the hybrid cache.</summary>
    public bool UseCache { get; set; } = true;
    /// <summary>Number of final positions whose logits the reference computes during generation.</summary>
    public int NumLogitsToKeep { get; set; } = 1;
    /// <summary>Whether the forward returns router logits (and so the aux loss) by default.</summary>
    public bool OutputRouterLogits { get; set; }
    /// <summary>Weight of the load-balancing loss added to the LM loss.</summary>
    public double RouterAuxLossCoef { get; set; } = 0.001;
    /// <summary>Padding token id (null when the model has none).</summary>
    public int? PadTokenId { get; set; } = 0;
    /// <summary>Beginning-of-sequence token id.</summary>
    public int? BosTokenId { get; set; } = 1;
    /// <summary>End-of-sequence token ids (the reference allows one id or a list).</summary>
    public int[] EosTokenIds { get; set; } = new[] { 2 };
    /// <summary>Sliding-window size of the attention layers (null: full attention).</summary>
    public int? SlidingWindow { get; set; }
    /// <summary>Longest context the model was trained for (informational: Jamba has no positional embedding).</summary>
    public int MaxPositionEmbeddings { get; set; } = 262144;
    /// <summary>Dropout on attention probabilities during training.</summary>
    public double AttentionDropout { get; set; }
    /// <summary>Experts each token is routed to (top-k).</summary>
    public int NumExpertsPerTok { get; set; } = 2;
    /// <summary>Experts of each MoE layer.</summary>
    public int NumExperts { get; set; } = 16;
    /// <summary>Every <c>expert_layer_period</c>-th layer has an MoE feed-forward.</summary>
    public int ExpertLayerPeriod { get; set; } = 2;
    /// <summary>Offset of the first MoE layer inside each period.</summary>
    public int ExpertLayerOffset { get; set; } = 1;
    /// <summary>Every <c>attn_layer_period</c>-th layer is an attention layer.</summary>
    public int AttnLayerPeriod { get; set; } = 8;
    /// <summary>Offset of the attention layer inside each period.</summary>
    public int AttnLayerOffset { get; set; } = 4;
    /// <summary>Whether the reference may use the CUDA Mamba kernels (informational here).</summary>
    public bool UseMambaKernels { get; set; } = true;
    /// <summary>SSM state size N.</summary>
    public int MambaDState { get; set; } = 16;
    /// <summary>Kernel width of the causal depthwise convolution.</summary>
    public int MambaDConv { get; set; } = 4;
    /// <summary>Inner width factor: d_inner = expand * hidden_size.</summary>
    public int MambaExpand { get; set; } = 2;
    /// <summary>Rank of the Δ projection; null means "auto" (ceil(hidden_size / 16)).</summary>
    public int? MambaDtRankValue { get; set; }
    /// <summary>Whether the depthwise convolution has a bias.</summary>
    public bool MambaConvBias { get; set; } = true;
    /// <summary>Whether in_proj and out_proj of the Mamba mixer have biases.</summary>
    public bool MambaProjBias { get; set; }
    /// <summary>Number of labels of a sequence-classification head.</summary>
    public int NumLabels { get; set; } = 2;
    /// <summary>Label names by id; null when config.json has none.</summary>
    public Dictionary<int, string>? Id2Label { get; set; }
    /// <summary>The <c>architectures</c> list (e.g. <c>JambaForCausalLM</c>, <c>JambaForSequenceClassification</c>).</summary>
    public List<string> Architectures { get; set; } = new() { "JambaForCausalLM" };
    /// <summary>The <c>problem_type</c> of a classifier (<c>single_label_classification</c>, <c>regression</c>, ...).</summary>
    public string? ProblemType { get; set; }
    /// <summary>Fields of config.json this class does not model; written back unchanged.</summary>
    public JsonObject ExtraFields { get; set; } = new();

    /// <summary>The <c>config.json</c> key of <see cref="MambaInnerLayerNorms"/> (not a reference field; kept in <see cref="ExtraFields"/>).</summary>
    public const string MambaInnerLayerNormsKey = "mamba_inner_layernorms";

    /// <summary>
    /// Whether the Mamba mixers RMS-normalise Δ, B and C (Jamba's addition; true, the reference behaviour, unless
    /// config.json says <c>"mamba_inner_layernorms": false</c>). Only for ablations: the reference has no such switch,
    /// so the value lives in <see cref="ExtraFields"/> and is written only when false, which keeps every reference
    /// config byte-for-byte unchanged. The norm weights exist either way (same checkpoint layout); off, they are unused.
    /// </summary>
    public bool MambaInnerLayerNorms
    {
        get => ExtraFields[MambaInnerLayerNormsKey]?.GetValueKind() != JsonValueKind.False;
        set
        {
            if (value) ExtraFields.Remove(MambaInnerLayerNormsKey);
            else ExtraFields[MambaInnerLayerNormsKey] = false;
        }
    }

    /// <summary>The Δ-projection rank with "auto" resolved.</summary>
    public int MambaDtRank => MambaDtRankValue ?? (HiddenSize + 15) / 16;
    /// <summary>Inner width of the Mamba mixer.</summary>
    public int MambaDInner => MambaExpand * HiddenSize;
    /// <summary>Width of one attention head.</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;
    /// <summary>True when the architecture is a sequence classifier.</summary>
    public bool IsSequenceClassifier => Architectures.Contains("JambaForSequenceClassification");

    /// <summary>Whether layer <paramref name="i"/> is attention or Mamba (the reference's <c>layers_block_type</c>).</summary>
    public LayerKind LayerKindAt(int i) => i % AttnLayerPeriod == AttnLayerOffset ? LayerKind.Attention : LayerKind.Mamba;

    /// <summary>Experts of layer <paramref name="i"/>: <see cref="NumExperts"/> on MoE layers, 1 (a plain MLP) elsewhere.</summary>
    public int ExpertsAt(int i) => NumExperts > 1 && i % ExpertLayerPeriod == ExpertLayerOffset ? NumExperts : 1;

    /// <summary>Whether layer <paramref name="i"/> has a sparse MoE feed-forward.</summary>
    public bool IsMoeLayer(int i) => ExpertsAt(i) > 1;

    /// <summary>A one-line map such as <c>M M A M | e - e -</c>: layer kinds, then which layers are MoE.</summary>
    public string LayerMap()
    {
        var kinds = Enumerable.Range(0, NumHiddenLayers).Select(i => LayerKindAt(i) == LayerKind.Attention ? "A" : "M");
        var moe = Enumerable.Range(0, NumHiddenLayers).Select(i => IsMoeLayer(i) ? "e" : "-");
        return string.Join("", kinds) + " / " + string.Join("", moe);
    }

    /// <summary>Checks every constraint the model relies on; the exception names the field and the value.</summary>
    /// <exception cref="JambaConfigException">A field has an invalid value.</exception>
    public void Validate()
    {
        static void Positive(string field, long v) { if (v <= 0) throw new JambaConfigException(field, v.ToString(CultureInfo.InvariantCulture), "must be positive"); }
        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Positive("intermediate_size", IntermediateSize);
        Positive("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads);
        Positive("num_key_value_heads", NumKeyValueHeads);
        Positive("num_experts", NumExperts);
        Positive("num_experts_per_tok", NumExpertsPerTok);
        Positive("expert_layer_period", ExpertLayerPeriod);
        Positive("attn_layer_period", AttnLayerPeriod);
        Positive("mamba_d_state", MambaDState);
        Positive("mamba_d_conv", MambaDConv);
        Positive("mamba_expand", MambaExpand);
        Positive("mamba_dt_rank", MambaDtRank);
        Positive("num_labels", NumLabels);
        if (HiddenSize % NumAttentionHeads != 0)
            throw new JambaConfigException("num_attention_heads", NumAttentionHeads.ToString(CultureInfo.InvariantCulture), $"must divide hidden_size ({HiddenSize})");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new JambaConfigException("num_key_value_heads", NumKeyValueHeads.ToString(CultureInfo.InvariantCulture), $"must divide num_attention_heads ({NumAttentionHeads})");
        if (AttnLayerOffset < 0 || AttnLayerOffset >= AttnLayerPeriod)
            throw new JambaConfigException("attn_layer_offset", AttnLayerOffset.ToString(CultureInfo.InvariantCulture), $"must be in [0, attn_layer_period = {AttnLayerPeriod})");
        if (ExpertLayerOffset < 0 || ExpertLayerOffset >= ExpertLayerPeriod)
            throw new JambaConfigException("expert_layer_offset", ExpertLayerOffset.ToString(CultureInfo.InvariantCulture), $"must be in [0, expert_layer_period = {ExpertLayerPeriod})");
        if (NumExpertsPerTok > NumExperts)
            throw new JambaConfigException("num_experts_per_tok", NumExpertsPerTok.ToString(CultureInfo.InvariantCulture), $"must not exceed num_experts ({NumExperts})");
        if (RmsNormEps <= 0 || double.IsNaN(RmsNormEps))
            throw new JambaConfigException("rms_norm_eps", RmsNormEps.ToString(CultureInfo.InvariantCulture), "must be positive");
        if (AttentionDropout < 0 || AttentionDropout >= 1)
            throw new JambaConfigException("attention_dropout", AttentionDropout.ToString(CultureInfo.InvariantCulture), "must be in [0, 1)");
        if (HiddenAct != "silu" && HiddenAct != "swish")
            throw new JambaConfigException("hidden_act", HiddenAct, "only silu is supported (the reference's activation)");
        foreach (var (name, id) in new[] { ("pad_token_id", PadTokenId), ("bos_token_id", BosTokenId) })
            if (id is int v && (v < 0 || v >= VocabSize))
                throw new JambaConfigException(name, v.ToString(CultureInfo.InvariantCulture), $"must be in [0, vocab_size = {VocabSize})");
        foreach (int eos in EosTokenIds)
            if (eos < 0 || eos >= VocabSize)
                throw new JambaConfigException("eos_token_id", eos.ToString(CultureInfo.InvariantCulture), $"must be in [0, vocab_size = {VocabSize})");
        if (SlidingWindow is int w && w <= 0)
            throw new JambaConfigException("sliding_window", w.ToString(CultureInfo.InvariantCulture), "must be positive or null");
    }

    /// <summary>A deep copy (through JSON, so every field and extra is copied).</summary>
    public JambaConfig Clone() => FromJson(ToJson());

    // ---------------------------------------------------------------- JSON

    private static readonly string[] KnownKeys =
    {
        "architectures", "attention_dropout", "attn_layer_offset", "attn_layer_period", "bos_token_id", "eos_token_id",
        "expert_layer_offset", "expert_layer_period", "hidden_act", "hidden_size", "id2label", "initializer_range",
        "intermediate_size", "label2id", "mamba_conv_bias", "mamba_d_conv", "mamba_d_state", "mamba_dt_rank", "mamba_expand",
        "mamba_proj_bias", "max_position_embeddings", "model_type", "num_attention_heads", "num_experts",
        "num_experts_per_tok", "num_hidden_layers", "num_key_value_heads", "num_labels", "num_logits_to_keep",
        "output_router_logits", "pad_token_id", "problem_type", "rms_norm_eps", "router_aux_loss_coef", "sliding_window",
        "tie_word_embeddings", "use_cache", "use_mamba_kernels", "vocab_size",
    };

    /// <summary>Reads and validates a <c>config.json</c> file.</summary>
    /// <exception cref="JambaConfigException">The file is not valid JSON or a field is invalid.</exception>
    public static JambaConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config file not found: {path}", path);
        try { return FromJson(File.ReadAllText(path)); }
        catch (JambaConfigException e) { throw new JambaConfigException($"{path}: {e.Message}", e); }
    }

    /// <summary>Parses and validates reference-format JSON.</summary>
    public static JambaConfig FromJson(string json)
    {
        JsonObject o;
        try { o = JsonNode.Parse(json) as JsonObject ?? throw new JambaConfigException("config.json must be a JSON object"); }
        catch (JsonException e) { throw new JambaConfigException($"config.json is not valid JSON: {e.Message}", e); }

        var c = new JambaConfig();
        if (o["model_type"] is JsonNode mt && mt.GetValueKind() == JsonValueKind.String && (string?)mt != "jamba")
            throw new JambaConfigException("model_type", (string)mt!, "expected \"jamba\"");
        c.VocabSize = Int(o, "vocab_size", c.VocabSize);
        c.TieWordEmbeddings = Bool(o, "tie_word_embeddings", c.TieWordEmbeddings);
        c.HiddenSize = Int(o, "hidden_size", c.HiddenSize);
        c.IntermediateSize = Int(o, "intermediate_size", c.IntermediateSize);
        c.NumHiddenLayers = Int(o, "num_hidden_layers", c.NumHiddenLayers);
        c.NumAttentionHeads = Int(o, "num_attention_heads", c.NumAttentionHeads);
        c.NumKeyValueHeads = NullableInt(o, "num_key_value_heads", c.NumKeyValueHeads) ?? c.NumAttentionHeads;
        c.HiddenAct = Str(o, "hidden_act", c.HiddenAct)!;
        c.InitializerRange = Dbl(o, "initializer_range", c.InitializerRange);
        c.RmsNormEps = Dbl(o, "rms_norm_eps", c.RmsNormEps);
        c.UseCache = Bool(o, "use_cache", c.UseCache);
        c.NumLogitsToKeep = NullableInt(o, "num_logits_to_keep", c.NumLogitsToKeep) ?? 0;
        c.OutputRouterLogits = Bool(o, "output_router_logits", c.OutputRouterLogits);
        c.RouterAuxLossCoef = Dbl(o, "router_aux_loss_coef", c.RouterAuxLossCoef);
        c.PadTokenId = NullableInt(o, "pad_token_id", c.PadTokenId);
        c.BosTokenId = NullableInt(o, "bos_token_id", c.BosTokenId);
        c.EosTokenIds = IntOrList(o, "eos_token_id", c.EosTokenIds);
        c.SlidingWindow = NullableInt(o, "sliding_window", c.SlidingWindow);
        c.MaxPositionEmbeddings = Int(o, "max_position_embeddings", c.MaxPositionEmbeddings);
        c.AttentionDropout = Dbl(o, "attention_dropout", c.AttentionDropout);
        c.NumExpertsPerTok = Int(o, "num_experts_per_tok", c.NumExpertsPerTok);
        c.NumExperts = Int(o, "num_experts", c.NumExperts);
        c.ExpertLayerPeriod = Int(o, "expert_layer_period", c.ExpertLayerPeriod);
        c.ExpertLayerOffset = Int(o, "expert_layer_offset", c.ExpertLayerOffset);
        c.AttnLayerPeriod = Int(o, "attn_layer_period", c.AttnLayerPeriod);
        c.AttnLayerOffset = Int(o, "attn_layer_offset", c.AttnLayerOffset);
        c.UseMambaKernels = Bool(o, "use_mamba_kernels", c.UseMambaKernels);
        c.MambaDState = Int(o, "mamba_d_state", c.MambaDState);
        c.MambaDConv = Int(o, "mamba_d_conv", c.MambaDConv);
        c.MambaExpand = Int(o, "mamba_expand", c.MambaExpand);
        c.MambaDtRankValue = DtRank(o);
        c.MambaConvBias = Bool(o, "mamba_conv_bias", c.MambaConvBias);
        c.MambaProjBias = Bool(o, "mamba_proj_bias", c.MambaProjBias);
        c.Id2Label = ReadId2Label(o);
        c.NumLabels = NullableInt(o, "num_labels", null) ?? c.Id2Label?.Count ?? c.NumLabels;
        c.ProblemType = Str(o, "problem_type", null);
        if (o["architectures"] is JsonArray arch)
            c.Architectures = arch.Select(a => a?.GetValueKind() == JsonValueKind.String ? (string)a! : throw new JambaConfigException("architectures", a?.ToJsonString() ?? "null", "must be a list of strings")).ToList();
        foreach (var (key, value) in o)
            if (!KnownKeys.Contains(key)) c.ExtraFields[key] = value?.DeepClone();
        c.Validate();
        return c;
    }

    /// <summary>Writes reference-format JSON (HF field names, keys sorted as <c>save_pretrained</c> does).</summary>
    public string ToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(Architectures.Select(a => (JsonNode)JsonValue.Create(a)!).ToArray()),
            ["attention_dropout"] = AttentionDropout,
            ["attn_layer_offset"] = AttnLayerOffset,
            ["attn_layer_period"] = AttnLayerPeriod,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenIds.Length == 1 ? JsonValue.Create(EosTokenIds[0]) : new JsonArray(EosTokenIds.Select(e => (JsonNode)JsonValue.Create(e)).ToArray()),
            ["expert_layer_offset"] = ExpertLayerOffset,
            ["expert_layer_period"] = ExpertLayerPeriod,
            ["hidden_act"] = HiddenAct,
            ["hidden_size"] = HiddenSize,
            ["initializer_range"] = InitializerRange,
            ["intermediate_size"] = IntermediateSize,
            ["mamba_conv_bias"] = MambaConvBias,
            ["mamba_d_conv"] = MambaDConv,
            ["mamba_d_state"] = MambaDState,
            ["mamba_dt_rank"] = MambaDtRankValue is int r ? JsonValue.Create(r) : JsonValue.Create("auto"),
            ["mamba_expand"] = MambaExpand,
            ["mamba_proj_bias"] = MambaProjBias,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["model_type"] = "jamba",
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_experts"] = NumExperts,
            ["num_experts_per_tok"] = NumExpertsPerTok,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["num_logits_to_keep"] = NumLogitsToKeep,
            ["output_router_logits"] = OutputRouterLogits,
            ["pad_token_id"] = PadTokenId,
            ["rms_norm_eps"] = RmsNormEps,
            ["router_aux_loss_coef"] = RouterAuxLossCoef,
            ["sliding_window"] = SlidingWindow,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["use_cache"] = UseCache,
            ["use_mamba_kernels"] = UseMambaKernels,
            ["vocab_size"] = VocabSize,
        };
        if (Id2Label != null || IsSequenceClassifier)
        {
            var labels = Id2Label ?? Enumerable.Range(0, NumLabels).ToDictionary(i => i, i => $"LABEL_{i}");
            var id2 = new JsonObject();
            var l2i = new JsonObject();
            foreach (var (id, name) in labels.OrderBy(p => p.Key))
            {
                id2[id.ToString(CultureInfo.InvariantCulture)] = name;
                l2i[name] = id;
            }
            o["id2label"] = id2;
            o["label2id"] = l2i;
        }
        if (ProblemType != null) o["problem_type"] = ProblemType;
        foreach (var (key, value) in ExtraFields) o[key] = value?.DeepClone();
        var sorted = new JsonObject();
        foreach (var (key, value) in o.OrderBy(p => p.Key, StringComparer.Ordinal)) sorted[key] = value?.DeepClone();
        return sorted.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Writes <c>config.json</c> atomically (temporary file, then rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    private static JsonNode? Field(JsonObject o, string key) => o.TryGetPropertyValue(key, out var n) ? n : null;

    private static int Int(JsonObject o, string key, int fallback) => NullableInt(o, key, fallback) ?? throw new JambaConfigException(key, "null", "must be an integer");

    private static int? NullableInt(JsonObject o, string key, int? fallback)
    {
        if (!o.ContainsKey(key)) return fallback;
        var n = Field(o, key);
        if (n is null) return null;
        if (n.GetValueKind() == JsonValueKind.Number)
        {
            double d = n.GetValue<double>();
            if (d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue) return (int)d;
        }
        throw new JambaConfigException(key, n.ToJsonString(), "must be an integer");
    }

    private static double Dbl(JsonObject o, string key, double fallback)
    {
        var n = Field(o, key);
        if (n is null) return fallback;
        if (n.GetValueKind() == JsonValueKind.Number) return n.GetValue<double>();
        throw new JambaConfigException(key, n.ToJsonString(), "must be a number");
    }

    private static bool Bool(JsonObject o, string key, bool fallback)
    {
        var n = Field(o, key);
        if (n is null) return fallback;
        return n.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new JambaConfigException(key, n.ToJsonString(), "must be true or false"),
        };
    }

    private static string? Str(JsonObject o, string key, string? fallback)
    {
        var n = Field(o, key);
        if (n is null) return fallback;
        if (n.GetValueKind() == JsonValueKind.String) return (string)n!;
        throw new JambaConfigException(key, n.ToJsonString(), "must be a string");
    }

    private static int[] IntOrList(JsonObject o, string key, int[] fallback)
    {
        if (!o.ContainsKey(key)) return fallback;
        var n = Field(o, key);
        if (n is null) return Array.Empty<int>();
        if (n is JsonArray a)
            return a.Select(x => x?.GetValueKind() == JsonValueKind.Number ? x.GetValue<int>() : throw new JambaConfigException(key, n.ToJsonString(), "must be an integer or a list of integers")).ToArray();
        return new[] { NullableInt(o, key, null)!.Value };
    }

    private static int? DtRank(JsonObject o)
    {
        var n = Field(o, "mamba_dt_rank");
        if (n is null || (n.GetValueKind() == JsonValueKind.String && (string)n! == "auto")) return null;
        return NullableInt(o, "mamba_dt_rank", null);
    }

    private static Dictionary<int, string>? ReadId2Label(JsonObject o)
    {
        if (Field(o, "id2label") is not JsonObject m) return null;
        var d = new Dictionary<int, string>();
        foreach (var (k, v) in m)
        {
            if (!int.TryParse(k, NumberStyles.Integer, CultureInfo.InvariantCulture, out int id) || v?.GetValueKind() != JsonValueKind.String)
                throw new JambaConfigException("id2label", m.ToJsonString(), "must map integer ids to label strings");
            d[id] = (string)v!;
        }
        return d;
    }
}

/// <summary>An invalid or unreadable Jamba configuration; the message names the field and value.</summary>
public sealed class JambaConfigException : Exception
{
    /// <summary>The config field at fault, when one is.</summary>
    public string? Field { get; }

    /// <summary>Creates an error for <paramref name="field"/> holding <paramref name="value"/>.</summary>
    public JambaConfigException(string field, string value, string problem)
        : base($"invalid config field '{field}' = {value}: {problem}") => Field = field;

    /// <summary>Creates an error with a message.</summary>
    public JambaConfigException(string message) : base(message) { }

    /// <summary>Creates an error with a message and its cause.</summary>
    public JambaConfigException(string message, Exception inner) : base(message, inner) { }
}
