using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

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
/// It is read and written by System.Text.Json: each property is the snake_case key of the same name unless it says
/// otherwise. Fields this class does not know are kept in <see cref="ExtraFields"/> and written back unchanged.
/// </summary>
public sealed class JambaConfig : IJsonOnDeserialized
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
    /// <summary>Key/value heads (grouped-query attention); null in config.json means one per query head.</summary>
    [JsonIgnore]
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
    [JsonConverter(typeof(AllAsZeroConverter))]
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
    [JsonPropertyName("eos_token_id"), JsonConverter(typeof(TokenIdsConverter))]
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
    [JsonPropertyName("mamba_dt_rank"), JsonConverter(typeof(DtRankConverter))]
    public int? MambaDtRankValue { get; set; }
    /// <summary>Whether the depthwise convolution has a bias.</summary>
    public bool MambaConvBias { get; set; } = true;
    /// <summary>Whether in_proj and out_proj of the Mamba mixer have biases.</summary>
    public bool MambaProjBias { get; set; }
    /// <summary>Number of labels of a sequence-classification head (read from config.json, else the size of <c>id2label</c>).</summary>
    [JsonIgnore]
    public int NumLabels { get; set; } = 2;
    /// <summary>Label names by id; null when config.json has none.</summary>
    [JsonIgnore]
    public Dictionary<int, string>? Id2Label { get; set; }
    /// <summary>The <c>architectures</c> list (e.g. <c>JambaForCausalLM</c>, <c>JambaForSequenceClassification</c>).</summary>
    [JsonConverter(typeof(NameListConverter))]
    public List<string> Architectures { get; set; } = new() { "JambaForCausalLM" };
    /// <summary>The <c>problem_type</c> of a classifier (<c>single_label_classification</c>, <c>regression</c>, ...).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ProblemType { get; set; }
    /// <summary>Fields of config.json this class does not model; written back unchanged.</summary>
    [JsonIgnore]
    public JsonObject ExtraFields { get; set; } = new();

    /// <summary>The <c>config.json</c> key of <see cref="MambaInnerLayerNorms"/> (not a reference field; kept in <see cref="ExtraFields"/>).</summary>
    public const string MambaInnerLayerNormsKey = "mamba_inner_layernorms";

    /// <summary>
    /// Whether the Mamba mixers RMS-normalise Δ, B and C (Jamba's addition; true, the reference behaviour, unless
    /// config.json says <c>"mamba_inner_layernorms": false</c>). Only for ablations: the reference has no such switch,
    /// so the value lives in <see cref="ExtraFields"/> and is written only when false, which keeps every reference
    /// config byte-for-byte unchanged. The norm weights exist either way (same checkpoint layout); off, they are unused.
    /// </summary>
    [JsonIgnore]
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
    [JsonIgnore]
    public int MambaDtRank => MambaDtRankValue ?? (HiddenSize + 15) / 16;
    /// <summary>Inner width of the Mamba mixer.</summary>
    [JsonIgnore]
    public int MambaDInner => MambaExpand * HiddenSize;
    /// <summary>Width of one attention head.</summary>
    [JsonIgnore]
    public int HeadDim => HiddenSize / NumAttentionHeads;
    /// <summary>True when the architecture is a sequence classifier.</summary>
    [JsonIgnore]
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

    // Keys whose JSON form differs from the property's: each private property below is the key as config.json has it.

    /// <summary><c>model_type</c>: always written as "jamba"; another model's config is refused.</summary>
    [JsonInclude, JsonPropertyName("model_type")]
    private string ModelType
    {
        get => "jamba";
        set { if (value != "jamba") throw new ConfigValueException(value, "expected \"jamba\""); }
    }

    /// <summary><c>num_key_value_heads</c>; null means one KV head per query head (resolved once every key is read).</summary>
    [JsonInclude, JsonPropertyName("num_key_value_heads")]
    private int? NumKeyValueHeadsJson
    {
        get => NumKeyValueHeads;
        set { if (value is int heads) NumKeyValueHeads = heads; else kvHeadPerQueryHead = true; }
    }

    /// <summary><c>num_labels</c>: read only (the reference writes <c>id2label</c>, from which it derives the count).</summary>
    [JsonInclude, JsonPropertyName("num_labels"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    private int? NumLabelsJson
    {
        get => null;
        set => numLabelsRead = value;
    }

    /// <summary><c>id2label</c> as written: the labels, or <c>LABEL_i</c> names for a classifier that has none.</summary>
    [JsonInclude, JsonPropertyName("id2label"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), JsonConverter(typeof(LabelMapConverter))]
    private Dictionary<int, string>? Id2LabelJson
    {
        get => Id2Label ?? (IsSequenceClassifier ? Enumerable.Range(0, NumLabels).ToDictionary(i => i, i => $"LABEL_{i}") : null);
        set => Id2Label = value;
    }

    /// <summary><c>label2id</c>: written as the inverse of <c>id2label</c>; read and ignored, since it carries nothing more.</summary>
    [JsonInclude, JsonPropertyName("label2id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    private JsonNode? Label2IdJson
    {
        get
        {
            if (Id2LabelJson is not { } labels) return null;
            var inverse = new JsonObject();
            foreach (var (id, name) in labels.OrderBy(p => p.Key)) inverse[name] = id;
            return inverse;
        }
        set { }
    }

    /// <summary>
    /// The keys no property takes, as read; moved to <see cref="ExtraFields"/> once reading ends. (The serializer writes
    /// a JsonObject extension property as a nested object, not as keys, so ToJson adds the extras itself.)
    /// </summary>
    [JsonInclude, JsonExtensionData]
    private Dictionary<string, JsonElement>? UnknownKeys { get; set; }

    private bool kvHeadPerQueryHead;
    private int? numLabelsRead;

    void IJsonOnDeserialized.OnDeserialized()
    {
        if (kvHeadPerQueryHead) NumKeyValueHeads = NumAttentionHeads;
        NumLabels = numLabelsRead ?? Id2Label?.Count ?? NumLabels;
        foreach (var (key, value) in UnknownKeys ?? []) ExtraFields[key] = JsonNode.Parse(value.GetRawText());
        UnknownKeys = null;
    }

    /// <summary>
    /// Keys whose null reads as the default: the float, flag, string and list fields. An integer field must say what
    /// null means (the nullable ones do), so a null size is an error rather than a guess.
    /// </summary>
    private static readonly string[] NullMeansDefault = JambaConfigJson.Options.GetTypeInfo(typeof(JambaConfig)).Properties
        .Where(p => p.PropertyType == typeof(double) || p.PropertyType == typeof(bool) || p.PropertyType == typeof(string) || p.PropertyType == typeof(List<string>))
        .Select(p => p.Name).ToArray();

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
        foreach (var key in NullMeansDefault)
            if (o.TryGetPropertyValue(key, out var value) && value is null) o.Remove(key);

        JambaConfig c;
        try { c = o.Deserialize<JambaConfig>(JambaConfigJson.Options)!; }
        catch (ConfigValueException e) { throw new JambaConfigException(JambaConfigJson.FieldOf(e.Path), e.Value, e.Problem); }
        catch (JsonException e) { throw new JambaConfigException($"config.json: {e.Message}", e); }
        c.Validate();
        return c;
    }

    /// <summary>Writes reference-format JSON (HF field names, keys sorted as <c>save_pretrained</c> does).</summary>
    public string ToJson()
    {
        var o = JsonSerializer.SerializeToNode(this, JambaConfigJson.Options)!.AsObject();
        foreach (var (key, value) in ExtraFields) o[key] = value?.DeepClone();
        var sorted = new JsonObject();
        foreach (var (key, value) in o.OrderBy(p => p.Key, StringComparer.Ordinal)) sorted[key] = value?.DeepClone();
        return sorted.ToJsonString(JambaConfigJson.Options);
    }

    /// <summary>Writes <c>config.json</c> atomically (temporary file, then rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");
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
