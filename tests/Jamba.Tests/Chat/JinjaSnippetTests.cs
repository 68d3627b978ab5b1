using System.Text.Json.Nodes;
using Jamba.Chat.Templates;

namespace Jamba.Tests.Chat;

/// <summary>
/// Short templates, each pinning one behaviour (whitespace control, scoping, printing of values, filters, tests,
/// methods, errors), against jinja2 run in transformers' environment (the "snippets" of expected.json).
/// </summary>
[TestClass]
public sealed class JinjaSnippetTests
{
    private static readonly Lazy<JsonArray> Snippets = new(() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "chat-templates", "expected.json")))!["snippets"]!.AsArray());

    public static IEnumerable<object[]> Cases => Enumerable.Range(0, Snippets.Value.Count).Select(i => new object[] { i });

    public static string CaseName(System.Reflection.MethodInfo _, object[] data)
    {
        string source = Snippets.Value[(int)data[0]]!["template"]!.GetValue<string>().Replace("\n", "\\n");
        return $"snippet {data[0]}: {source[..Math.Min(50, source.Length)]}";
    }

    [TestMethod]
    [DynamicData(nameof(Cases), DynamicDataDisplayName = nameof(CaseName))]
    public void RendersAsJinja2(int index)
    {
        var snippet = Snippets.Value[index]!;
        string source = snippet["template"]!.GetValue<string>();
        var variables = snippet["variables"]!.AsObject().ToDictionary(kv => kv.Key, kv => (object?)kv.Value?.DeepClone());
        string Render() => JinjaTemplate.Parse(source).Render(variables);

        if (snippet["expected"] is { } expected)
        {
            Assert.AreEqual(expected.GetValue<string>(), Render(), source);
            return;
        }
        string kind = snippet["error"]!.GetValue<string>(), message = snippet["message"]!.GetValue<string>();
        switch (kind)
        {
            case "TemplateError":
                Assert.AreEqual(message, Assert.ThrowsExactly<TemplateRaisedException>(Render).Message);
                break;
            case "UndefinedError":
                Assert.AreEqual(message, Assert.ThrowsExactly<TemplateRuntimeException>(Render).Detail);
                break;
            case "TemplateSyntaxError" or "TemplateAssertionError" or "SyntaxError":
                var syntax = Assert.ThrowsExactly<TemplateSyntaxException>(Render, source);
                if (kind != "SyntaxError" && snippet["line"] is { } line) Assert.AreEqual(line.GetValue<int>(), syntax.Line, syntax.Message);
                break;
            default:
                // TypeError, SecurityError, ...: a runtime failure in jinja2; here one clear exception with a line
                // (the include tag, which jinja2 fails on only when rendering, is already refused when parsing).
                var error = Assert.Throws<TemplateException>(Render, source);
                Assert.IsGreaterThan(0, error.Line, error.Message);
                break;
        }
    }
}
