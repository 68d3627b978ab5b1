using System.Text.Json.Nodes;
using Jamba.Chat;
using Jamba.Chat.Templates;

namespace Jamba.Tests.Chat;

/// <summary>Broken templates fail with one <see cref="TemplateException"/>, never with anything else.</summary>
[TestClass]
public sealed class TemplateRobustnessTests
{
    [TestMethod]
    public void EveryPrefixOfTheRealTemplatesParsesOrFailsCleanly()
    {
        var messages = JsonNode.Parse("""[{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]""")!;
        var tokens = new Dictionary<string, object?> { ["bos_token"] = "<s>", ["eos_token"] = "</s>" };
        int parsed = 0, failed = 0;
        foreach (string file in Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "chat-templates", "templates")))
        {
            string source = File.ReadAllText(file);
            for (int length = 0; length <= source.Length; length += 3)
            {
                try
                {
                    new ChatTemplate(source[..length], tokens).Render(messages, addGenerationPrompt: true);
                    parsed++;
                }
                catch (TemplateException e)
                {
                    Assert.IsFalse(string.IsNullOrWhiteSpace(e.Message), $"{Path.GetFileName(file)}[..{length}]");
                    failed++;
                }
            }
        }
        Assert.IsGreaterThan(0, parsed);
        Assert.IsGreaterThan(0, failed);
    }
}
