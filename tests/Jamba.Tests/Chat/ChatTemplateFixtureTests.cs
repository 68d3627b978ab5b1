using System.Text.Json.Nodes;
using Jamba.Chat;
using Jamba.Chat.Templates;

namespace Jamba.Tests.Chat;

/// <summary>
/// Real chat templates (Jamba 1.7 Mini, Llama 3.2, Qwen2.5, Mistral Nemo, Phi-3.5) on shared conversations, against
/// transformers' own renderings in Fixtures/chat-templates/expected.json (see PROVENANCE.md there).
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
    public void EveryFamilyHasAtLeastTenConversationsAndTheExpectedKinds()
    {
        var families = Expected.Value["families"]!.AsArray();
        Assert.IsGreaterThanOrEqualTo(3, families.Count);
        Assert.IsTrue(families.Any(f => f!["name"]!.GetValue<string>().StartsWith("jamba", StringComparison.Ordinal)));
        foreach (var family in families)
        {
            var cases = family!["cases"]!.AsArray();
            Assert.IsGreaterThanOrEqualTo(10, cases.Count(c => c!["expected"] is not null), family["name"]!.ToString());
        }
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
            Assert.AreEqual(message, error.Detail, $"jinja2 raised {kind}");
            StringAssert.Contains(error.Message, "template line");
        }
    }
}
