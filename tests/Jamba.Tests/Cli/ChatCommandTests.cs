using System.Text.Json.Nodes;
using Jamba.Tests.Chat.Client;

namespace Jamba.Tests.Cli;

[TestClass]
public sealed class ChatCommandTests
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "chat-templates");

    [TestMethod]
    public void RenderMatchesTransformersOnTheJambaTemplate()
    {
        var spec = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures, "conversations.json")))!;
        var expected = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures, "expected.json")))!["families"]!.AsArray()
            .Single(f => f!["name"]!.GetValue<string>() == "jamba-1.7-mini")!;
        var family = spec["families"]!.AsArray().Single(f => f!["name"]!.GetValue<string>() == "jamba-1.7-mini")!;
        string dir = CliRunner.TempDir();
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), family["special_tokens"]!.ToJsonString());

        var cases = expected["cases"]!.AsArray()
            .Select(c => (Case: c!, Conversation: spec["conversations"]!.AsArray().Single(x => x!["name"]!.GetValue<string>() == c!["conversation"]!.GetValue<string>())!))
            .Where(p => p.Conversation["variables"] is null)
            .ToList();
        Assert.IsGreaterThanOrEqualTo(10, cases.Count);
        var lines = cases.Select(p => new JsonObject
        {
            ["messages"] = p.Conversation["messages"]!.DeepClone(),
            ["tools"] = p.Conversation["tools"]?.DeepClone(),
            ["documents"] = p.Conversation["documents"]?.DeepClone(),
            ["add_generation_prompt"] = p.Conversation["add_generation_prompt"]?.GetValue<bool>() ?? true,
        }.ToJsonString());
        string template = Path.Combine(Fixtures, "templates", family["template"]!.GetValue<string>());
        var r = CliRunner.RunWithInput(string.Join("\n", lines) + "\n", "chat", "--model", dir, "--render", "--chat-template", template);
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var output = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.AreEqual(cases.Count, output.Length, r.Stdout);
        for (int i = 0; i < cases.Count; i++)
        {
            var got = JsonNode.Parse(output[i])!;
            string name = cases[i].Case["conversation"]!.GetValue<string>();
            if (cases[i].Case["expected"] is { } text) Assert.AreEqual(text.GetValue<string>(), got.GetValue<string>(), name);
            else if (cases[i].Case["error"]!.GetValue<string>() == "TemplateError")
                Assert.AreEqual(cases[i].Case["message"]!.GetValue<string>(), got["error"]!.GetValue<string>(), name);
            else Assert.IsNotNull(got["error"], name);
        }
    }

    [TestMethod]
    public void RenderUsesTheCheckpointTemplateAndReportsBadLinesAsErrors()
    {
        string dir = ChatCheckpoint.Create();
        string input = string.Join("\n",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"add_generation_prompt\": true}",
            "{\"messages\": [{\"role\": \"narrator\", \"content\": \"x\"}]}",
            "not json",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}") + "\n";
        var r = CliRunner.RunWithInput(input, "chat", "--model", dir, "--render");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        var output = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.AreEqual(4, output.Length, r.Stdout);
        Assert.AreEqual("<|user|>hi\n<|assistant|>", JsonNode.Parse(output[0])!.GetValue<string>());
        Assert.AreEqual("Unknown role: narrator", JsonNode.Parse(output[1])!["error"]!.GetValue<string>());
        Assert.IsNotNull(JsonNode.Parse(output[2])!["error"]);
        Assert.AreEqual("<|user|>hi\n", JsonNode.Parse(output[3])!.GetValue<string>());
    }

    [TestMethod]
    public void InteractiveChatStreamsAnswersResetsAndExits()
    {
        string dir = ChatCheckpoint.Create();
        var r = CliRunner.RunWithInput("hello\nand again\n/reset\nhi\n/exit\nnever read\n", "chat", "--model", dir, "--system", "be brief", "--max-new-tokens", "4");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        Assert.AreEqual(3, r.Stderr.Split('\n').Count(l => l.Contains("tokens/s decode")), r.Stderr);
        StringAssert.Contains(r.Stderr, "(new conversation)");
        StringAssert.Contains(r.Stderr, "reused", r.Stderr);
        var second = r.Stderr.Split('\n').Where(l => l.Contains("tokens/s decode")).ElementAt(1);
        Assert.IsFalse(second.Contains(" 0 reused"), $"the second turn reuses the first prompt: {second}");
        var third = r.Stderr.Split('\n').Where(l => l.Contains("tokens/s decode")).ElementAt(2);
        StringAssert.Contains(third, " 0 reused", "after /reset the cache starts over");
    }

    [TestMethod]
    public void ChatWithoutATemplateIsOneClearError()
    {
        string dir = ChatCheckpoint.Create();
        File.Delete(Path.Combine(dir, "tokenizer_config.json"));
        var r = CliRunner.RunWithInput("hi\n", "chat", "--model", dir);
        CliRunner.AssertCleanFailure(r, "no chat template");
    }

    [TestMethod]
    public void GenerateTakesUnsetOptionsFromGenerationConfig()
    {
        string dir = ChatCheckpoint.Create();
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), "{\"max_new_tokens\": 3, \"eos_token_id\": 2}");
        int NewIds(params string[] extra)
        {
            var r = CliRunner.Run(new[] { "generate", "--model", dir, "--ids", "5,6,7", "--ignore-eos" }.Concat(extra).ToArray());
            Assert.AreEqual(0, r.ExitCode, r.Stderr);
            return r.Stdout.Trim().Split(',').Length - 3;
        }
        Assert.AreEqual(3, NewIds());
        Assert.AreEqual(5, NewIds("--max-new-tokens", "5"));
    }
}
