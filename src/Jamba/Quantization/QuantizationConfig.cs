using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Jamba.Quantization;

/// <summary>
/// The <c>quantization_config</c> of a quantized checkpoint's config.json:
/// <c>{"quant_method": "jamba_mlnet", "scheme": "int8"|"q4", "group_size": 32, "format_version": 1}</c>, or with a
/// quantized LM head <c>{..., "lm_head": true, "format_version": 2}</c> (version 2 only adds that key, so a reader of
/// version 1 refuses such a file instead of reading the head's int8 bytes as floats). Version 3 stores q4 scales as
/// float16 (4.5 bits a weight at G = 32, where float32 scales made it 5); q4 files are written as version 3, int8
/// files as before. A q4 file of version 1 or 2 still loads: its float32 scales are rounded to float16 on the way in.
/// A config that carries it describes a network whose decoder linears (and head, with <see cref="LmHead"/>) are
/// <see cref="QuantizedLinear"/>s, the way transformers builds quantized linears from the same key.
/// </summary>
/// <param name="Scheme"><see cref="JambaQuantization.Int8"/> or <see cref="JambaQuantization.Q4"/>.</param>
/// <param name="GroupSize">Weights per scale of the Q4 scheme (32 or 64); recorded for Int8 too, where it is unused.</param>
/// <param name="LmHead">Whether the LM head (<c>lm_head.weight</c>, when the embeddings are not tied) is stored in the
/// same scheme. At a 65,536-token vocabulary the head is a tenth of a 1B model's weights, all read every token.</param>
public sealed record QuantizationConfig(JambaQuantization Scheme, int GroupSize, bool LmHead)
{
    /// <summary>The config.json key.</summary>
    public const string ConfigKey = "quantization_config";

    /// <summary>The <c>quant_method</c> this library writes and reads.</summary>
    public const string QuantMethod = "jamba_mlnet";

    /// <summary>
    /// The newest layout version this library writes and reads (1: decoder linears; 2: adds <c>lm_head</c>; 3: q4
    /// scales in float16).
    /// </summary>
    public const int FormatVersion = 3;

    /// <summary>The default Q4 group size.</summary>
    public const int DefaultGroupSize = 32;

    /// <summary>The group sizes the Q4 layout allows.</summary>
    public static IReadOnlyList<int> GroupSizes { get; } = new[] { 32, 64 };

    /// <summary>A checked configuration: a quantized scheme, an allowed group size, and whether the LM head is quantized too.</summary>
    /// <exception cref="ArgumentException">The scheme is None or the group size is not 32 or 64.</exception>
    public static QuantizationConfig Create(JambaQuantization scheme, int groupSize = DefaultGroupSize, bool lmHead = true)
    {
        if (scheme is not (JambaQuantization.Int8 or JambaQuantization.Q4))
            throw new ArgumentException($"quantization scheme must be Int8 or Q4, not {scheme}", nameof(scheme));
        if (!GroupSizes.Contains(groupSize))
            throw new ArgumentException($"quantization group size {groupSize} is not supported: use 32 or 64", nameof(groupSize));
        return new QuantizationConfig(scheme, groupSize, lmHead);
    }

    /// <summary>The scheme's name as config.json and the CLI write it: <c>int8</c> or <c>q4</c>.</summary>
    public static string SchemeName(JambaQuantization scheme) => scheme switch
    {
        JambaQuantization.Int8 => "int8",
        JambaQuantization.Q4 => "q4",
        _ => "none",
    };

    /// <summary>Parses <c>none|int8|q4</c> (case-insensitive; <c>q8</c> and <c>4bit</c> style aliases are not guessed).</summary>
    /// <exception cref="ArgumentException">Any other value, named in the message.</exception>
    public static JambaQuantization ParseScheme(string value) => value.Trim().ToLowerInvariant() switch
    {
        "none" or "" => JambaQuantization.None,
        "int8" => JambaQuantization.Int8,
        "q4" => JambaQuantization.Q4,
        _ => throw new ArgumentException($"unknown quantization '{value}': use int8 or q4 (or none)", nameof(value)),
    };

    /// <summary>
    /// The quantization a config describes, or null when its config.json has no <c>quantization_config</c>.
    /// </summary>
    /// <exception cref="JambaConfigException">The key is present but is not this library's format, naming the field at fault.</exception>
    public static QuantizationConfig? Of(JambaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var node = config.ExtraFields[ConfigKey];
        if (node is null) return null;
        if (node is not JsonObject o) throw Error("", node.ToJsonString(), "must be an object");
        string method = StringField(o, "quant_method");
        if (method != QuantMethod)
            throw Error("quant_method", method, $"is not supported: this library reads its own weight-only format (\"{QuantMethod}\"); other methods (GPTQ, AWQ, bitsandbytes) are not");
        int version = IntField(o, "format_version");
        if (version is < 1 or > FormatVersion) throw Error("format_version", version.ToString(CultureInfo.InvariantCulture), $"is not supported (this library reads versions 1 to {FormatVersion})");
        string schemeText = StringField(o, "scheme");
        var scheme = schemeText switch
        {
            "int8" => JambaQuantization.Int8,
            "q4" => JambaQuantization.Q4,
            _ => throw Error("scheme", schemeText, "must be \"int8\" or \"q4\""),
        };
        int group = IntField(o, "group_size");
        if (!GroupSizes.Contains(group)) throw Error("group_size", group.ToString(CultureInfo.InvariantCulture), "must be 32 or 64");
        bool head = false;
        if (o["lm_head"] is { } h)
        {
            if (version < 2) throw Error("lm_head", h.ToJsonString(), "needs format_version 2");
            head = h is JsonValue hv && hv.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? hv.GetValue<bool>() : throw Error("lm_head", h.ToJsonString(), "must be true or false");
        }
        return new QuantizationConfig(scheme, group, head);
    }

    /// <summary>
    /// The <c>format_version</c> of <paramref name="config"/>'s <c>quantization_config</c> (checked as <see cref="Of"/>
    /// checks it), or null when it has none.
    /// </summary>
    public static int? VersionOf(JambaConfig config) =>
        Of(config) is null ? null : IntField((JsonObject)config.ExtraFields[ConfigKey]!, "format_version");

    /// <summary>
    /// The safetensors dtype code of a stored <c>weight_scale</c>: <c>F32</c> for int8, <c>F16</c> for q4 from format
    /// version 3 (<c>F32</c> before, converted on load).
    /// </summary>
    public static string ScaleDTypeCode(JambaQuantization scheme, int version) =>
        scheme == JambaQuantization.Q4 && version >= 3 ? "F16" : "F32";

    /// <summary>Writes this configuration into <paramref name="config"/> (replacing any), or removes it when null.</summary>
    public static void Set(JambaConfig config, QuantizationConfig? quantization)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (quantization is null) { config.ExtraFields.Remove(ConfigKey); return; }
        var o = new JsonObject
        {
            ["quant_method"] = QuantMethod,
            ["scheme"] = SchemeName(quantization.Scheme),
            ["group_size"] = quantization.GroupSize,
        };
        if (quantization.LmHead) o["lm_head"] = true;
        // The oldest version that describes the file, so every reader that can read it does.
        o["format_version"] = quantization.Scheme == JambaQuantization.Q4 ? 3 : quantization.LmHead ? 2 : 1;
        config.ExtraFields[ConfigKey] = o;
    }

    /// <summary>
    /// Whether a state-dict key is the weight of a linear that quantization stores quantized: the decoder's attention,
    /// Mamba and MLP/expert projections (<c>model.layers.*.*_proj.weight</c>); never the router or the embeddings, and
    /// the LM head only under <see cref="LmHead"/> (see <see cref="Quantizes"/>).
    /// </summary>
    public static bool IsQuantizedWeight(string name) =>
        name.StartsWith("model.layers.", StringComparison.Ordinal) && name.EndsWith("_proj.weight", StringComparison.Ordinal);

    /// <summary>Whether this configuration stores the state-dict key <paramref name="name"/> quantized: a decoder
    /// projection's weight (<see cref="IsQuantizedWeight"/>), or <c>lm_head.weight</c> under <see cref="LmHead"/>.</summary>
    public bool Quantizes(string name) => IsQuantizedWeight(name) || (LmHead && name == "lm_head.weight");

    /// <summary>The scheme a linear of <paramref name="inFeatures"/> inputs is stored in: Q4 falls back to Int8 when the
    /// groups would not tile the row.</summary>
    public JambaQuantization SchemeFor(long inFeatures) => Quantizer.SchemeFor(inFeatures, Scheme, GroupSize);

    /// <inheritdoc/>
    public override string ToString() => (Scheme == JambaQuantization.Q4
        ? string.Create(CultureInfo.InvariantCulture, $"q4 (group size {GroupSize})")
        : SchemeName(Scheme)) + (LmHead ? ", LM head too" : "");

    private static string StringField(JsonObject o, string name) =>
        o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
            : throw Error(name, o[name]?.ToJsonString() ?? "missing", "must be a string");

    private static int IntField(JsonObject o, string name) =>
        o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int i) ? i
            : throw Error(name, o[name]?.ToJsonString() ?? "missing", "must be an integer");

    private static JambaConfigException Error(string field, string value, string why) =>
        new(field.Length == 0 ? ConfigKey : $"{ConfigKey}.{field}", value, why);
}
