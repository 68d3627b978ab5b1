using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Jamba;

/// <summary>
/// How <see cref="JambaConfig"/> meets <c>config.json</c>: System.Text.Json with snake_case names and converters that
/// accept exactly what the reference writes. A converter that meets a value it cannot take throws
/// <see cref="ConfigValueException"/>; the serializer adds the JSON path, from which <see cref="JambaConfig.FromJson"/>
/// names the field in a <see cref="JambaConfigException"/>.
/// </summary>
internal static class JambaConfigJson
{
    /// <summary>The serializer options of config.json (indentation as <c>save_pretrained</c> writes it).</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new IntegerConverter(), new NumberConverter(), new FlagConverter(), new TextConverter() },
    };

    /// <summary>The field a serializer path such as <c>$.eos_token_id[1]</c> points into.</summary>
    public static string FieldOf(string? path)
    {
        string field = path is null ? "config" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
        int end = field.IndexOfAny(['.', '[']);
        return end > 0 ? field[..end] : field;
    }

    /// <summary>The value under the reader as compact JSON text (for error messages), consuming it.</summary>
    public static string RawValue(ref Utf8JsonReader reader)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return Compact(document.RootElement);
    }

    /// <summary>A JSON value as compact text, whatever the spacing of the file it came from.</summary>
    public static string Compact(JsonElement value) => JsonSerializer.Serialize(value);

    /// <summary>An integer as the reference's Python writes it: a JSON number without a fractional part (<c>2.0</c> reads as 2).</summary>
    public static int ReadInteger(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out double d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue)
            return (int)d;
        throw new ConfigValueException(RawValue(ref reader), "must be an integer");
    }

    /// <summary>An integer field. A null needs a meaning, so only the fields that give it one (<c>int?</c>) accept it.</summary>
    private sealed class IntegerConverter : JsonConverter<int>
    {
        public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => ReadInteger(ref reader);
        public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
    }

    private sealed class NumberConverter : JsonConverter<double>
    {
        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Number ? reader.GetDouble() : throw new ConfigValueException(RawValue(ref reader), "must be a number");
        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
    }

    private sealed class FlagConverter : JsonConverter<bool>
    {
        public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
        {
            JsonTokenType.True => true,
            JsonTokenType.False => false,
            _ => throw new ConfigValueException(RawValue(ref reader), "must be true or false"),
        };
        public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) => writer.WriteBooleanValue(value);
    }

    private sealed class TextConverter : JsonConverter<string>
    {
        public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new ConfigValueException(RawValue(ref reader), "must be a string");
        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
    }
}

/// <summary>A config value a converter cannot take; the serializer fills in <see cref="JsonException.Path"/>.</summary>
internal sealed class ConfigValueException(string value, string problem) : JsonException(problem)
{
    /// <summary>The offending value as JSON text.</summary>
    public string Value { get; } = value;
    /// <summary>What the value must be.</summary>
    public string Problem { get; } = problem;
}

/// <summary><c>eos_token_id</c>: the reference allows one id or a list (null: none). One id is written back as a number.</summary>
internal sealed class TokenIdsConverter : JsonConverter<int[]>
{
    public override bool HandleNull => true;

    public override int[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return [];
        if (reader.TokenType != JsonTokenType.StartArray) return [JambaConfigJson.ReadInteger(ref reader)];
        using var document = JsonDocument.ParseValue(ref reader);
        var items = document.RootElement.EnumerateArray().ToArray();
        return items.All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _))
            ? items.Select(e => e.GetInt32()).ToArray()
            : throw new ConfigValueException(JambaConfigJson.Compact(document.RootElement), "must be an integer or a list of integers");
    }

    public override void Write(Utf8JsonWriter writer, int[] value, JsonSerializerOptions options)
    {
        if (value.Length == 1) { writer.WriteNumberValue(value[0]); return; }
        writer.WriteStartArray();
        foreach (int id in value) writer.WriteNumberValue(id);
        writer.WriteEndArray();
    }
}

/// <summary><c>mamba_dt_rank</c>: an integer, or <c>"auto"</c> (null here: ceil(hidden_size / 16)), written back as it was.</summary>
internal sealed class DtRankConverter : JsonConverter<int?>
{
    public override bool HandleNull => true;

    public override int? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null || (reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("auto"u8))) return null;
        return JambaConfigJson.ReadInteger(ref reader);
    }

    public override void Write(Utf8JsonWriter writer, int? value, JsonSerializerOptions options)
    {
        if (value is int rank) writer.WriteNumberValue(rank);
        else writer.WriteStringValue("auto");
    }
}

/// <summary><c>num_logits_to_keep</c>: null (the reference's "all positions") reads as 0, which means the same here.</summary>
internal sealed class AllAsZeroConverter : JsonConverter<int>
{
    public override bool HandleNull => true;

    public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? 0 : JambaConfigJson.ReadInteger(ref reader);

    public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
}

/// <summary><c>id2label</c>: an object from integer ids (as strings) to label names, written in id order.</summary>
internal sealed class LabelMapConverter : JsonConverter<Dictionary<int, string>>
{
    public override Dictionary<int, string> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var map = document.RootElement;
        var invalid = () => new ConfigValueException(JambaConfigJson.Compact(map), "must map integer ids to label strings");
        if (map.ValueKind != JsonValueKind.Object) throw invalid();
        var labels = new Dictionary<int, string>();
        foreach (var p in map.EnumerateObject())
        {
            if (!int.TryParse(p.Name, NumberStyles.Integer, CultureInfo.InvariantCulture, out int id) || p.Value.ValueKind != JsonValueKind.String) throw invalid();
            labels[id] = p.Value.GetString()!;
        }
        return labels;
    }

    public override void Write(Utf8JsonWriter writer, Dictionary<int, string> value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var (id, name) in value.OrderBy(p => p.Key)) writer.WriteString(id.ToString(CultureInfo.InvariantCulture), name);
        writer.WriteEndObject();
    }
}

/// <summary><c>architectures</c>: a list of class names.</summary>
internal sealed class NameListConverter : JsonConverter<List<string>>
{
    public override List<string> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var list = document.RootElement;
        if (list.ValueKind != JsonValueKind.Array) throw new ConfigValueException(JambaConfigJson.Compact(list), "must be a list of strings");
        foreach (var item in list.EnumerateArray())
            if (item.ValueKind != JsonValueKind.String) throw new ConfigValueException(JambaConfigJson.Compact(item), "must be a list of strings");
        return list.EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    public override void Write(Utf8JsonWriter writer, List<string> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var name in value) writer.WriteStringValue(name);
        writer.WriteEndArray();
    }
}
