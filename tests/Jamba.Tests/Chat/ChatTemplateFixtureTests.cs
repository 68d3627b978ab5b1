using System.Text.Json.Nodes;
using Jamba.Chat;
using Jamba.Chat.Templates;

namespace Jamba.Tests.Chat;

/// <summary>
/// Real chat templates (Jamba 1.7 Mini, Llama 3.2, Qwen2.5, Qwen3, Mistral Nemo, Phi-3.5, Hermes 3, Gemma 2) on shared
/// conversations, against transformers' own renderings in Fixtures/chat-templates/expected.json (see PROVENANCE.md there).
/// </summary>
[TestClass]
public sealed class ChatTemplateFixtureTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "chat-templates");
    private static readonly Lazy<JsonObject> Spec = new(() => Load("conversations.json"));
    private static readonly Lazy<JsonObject> Expected = new(() => Load("expected.json"));

    private static JsonObject Load(string file) => JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, file)))!.AsObject();

    public static IEnumerable<object[]> Cases =>
        from family in Expected.Value["families"]!.AsArray()
        from c in family!["cases"]!.AsArray()
        select new object[] { family["name"]!.GetValue<string>(), c!["conversation"]!.GetValue<string>() };

    [TestMethod]
    public void AtLeastThreeFamiliesIncludingJambaRenderTenConversations()
    {
        // Some templates refuse many conversations by design (Gemma 2 has no system role, Hermes' tool_use template
        // needs tools); those are checked too, but the acceptance count is over successful renderings.
        var families = Expected.Value["families"]!.AsArray();
        var rich = families.Where(f => f!["cases"]!.AsArray().Count(c => c!["expected"] is not null) >= 10)
            .Select(f => f!["name"]!.GetValue<string>()).ToList();
        Assert.IsGreaterThanOrEqualTo(3, rich.Count);
        Assert.IsTrue(rich.Any(name => name.StartsWith("jamba", StringComparison.Ordinal)), string.Join(", ", rich));
        Assert.IsTrue(families.Any(f => f!["cases"]!.AsArray().Any(c => c!["error"]?.GetValue<string>() == "TemplateError")));
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void RendersExactlyAsTransformers(string familyName, string conversationName)
    {
        var family = Spec.Value["families"]!.AsArray().Single(f => f!["name"]!.GetValue<string>() == familyName)!;
        var conversation = Spec.Value["conversations"]!.AsArray().Single(c => c!["name"]!.GetValue<string>() == conversationName)!;
        var expected = Expected.Value["families"]!.AsArray().Single(f => f!["name"]!.GetValue<string>() == familyName)!["cases"]!
            .AsArray().Single(c => c!["conversation"]!.GetValue<string>() == conversationName)!;

        string source = File.ReadAllText(Path.Combine(Folder, "templates", family["template"]!.GetValue<string>()));
        var specialTokens = family["special_tokens"]!.AsObject().ToDictionary(kv => kv.Key, kv => (object?)kv.Value!.GetValue<string>());
        var template = new ChatTemplate(source, specialTokens);
        var variables = new Dictionary<string, object?>();
        foreach (var source2 in new[] { family["variables"], conversation["variables"] })
            if (source2 is JsonObject vars)
                foreach (var (key, value) in vars) variables[key] = value?.DeepClone();

        string Render() => template.Render(conversation["messages"]!, conversation["tools"], conversation["documents"],
            conversation["add_generation_prompt"]?.GetValue<bool>() ?? true, variables);

        if (expected["expected"] is { } text)
        {
            Assert.AreEqual(text.GetValue<string>(), Render());
            return;
        }
        string kind = expected["error"]!.GetValue<string>(), message = expected["message"]!.GetValue<string>();
        if (kind == "TemplateError")
        {
            // The template's own raise_exception: same type of failure, same message.
            var raised = Assert.ThrowsExactly<TemplateRaisedException>(Render);
            Assert.AreEqual(message, raised.Message);
            Assert.IsGreaterThan(0, raised.Line);
        }
        else
        {
            var error = Assert.ThrowsExactly<TemplateRuntimeException>(Render);
            if (kind == "UndefinedError") Assert.AreEqual(message, error.Detail);
            StringAssert.Contains(error.Message, "template line", $"jinja2 raised {kind}: {message}");
        }
    }
}
