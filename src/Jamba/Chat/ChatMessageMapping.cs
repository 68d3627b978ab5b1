using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace Jamba.Chat;

/// <summary>
/// Turns Microsoft.Extensions.AI messages and tools into the JSON a chat template reads, in the shape transformers'
/// <c>apply_chat_template</c> takes: <c>{"role", "content", "name"?, "tool_calls"?}</c> messages, one <c>"tool"</c>
/// message per function result, and <c>{"type": "function", "function": {"name", "description", "parameters"}}</c> tools.
/// </summary>
public static class ChatMessageMapping
{
    /// <summary>The template's <c>messages</c>.</summary>
    /// <exception cref="NotSupportedException">A message holds content the template cannot carry (an image, a file, ...); the message names its index and type.</exception>
    /// <exception cref="ArgumentException">A message has an empty role.</exception>
    public static JsonArray ToTemplateMessages(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var result = new JsonArray();
        int index = 0;
        foreach (var message in messages)
        {
            if (message is null) throw new ArgumentException($"message {index} is null", nameof(messages));
            string role = message.Role.Value;
            if (string.IsNullOrWhiteSpace(role)) throw new ArgumentException($"message {index} has no role", nameof(messages));
            var text = new System.Text.StringBuilder();
            var toolCalls = new JsonArray();
            var results = new List<JsonObject>();
            foreach (var content in message.Contents)
            {
                switch (content)
                {
                    case TextContent t: text.Append(t.Text); break;
                    case TextReasoningContent or UsageContent: break; // not part of what the model reads back
                    case FunctionCallContent call:
                        toolCalls.Add(new JsonObject
                        {
                            ["id"] = call.CallId,
                            ["type"] = "function",
                            ["function"] = new JsonObject
                            {
                                ["name"] = call.Name,
                                ["arguments"] = JsonSerializer.SerializeToNode(call.Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions),
                            },
                        });
                        break;
                    case FunctionResultContent r:
                        results.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = r.CallId, ["content"] = ResultText(r.Result) });
                        break;
                    default:
                        throw new NotSupportedException($"message {index} ({role}) holds {content.GetType().Name}, which a chat template cannot carry: only text, function calls and function results are supported");
                }
            }
            if (text.Length > 0 || toolCalls.Count > 0 || results.Count == 0)
            {
                var m = new JsonObject { ["role"] = role, ["content"] = text.ToString() };
                if (message.AuthorName is { Length: > 0 } name) m["name"] = name;
                if (toolCalls.Count > 0) m["tool_calls"] = toolCalls;
                result.Add(m);
            }
            foreach (var r in results) result.Add(r);
            index++;
        }
        return result;
    }

    /// <summary>The template's <c>tools</c>, or null when there are none.</summary>
    /// <exception cref="NotSupportedException">A tool is not a function declaration; the message names it.</exception>
    public static JsonArray? ToTemplateTools(IEnumerable<AITool>? tools)
    {
        if (tools is null) return null;
        var result = new JsonArray();
        foreach (var tool in tools)
        {
            if (tool is not AIFunctionDeclaration f)
                throw new NotSupportedException($"tool '{tool?.Name}' is a {tool?.GetType().Name}: only functions (AIFunctionDeclaration) can be passed to a chat template");
            result.Add(new JsonObject
            {
                ["type"] = "function",
                ["function"] = new JsonObject
                {
                    ["name"] = f.Name,
                    ["description"] = f.Description,
                    ["parameters"] = JsonNode.Parse(f.JsonSchema.GetRawText()),
                },
            });
        }
        return result.Count == 0 ? null : result;
    }

    private static string ResultText(object? result) => result switch
    {
        null => "",
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString()!,
        _ => JsonSerializer.Serialize(result, AIJsonUtilities.DefaultOptions),
    };
}
