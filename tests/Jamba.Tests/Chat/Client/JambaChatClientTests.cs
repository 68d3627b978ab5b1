using Jamba.Chat;
using Jamba.Inference;
using Microsoft.Extensions.AI;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests.Chat.Client;

[TestClass]
public sealed class JambaChatClientTests
{
    private static string dir = null!;

    [ClassInitialize]
    public static void MakeCheckpoint(TestContext _) => dir = ChatCheckpoint.Create();

    private static JambaChatClient NewClient() => new(JambaModel.Load(dir), ownsModel: true);

    private static ChatOptions Greedy(int max = 12) => new() { Temperature = 0, MaxOutputTokens = max };

    private static List<ChatMessage> Conversation(params string[] userTurns) =>
        new[] { new ChatMessage(ChatRole.System, "be brief") }.Concat(userTurns.Select(t => new ChatMessage(ChatRole.User, t))).ToList();

    [TestMethod]
    public void LoadFindsTheTemplateAndEncodeChatAddsNoBos()
    {
        using var model = JambaModel.Load(dir);
        Assert.IsNotNull(model.ChatTemplate);
        var ids = model.EncodeChat(new[] { new Dictionary<string, object?> { ["role"] = "user", ["content"] = "hi" } });
        string text = model.RequireTokenizer().Decode(ids, skipSpecialTokens: false);
        Assert.AreEqual("<|user|>hi\n<|assistant|>", text);
        Assert.AreNotEqual(model.RequireTokenizer().BosId, ids[0], "the rendered prompt is encoded without an added BOS");
    }

    [TestMethod]
    public async Task StreamingAndNonStreamingGiveTheSameGreedyText()
    {
        using var client = NewClient();
        var messages = Conversation("tell me about foxes");
        var whole = await client.GetResponseAsync(messages, Greedy());
        var pieces = new List<string>();
        await foreach (var update in client.GetStreamingResponseAsync(messages, Greedy()))
            if (update.Text.Length > 0) pieces.Add(update.Text);
        Assert.IsTrue(whole.Text.Length > 0, "the random model says something");
        Assert.AreEqual(whole.Text, string.Concat(pieces));

        using var fresh = NewClient();
        var again = await fresh.GetResponseAsync(messages, Greedy());
        Assert.AreEqual(whole.Text, again.Text, "a second request of the same prompt (served from the cache) equals a fresh one");
    }

    [TestMethod]
    public async Task ASecondTurnReusesTheCacheAndGivesTheTokensOfAFreshPrefill()
    {
        using var client = NewClient();
        var messages = Conversation("first question");
        var first = await client.GetResponseAsync(messages, Greedy(8));
        int firstPrompt = client.EncodeConversation(messages).Count;
        messages.AddRange(first.Messages);
        messages.Add(new ChatMessage(ChatRole.User, "and a second one"));
        var secondPrompt = client.EncodeConversation(messages);

        var reused = new List<int>(client.Session.Generate(secondPrompt, new GenerationOptions { MaxNewTokens = 16, IgnoreStopTokens = true }));
        Assert.AreEqual(firstPrompt, client.Session.LastReusedTokens, "the whole first prompt came from the cache");
        Assert.AreEqual(secondPrompt.Count - firstPrompt, client.Session.LastPrefilledTokens);

        using var model = JambaModel.Load(dir);
        using var session = new ChatSession(model) { ReuseCache = false };
        var fresh = new List<int>(session.Generate(secondPrompt, new GenerationOptions { MaxNewTokens = 16, IgnoreStopTokens = true }));
        Assert.AreEqual(0, session.LastReusedTokens);
        CollectionAssert.AreEqual(fresh, reused);
    }

    [TestMethod]
    public async Task ADifferentConversationIsPrefilledWhole()
    {
        using var client = NewClient();
        await client.GetResponseAsync(Conversation("one"), Greedy(3));
        await client.GetResponseAsync(Conversation("two"), Greedy(3));
        Assert.AreEqual(0, client.Session.LastReusedTokens);
    }

    [TestMethod]
    public async Task FinishReasonsAndUsage()
    {
        using var client = NewClient();
        var messages = Conversation("count");
        var byLength = await client.GetResponseAsync(messages, Greedy(6));
        Assert.AreEqual(ChatFinishReason.Length, byLength.FinishReason);
        Assert.AreEqual(client.EncodeConversation(messages).Count, byLength.Usage!.InputTokenCount);
        Assert.AreEqual(6, byLength.Usage.OutputTokenCount);
        Assert.AreEqual(byLength.Usage.InputTokenCount + 6, byLength.Usage.TotalTokenCount);

        var longer = await client.GetResponseAsync(messages, Greedy(24));
        string text = longer.Text;
        Assert.IsTrue(text.Length >= 4, $"need a few characters to cut at, got '{text}'");
        string stopAt = text.Substring(text.Length / 2, 2);
        var options = Greedy(24);
        options.StopSequences = new List<string> { stopAt };
        var stopped = await client.GetResponseAsync(messages, options);
        Assert.AreEqual(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.AreEqual(text[..text.IndexOf(stopAt, StringComparison.Ordinal)], stopped.Text, "the text ends before the stop sequence");
    }

    [TestMethod]
    public async Task CancellationStopsTheStreamAndTheClientStaysUsable()
    {
        using var client = NewClient();
        using var cts = new CancellationTokenSource();
        int updates = 0;
        await Assert.ThrowsAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync(Conversation("go on"), Greedy(200), cts.Token))
            {
                updates++;
                cts.Cancel();
            }
        });
        Assert.IsTrue(updates >= 1 && updates < 5, $"updates after cancelling: {updates}");
        var after = await client.GetResponseAsync(Conversation("go on"), Greedy(3));
        Assert.AreEqual(3, after.Usage!.OutputTokenCount);
    }

    [TestMethod]
    public async Task SamplingWithASeedRepeats()
    {
        using var client = NewClient();
        var options = new ChatOptions { Temperature = 1.2f, TopK = 40, TopP = 0.9f, Seed = 5, MaxOutputTokens = 12 };
        var a = await client.GetResponseAsync(Conversation("hello"), options);
        var b = await client.GetResponseAsync(Conversation("hello"), options);
        Assert.AreEqual(a.Text, b.Text);
    }

    [TestMethod]
    public async Task UnsupportedContentAndToolsAreClearErrors()
    {
        using var client = NewClient();
        var image = new ChatMessage(ChatRole.User, new List<AIContent> { new DataContent(new byte[] { 1, 2 }, "image/png") });
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(new[] { image }, Greedy(2)));
        StringAssert.Contains(e.Message, "DataContent");
        StringAssert.Contains(e.Message, "message 0");

        var options = Greedy(2);
        options.Tools = new List<AITool> { new HostedWebSearchTool() };
        var t = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(Conversation("x"), options));
        StringAssert.Contains(t.Message, "AIFunctionDeclaration");

        var badRole = new ChatMessage(new ChatRole("narrator"), "once upon a time");
        var r = await Assert.ThrowsAsync<Jamba.Chat.Templates.TemplateRaisedException>(() => client.GetResponseAsync(new[] { badRole }, Greedy(2)));
        StringAssert.Contains(r.Message, "Unknown role: narrator");
    }

    [TestMethod]
    public void ToolsCallsAndResultsReachTheTemplateInTransformersShape()
    {
        using var client = NewClient();
        var tool = AIFunctionFactory.Create((string city) => "sunny", "weather", "Current weather in a city");
        var messages = new List<ChatMessage>
        {
            new(ChatRole.User, "weather in Paris?"),
            new(ChatRole.Assistant, new List<AIContent> { new FunctionCallContent("call_1", "weather", new Dictionary<string, object?> { ["city"] = "Paris" }) }),
            new(ChatRole.Tool, new List<AIContent> { new FunctionResultContent("call_1", "sunny") }),
        };
        var ids = client.EncodeConversation(messages, new ChatOptions { Tools = new List<AITool> { tool } });
        using var model = JambaModel.Load(dir);
        string text = model.RequireTokenizer().Decode(ids, skipSpecialTokens: false);
        StringAssert.StartsWith(text, "<|tools|>[{\"type\": \"function\", \"function\": {\"name\": \"weather\", \"description\": \"Current weather in a city\", \"parameters\": {");
        StringAssert.Contains(text, "<|assistant|><tool_calls>[{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}]</tool_calls>\n<|tool|>sunny\n<|assistant|>");
    }
}
