using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Jamba.Chat.Templates;

/// <summary>
/// Converts caller values to the interpreter's Python-like values: JSON objects and dictionaries become dicts (key
/// order kept), arrays and other sequences lists, JSON numbers ints or floats as written (<c>1</c> vs <c>1.0</c>).
/// </summary>
internal static class TemplateValue
{
    public static object? From(object? value) => value switch
    {
        null => null,
        string or bool or long or double or Undefined or PyTuple or PyDict or Namespace => value,
        int or short or byte or sbyte or ushort or uint => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        ulong u => u <= long.MaxValue ? (object)(long)u : (double)u,
        float or decimal => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        JsonElement element => FromElement(element),
        JsonNode node => FromElement(JsonSerializer.SerializeToElement(node)),
        IDictionary<string, object?> dict => ToDict(dict.Select(kv => (kv.Key, kv.Value))),
        IReadOnlyDictionary<string, object?> dict => ToDict(dict.Select(kv => (kv.Key, kv.Value))),
        IDictionary dict => ToDict(dict.Cast<DictionaryEntry>().Select(e => (Convert.ToString(e.Key, CultureInfo.InvariantCulture)!, e.Value))),
        IEnumerable items => items.Cast<object?>().Select(From).ToList(),
        _ => throw new ArgumentException($"A template value cannot be of type {value.GetType().FullName}; use JSON, dictionaries, lists, strings, numbers, booleans or null."),
    };

    private static PyDict ToDict(IEnumerable<(string Key, object? Value)> pairs)
    {
        var dict = new PyDict();
        foreach (var (key, value) in pairs) dict[key] = From(value);
        return dict;
    }

    private static object? FromElement(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var dict = new PyDict();
                foreach (var property in e.EnumerateObject()) dict[property.Name] = FromElement(property.Value);
                return dict;
            case JsonValueKind.Array: return e.EnumerateArray().Select(FromElement).ToList();
            case JsonValueKind.String: return e.GetString();
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.Number:
                string raw = e.GetRawText();
                // Python's json keeps 3 an int and 3.0 a float; the template can tell them apart when it prints them.
                if (raw.IndexOfAny(['.', 'e', 'E']) < 0 && long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                return double.Parse(raw, CultureInfo.InvariantCulture);
            default: return null;
        }
    }
}
