using System.Text.Json;
using System.Text.Json.Nodes;
using Jamba.Chat;
using Jamba.Chat.Templates;

namespace Jamba.Tests.Chat;

/// <summary>Loading templates as transformers does, the ways messages can be given, and clear errors.</summary>
[TestClass]
public sealed class ChatTemplateTests
{
    private const string Echo = "{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}";
    private static readonly string Templates = Path.Combine(AppContext.BaseDirectory, "Fixtures", "chat-templates", "templates");

    private static readonly JsonArray Conversation = JsonNode.Parse("""[{"role": "user", "content": "Hi"}]""")!.AsArray();

    private static string Config(JsonNode chatTemplate) => new JsonObject
    {
        ["bos_token"] = new JsonObject { ["__type"] = "AddedToken", ["content"] = "<s>" },
        ["eos_token"] = "</s>",
        ["pad_token"] = null,
        ["additional_special_tokens"] = new JsonArray("<a>", "<b>"),
        ["chat_template"] = chatTemplate,
    }.ToJsonString();

    [TestMethod]
    public void ReadsTheTemplateAndSpecialTokensOfTokenizerConfig()
    {
        var template = ChatTemplate.FromTokenizerConfigJson(Config("{{ bos_token }}|{{ eos_token }}|{{ pad_token is defined }}|{{ additional_special_tokens }}|" + Echo));
        Assert.AreEqual("<s>|</s>|False|['<a>', '<b>']|user:Hi;", template.Render(Conversation));
        Assert.AreEqual("X|</s>|False|['<a>', '<b>']|user:Hi;",
            template.Render(Conversation, variables: new Dictionary<string, object?> { ["bos_token"] = "X" }), "explicit variables win over special tokens");
    }

    [TestMethod]
    public void ChoosesToolUseWhenToolsAreGivenAndDefaultOtherwise()
    {
        var list = new JsonArray(
            new JsonObject { ["name"] = "default", ["template"] = "default:" + Echo },
            new JsonObject { ["name"] = "tool_use", ["template"] = "tools:{{ tools|length }}:" + Echo });
        var template = ChatTemplate.FromTokenizerConfigJson(Config(list));
        var tools = JsonNode.Parse("""[{"type": "function", "function": {"name": "f"}}]""");
        Assert.AreEqual("default:user:Hi;", template.Render(Conversation));
        Assert.AreEqual("tools:1:user:Hi;", template.Render(Conversation, tools));
        Assert.AreEqual("default:user:Hi;", template.Render(Conversation, tools, templateName: "default"));
        CollectionAssert.AreEquivalent(new[] { "default", "tool_use" }, template.Names.ToArray());

        var noDefault = ChatTemplate.FromNamed(new Dictionary<string, string> { ["rag"] = Echo });
        StringAssert.Contains(Assert.ThrowsExactly<KeyNotFoundException>(() => noDefault.Render(Conversation)).Message, "rag");
    }

    [TestMethod]
    public void AFolderPrefersChatTemplateJinjaOverTheConfig()
    {
        string dir = Directory.CreateTempSubdirectory("chat-template-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), Config("config:" + Echo));
            Assert.AreEqual("config:user:Hi;", ChatTemplate.FromFolder(dir).Render(Conversation));

            File.WriteAllText(Path.Combine(dir, "chat_template.jinja"), "{{ bos_token }}file:" + Echo + "\n");
            Assert.AreEqual("<s>file:user:Hi;", ChatTemplate.FromFolder(dir).Render(Conversation));

            Directory.CreateDirectory(Path.Combine(dir, "additional_chat_templates"));
            File.WriteAllText(Path.Combine(dir, "additional_chat_templates", "tool_use.jinja"), "extra:" + Echo);
            var both = ChatTemplate.FromFolder(dir);
            Assert.AreEqual("extra:user:Hi;", both.Render(Conversation, tools: new JsonArray()));
            Assert.AreEqual("<s>file:user:Hi;", both.Render(Conversation));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void MessagesMayBeJsonElementsDictionariesOrLists()
    {
        var template = new ChatTemplate(File.ReadAllText(Path.Combine(Templates, "ai21labs-AI21-Jamba-Mini-1.7.jinja")),
            new Dictionary<string, object?> { ["bos_token"] = "<|startoftext|>" });
        const string json = """[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi", "name": "al"}]""";
        string expected = template.Render(JsonNode.Parse(json)!, addGenerationPrompt: true);
        Assert.AreEqual("<|startoftext|><|bom|><|system|> Be brief.<|eom|><|bom|><|user|> (al)Hi<|eom|><|bom|><|assistant|>", expected);

        Assert.AreEqual(expected, template.Render(JsonDocument.Parse(json).RootElement, addGenerationPrompt: true));
        var dictionaries = new List<Dictionary<string, object?>>
        {
            new() { ["role"] = "system", ["content"] = "Be brief." },
            new() { ["role"] = "user", ["content"] = "Hi", ["name"] = "al" },
        };
        Assert.AreEqual(expected, template.Render(dictionaries, addGenerationPrompt: true));
    }

    [TestMethod]
    public void StrftimeNowReadsTheGivenClock()
    {
        var template = new ChatTemplate(File.ReadAllText(Path.Combine(Templates, "meta-llama-Llama-3.2-3B-Instruct.jinja")),
            new Dictionary<string, object?> { ["bos_token"] = "<|begin_of_text|>" });
        string rendered = template.Render(Conversation, now: () => new DateTime(2025, 3, 7, 14, 5, 9));
        StringAssert.Contains(rendered, "Today Date: 07 Mar 2025\n");
        Assert.AreEqual("Fri Friday 3 March 14:05:09 02PM 066 25 % 2025-03-07",
            JinjaTemplate.Parse("{{ strftime_now('%a %A %-m %B %H:%M:%S %I%p %j %y %% %F') }}")
                .Render(new Dictionary<string, object?>(), () => new DateTime(2025, 3, 7, 14, 5, 9)));
    }

    [TestMethod]
    public void ToolsAndDocumentsMustBeObjects()
    {
        var template = new ChatTemplate(Echo);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => template.Render(Conversation, tools: new[] { "get_weather" })).Message, "JSON schema");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => template.Render(Conversation, documents: JsonNode.Parse("[1]"))).Message, "list of dicts");
        Assert.ThrowsExactly<ArgumentException>(() => template.Render(Conversation, variables: new Dictionary<string, object?> { ["messages"] = 1 }));
    }

    [TestMethod]
    public void MalformedTemplatesFailWhenLoadedWithTheLine()
    {
        var syntax = Assert.ThrowsExactly<TemplateSyntaxException>(() => new ChatTemplate("ok\n{% for m in messages %}\n{{ m.content }"));
        Assert.AreEqual(3, syntax.Line, syntax.Message);
        StringAssert.Contains(syntax.Message, "template line 3");

        var filter = Assert.ThrowsExactly<TemplateSyntaxException>(() => new ChatTemplate("a\n\n{{ messages | shout }}"));
        Assert.AreEqual("No filter named 'shout' (template line 3)", filter.Message);

        var tag = Assert.ThrowsExactly<TemplateSyntaxException>(() => new ChatTemplate("{% include 'other.jinja' %}"));
        StringAssert.Contains(tag.Message, "'include' tag is not supported");

        var named = Assert.ThrowsExactly<TemplateSyntaxException>(() => ChatTemplate.FromNamed(new Dictionary<string, string> { ["tool_use"] = "{% endif %}" }));
        StringAssert.Contains(named.Message, "Chat template 'tool_use'");
    }

    [TestMethod]
    public void AMessageWithoutARoleNamesTheMissingKeyAndLine()
    {
        var template = new ChatTemplate("{% for m in messages %}\n{{ m.role + ': ' + m.content }}\n{% endfor %}");
        var error = Assert.ThrowsExactly<TemplateRuntimeException>(() => template.Render(JsonNode.Parse("""[{"content": "no role"}]""")!));
        Assert.AreEqual("'dict object' has no attribute 'role' (template line 2)", error.Message);
    }

    [TestMethod]
    public void RaiseExceptionCarriesTheTemplatesMessage()
    {
        var template = new ChatTemplate("{% if messages[0].role != 'user' %}{{ raise_exception('Conversations must start with a user message!') }}{% endif %}");
        var error = Assert.ThrowsExactly<TemplateRaisedException>(() => template.Render(JsonNode.Parse("""[{"role": "assistant", "content": "x"}]""")!));
        Assert.AreEqual("Conversations must start with a user message!", error.Message);
        Assert.AreEqual(1, error.Line);
        Assert.AreEqual("", template.Render(Conversation));
    }
}
