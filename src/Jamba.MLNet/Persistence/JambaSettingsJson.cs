using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Jamba.MLNet.Persistence;

/// <summary>
/// The settings of a saved Jamba step (column names and options) through System.Text.Json: camelCase names, enums
/// by name, nulls left out. Reading is strict about what must be there, so a damaged manifest names the problem
/// instead of failing later on a missing value.
/// </summary>
internal static class JambaSettingsJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.Strict,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>The settings as the JSON object a manifest step records.</summary>
    /// <exception cref="InvalidOperationException">A value that must be set is null (a column name, say).</exception>
    public static JsonObject Write<T>(T settings)
    {
        try
        {
            return JsonSerializer.SerializeToNode(settings, Options)!.AsObject();
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"the settings of a Jamba step cannot be saved ({e.Message})", e);
        }
    }

    /// <summary>Reads settings written by <see cref="Write"/> for a step of <paramref name="kind"/>.</summary>
    /// <exception cref="InvalidDataException">The settings are missing a value or hold one of the wrong type.</exception>
    public static T Read<T>(JsonObject settings, string kind)
    {
        try
        {
            return settings.Deserialize<T>(Options) ?? throw new JsonException("the settings are null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the saved settings of a Jamba {kind} step cannot be read ({e.Message}): {settings.ToJsonString()}", e);
        }
    }
}
