using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Jamba.Chat;

/// <summary>
/// Reads tool calls in Jamba's format from generated text: the answer's text, then
/// <c>&lt;tool_calls&gt;[{"name": "...", "arguments": {...}}, ...]&lt;/tool_calls&gt;</c> (as the Jamba 1.5+ chat
/// templates render an assistant message's <c>tool_calls</c>).
/// </summary>
/// <remarks>
/// The rule for text that is not a valid call list: it stays plain text. A model's output is data, not a contract,
/// so a block that is not closed, is not a JSON array, or holds an entry without a string <c>name</c> is returned
/// unchanged as the answer's text and no call is made.
/// </remarks>
public static class ToolCallParser
{
    /// <summary>The opening marker.</summary>
    public const string Prefix = "<tool_calls>";
    /// <summary>The closing marker.</summary>
    public const string Suffix = "</tool_calls>";

    /// <summary>
    /// Splits <paramref name="text"/> into its text before the block and the calls in it. Returns false (the text
    /// unchanged, no calls) when there is no well-formed block.
    /// </summary>
    /// <param name="text">Generated text.</param>
    /// <param name="newCallId">Makes the id of each call (its <c>CallId</c>).</param>
    /// <param name="content">The text before the block, or the whole text.</param>
    /// <param name="calls">The calls, in order; empty when false is returned.</param>
    public static bool TryParse(string text, Func<string> newCallId, out string content, out IReadOnlyList<FunctionCallContent> calls)
    {
        content = text;
        calls = Array.Empty<FunctionCallContent>();
        int start = text.IndexOf(Prefix, StringComparison.Ordinal);
        if (start < 0) return false;
        int end = text.IndexOf(Suffix, start + Prefix.Length, StringComparison.Ordinal);
        if (end < 0) return false;
        string json = text.Substring(start + Prefix.Length, end - start - Prefix.Length);
        var parsed = new List<FunctionCallContent>();
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Array) return false;
            foreach (var entry in doc.RootElement.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Object) return false;
                var call = entry.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object ? function : entry;
                if (!call.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String) return false;
                if (Arguments(call) is not { } arguments) return false;
                parsed.Add(new FunctionCallContent(newCallId(), name.GetString()!, arguments));
            }
        }
        catch (JsonException)
        {
            return false;
        }
        if (parsed.Count == 0) return false;
        content = text[..start].TrimEnd();
        calls = parsed;
        return true;
    }

    /// <summary>The arguments object (an object, or a string holding one, as some templates write them); null when malformed.</summary>
    private static Dictionary<string, object?>? Arguments(JsonElement call)
    {
        if (!call.TryGetProperty("arguments", out var arguments) || arguments.ValueKind == JsonValueKind.Null) return new Dictionary<string, object?>();
        if (arguments.ValueKind == JsonValueKind.String)
        {
            try
            {
                using var inner = JsonDocument.Parse(arguments.GetString()!);
                return inner.RootElement.ValueKind == JsonValueKind.Object ? ToDictionary(inner.RootElement) : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }
        return arguments.ValueKind == JsonValueKind.Object ? ToDictionary(arguments) : null;
    }

    private static Dictionary<string, object?> ToDictionary(JsonElement obj) =>
        obj.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
}
